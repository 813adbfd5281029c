package core

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// Tests of issue 19's hot reload: Registry.Apply reconfigures the guards
// that exist, keeping what the issue says each change keeps.

func mustApply(t testing.TB, r *Registry, ps ...Policy) ApplyResult {
	t.Helper()
	res, err := r.Apply(Document{Policies: ps})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// report runs n calls through g, failing the first f of them.
func report(t testing.TB, g *Guard, n, f int) {
	t.Helper()
	for i := range n {
		p, err := g.Allow(bg)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if i < f {
			p.Done(boom)
		} else {
			p.Done(nil)
		}
	}
}

func countPolicy(name string, size int, rate float64) Policy {
	return Policy{Name: name, Breaker: &BreakerPolicy{WindowSize: size, MinCalls: size, FailureRate: rate, OpenDuration: Duration(3600e9)}}
}

// Before: Apply changed the policies but every guard kept the policy it was
// built with until it was pruned.
func TestApplyReconfiguresExistingGuards(t *testing.T) {
	r := mustRegistry(t)
	mustApply(t, r, Policy{Name: "api", Timeout: Duration(1e9)})
	g := mustGuard(t, r, "api")
	res := mustApply(t, r, Policy{Name: "api", Timeout: Duration(2e9), Tags: []string{"edge"}, Critical: true})
	if p := g.Policy(); p.Timeout != Duration(2e9) || !g.HasTag("edge") || !g.Critical() {
		t.Fatalf("guard runs %+v (tags %v) after Apply", p, g.Tags())
	}
	if !slices.Equal(res.Reconfigured, []string{"api"}) {
		t.Errorf("Reconfigured = %v", res.Reconfigured)
	}
}

func TestApplyLeavesGuardsWithAnUnchangedPolicyUntouched(t *testing.T) {
	r := mustRegistry(t)
	mustApply(t, r, countPolicy("a", 10, 50), countPolicy("b", 10, 50))
	a, b := mustGuard(t, r, "a"), mustGuard(t, r, "b")
	pa, pb := a.cur.Load(), b.cur.Load()
	res := mustApply(t, r, countPolicy("a", 10, 50), countPolicy("b", 10, 40))
	if a.cur.Load() != pa {
		t.Error("guard a was rebuilt, though its policy did not change")
	}
	if b.cur.Load() == pb {
		t.Error("guard b kept its old parts")
	}
	if !slices.Equal(res.Reconfigured, []string{"b"}) || !slices.Equal(res.Unchanged, []string{"a"}) {
		t.Errorf("result %+v", res)
	}
}

// Changed thresholds, same window shape: counters, window and state kept,
// and the new threshold judges the kept window.
func TestApplyKeepsWindowAndCountersWhenThresholdsChange(t *testing.T) {
	r := mustRegistry(t)
	mustApply(t, r, countPolicy("g", 10, 50))
	g := mustGuard(t, r, "g")
	report(t, g, 8, 4) // 4 failures in 8 calls: closed, as minCalls is 10
	mustApply(t, r, countPolicy("g", 10, 40))
	s := g.Snapshot().Breaker
	if s.State != breaker.Closed || s.WindowCalls != 8 || s.WindowFailures != 4 || s.Admitted != 8 || s.Failed != 4 {
		t.Fatalf("after the reload: %+v", s)
	}
	report(t, g, 2, 0) // 4 failures in 10: 40% trips the new rule, not the old
	if st := g.Breaker().State(); st != breaker.Open {
		t.Fatalf("state %v; want open under the new failure rate", st)
	}
}

// A changed window shape keeps the state and counters; the window restarts.
func TestApplyKeepsStateWhenTheWindowShapeChanges(t *testing.T) {
	r := mustRegistry(t)
	mustApply(t, r, countPolicy("g", 4, 50))
	g := mustGuard(t, r, "g")
	report(t, g, 4, 4)
	if st := g.Breaker().State(); st != breaker.Open {
		t.Fatalf("state %v", st)
	}
	mustApply(t, r, countPolicy("g", 20, 50))
	s := g.Snapshot().Breaker
	if s.State != breaker.Open || s.Failed != 4 || s.Transitions != 1 {
		t.Fatalf("after the reload: %+v", s)
	}
	if c := g.Breaker().Config(); c.WindowSize != 20 {
		t.Errorf("window size %d", c.WindowSize)
	}

	// Closed, with calls in the window: the window restarts empty.
	mustApply(t, r, countPolicy("h", 10, 50))
	h := mustGuard(t, r, "h")
	report(t, h, 6, 2)
	mustApply(t, r, Policy{Name: "h", Breaker: &BreakerPolicy{Window: "time", MinCalls: 10}})
	s = h.Snapshot().Breaker
	if s.State != breaker.Closed || s.WindowCalls != 0 || s.Admitted != 6 || s.Failed != 2 {
		t.Fatalf("after a new window shape: %+v", s)
	}
	report(t, h, 3, 3) // the time window counts from now on
	if s = h.Snapshot().Breaker; s.WindowCalls != 3 || s.WindowFailures != 3 {
		t.Fatalf("time window after the reload: %+v", s)
	}
}

// A bulkhead's limit changes in place: slots held before the reload stay
// counted, and are given back to the bulkhead that lent them.
func TestApplyChangesBulkheadLimitKeepingSlotsHeld(t *testing.T) {
	r := mustRegistry(t)
	mustApply(t, r, Policy{Name: "g", Bulkhead: &BulkheadPolicy{MaxConcurrent: 2}})
	g := mustGuard(t, r, "g")
	bh := g.Bulkhead()
	p1, _ := g.Allow(bg)
	p2, _ := g.Allow(bg)
	mustApply(t, r, Policy{Name: "g", Bulkhead: &BulkheadPolicy{MaxConcurrent: 3}})
	if g.Bulkhead() != bh {
		t.Fatal("the bulkhead was replaced")
	}
	p3, err := g.Allow(bg)
	if err != nil {
		t.Fatalf("third call under the raised limit: %v", err)
	}
	if _, err := g.Allow(bg); !errors.Is(err, ErrRejected) {
		t.Fatalf("fourth call: %v; want full (2 held before the reload + 1)", err)
	}
	for _, p := range []*Permit{&p1, &p2, &p3} {
		p.Done(nil)
	}
	if s := bh.Snapshot(); s.InUse != 0 || s.MaxConcurrent != 3 {
		t.Fatalf("bulkhead after the calls: %+v", s)
	}
}

// A bulkhead the new policy drops still takes back the slots it lent, and
// its rejections stay counted; one it adds starts empty.
func TestApplyRemovesAndAddsABulkhead(t *testing.T) {
	r := mustRegistry(t)
	mustApply(t, r, Policy{Name: "g", Bulkhead: &BulkheadPolicy{MaxConcurrent: 1}})
	g := mustGuard(t, r, "g")
	old := g.Bulkhead()
	held, _ := g.Allow(bg)
	if _, err := g.Allow(bg); !errors.Is(err, ErrRejected) {
		t.Fatal(err)
	}
	mustApply(t, r, Policy{Name: "g"})
	if g.Bulkhead() != nil {
		t.Fatal("bulkhead kept")
	}
	report(t, g, 3, 0) // unlimited now
	held.Done(nil)
	if s := old.Snapshot(); s.InUse != 0 {
		t.Fatalf("old bulkhead holds %d slots", s.InUse)
	}
	if n := g.Snapshot().Rejected.Full; n != 1 {
		t.Fatalf("Rejected.Full = %d after the bulkhead went; want 1", n)
	}
	mustApply(t, r, Policy{Name: "g", Bulkhead: &BulkheadPolicy{MaxConcurrent: 5}})
	if bh := g.Bulkhead(); bh == nil || bh == old || bh.Snapshot().InUse != 0 {
		t.Fatal("no fresh bulkhead")
	}
	if s := g.Snapshot(); s.Rejected.Full != 1 || s.Breaker.Admitted != 4 || s.Breaker.Succeeded != 4 {
		t.Fatalf("counters: %+v", s)
	}
}

// A rate limit's change keeps what was spent.
func TestApplyChangesRateLimitKeepingWhatWasSpent(t *testing.T) {
	r := mustRegistry(t)
	mustApply(t, r, Policy{Name: "g", RateLimit: &RateLimitPolicy{Limit: 3, Per: Duration(3600e9), Precise: true}})
	g := mustGuard(t, r, "g")
	rl := g.RateLimiter()
	report(t, g, 3, 0)
	mustApply(t, r, Policy{Name: "g", RateLimit: &RateLimitPolicy{Limit: 6, Per: Duration(3600e9), Burst: 6, Precise: true}})
	if g.RateLimiter() != rl {
		t.Fatal("rate limiter replaced")
	}
	// The 3 tokens spent stay spent: a reload hands out no fresh burst.
	if _, err := g.Allow(bg); !errors.Is(err, ratelimit.ErrLimited) {
		t.Fatalf("call after the reload: %v; want limited (3 spent, none refilled)", err)
	}
	if s := rl.Snapshot(); s.Allowed != 3 || s.Rejected != 1 {
		t.Fatalf("limiter after the reload: %+v", s)
	}
	// A new algorithm cannot keep the old state: a new limiter, and the
	// rejection stays counted.
	mustApply(t, r, Policy{Name: "g", RateLimit: &RateLimitPolicy{Algorithm: "gcra", Limit: 6, Per: Duration(3600e9), Precise: true}})
	if g.RateLimiter() == rl || g.RateLimiter().Config().Algorithm != ratelimit.AlgorithmGCRA {
		t.Fatal("algorithm not changed")
	}
	if n := g.Snapshot().Rejected.Limited; n != 1 {
		t.Fatalf("Rejected.Limited = %d; want 1", n)
	}
}

func TestApplyKeepsTheGuardsClassifierAndExtraTags(t *testing.T) {
	r := mustRegistry(t)
	mustApply(t, r, countPolicy("g", 2, 50))
	everythingFails := func(breaker.Outcome) breaker.Result { return breaker.Failure }
	g := mustGuard(t, r, "g", WithClassifier(everythingFails), WithTags("mine"))
	mustApply(t, r, Policy{Name: "g", Tags: []string{"theirs"}, Breaker: &BreakerPolicy{WindowSize: 2, MinCalls: 2, FailureRate: 100}})
	report(t, g, 2, 0) // successes to the default classifier, failures to ours
	if st := g.Breaker().State(); st != breaker.Open {
		t.Fatalf("state %v: the classifier was lost", st)
	}
	if !slices.Equal(g.Tags(), []string{"mine", "theirs"}) {
		t.Fatalf("tags %v", g.Tags())
	}
}

// A guard made with UsePolicy follows that name; when the document drops
// the policy, the guard keeps the one it had and Apply says so.
func TestApplyKeepsAnExplicitPolicyThatVanished(t *testing.T) {
	r := mustRegistry(t)
	mustApply(t, r, Policy{Name: "special", Timeout: Duration(1e9)}, Policy{Name: "g", Timeout: Duration(5e9)})
	g := mustGuard(t, r, "g", UsePolicy("special"))
	mustApply(t, r, Policy{Name: "special", Timeout: Duration(2e9)}, Policy{Name: "g", Timeout: Duration(5e9)})
	if d := g.Policy().Timeout; d != Duration(2e9) {
		t.Fatalf("timeout %v; want the new special's", d)
	}
	res := mustApply(t, r, Policy{Name: "g", Timeout: Duration(7e9)})
	if !slices.Equal(res.Orphaned, []string{"g"}) {
		t.Fatalf("Orphaned = %v", res.Orphaned)
	}
	if p := g.Policy(); p.Name != "special" || p.Timeout != Duration(2e9) {
		t.Fatalf("guard runs %+v", p)
	}
}

// A guard whose name matched nothing follows the document's Match patterns
// and default.
func TestApplyMovesGuardsToTheirNewMatch(t *testing.T) {
	r := mustRegistry(t)
	g := mustGuard(t, r, "payments.charge")
	mustApply(t, r, Policy{Name: "pay", Match: []string{"payments.*"}, Retry: &RetryPolicy{MaxAttempts: 2}})
	if p := g.Policy(); p.Name != "pay" || !g.Composite() {
		t.Fatalf("guard runs %+v", p)
	}
	mustApply(t, r, Policy{Name: DefaultPolicyName, Timeout: Duration(1e9)})
	if p := g.Policy(); p.Name != DefaultPolicyName || p.Timeout != Duration(1e9) {
		t.Fatalf("guard runs %+v", p)
	}
}

func TestApplySetsAndClearsThePolicyMode(t *testing.T) {
	r := mustRegistry(t)
	mustApply(t, r, Policy{Name: "g"})
	g := mustGuard(t, r, "g")
	mustApply(t, r, Policy{Name: "g", Breaker: &BreakerPolicy{Mode: "forced-open"}})
	if st := g.Breaker().State(); st != breaker.ForcedOpen {
		t.Fatalf("state %v", st)
	}
	mustApply(t, r, Policy{Name: "g", Breaker: &BreakerPolicy{Mode: "auto"}})
	if st := g.Breaker().State(); st != breaker.Closed {
		t.Fatalf("state %v after the mode went back to auto", st)
	}
}

// Calls admitted before a reload report to the breaker generation and
// bulkhead that admitted them; a half-open breaker's probe in flight keeps
// its slot under a lowered probe limit.
func TestApplyKeepsProbesInFlight(t *testing.T) {
	r := mustRegistry(t)
	pol := func(probes int) Policy {
		return Policy{Name: "g", Breaker: &BreakerPolicy{WindowSize: 1, MinCalls: 1, HalfOpenProbes: probes, SuccessThreshold: 2, OpenDuration: Duration(time.Second)}}
	}
	mustApply(t, r, pol(2))
	g := mustGuard(t, r, "g")
	b := g.Breaker()
	t0 := time.Now()
	p, _ := b.AllowAt(bg, t0)
	p.DoneAt(t0, boom) // open for a second, on the explicit clock
	var ps []breaker.Permit
	for range 2 {
		p, err := b.AllowAt(bg, t0.Add(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	mustApply(t, r, pol(1))
	if _, err := b.AllowAt(bg, t0.Add(2*time.Second)); err == nil {
		t.Fatal("a third probe was admitted with two in flight and a limit of one")
	}
	for i := range ps {
		ps[i].DoneAt(t0.Add(2*time.Second), nil)
	}
	if st := b.State(); st != breaker.Closed {
		t.Fatalf("state %v after the probes succeeded", st)
	}
}

// Issue 19: a child policy was validated on its own before being merged,
// so a child that set only maxQueue of its parent's bulkhead was refused.
func TestChildPolicyIsValidatedMergedWithItsParent(t *testing.T) {
	parent := Policy{Name: "parent", Bulkhead: &BulkheadPolicy{MaxConcurrent: 4}, RateLimit: &RateLimitPolicy{Limit: 10}}
	child := Policy{Name: "child", Extends: "parent", Bulkhead: &BulkheadPolicy{MaxQueue: 5}, RateLimit: &RateLimitPolicy{Burst: 3}}
	r := mustRegistry(t, WithPolicies(child, parent))
	p, err := r.Policy("child")
	if err != nil {
		t.Fatal(err)
	}
	if p.Bulkhead.MaxConcurrent != 4 || p.Bulkhead.MaxQueue != 5 || p.RateLimit.Limit != 10 || p.RateLimit.Burst != 3 {
		t.Fatalf("resolved %+v %+v", *p.Bulkhead, *p.RateLimit)
	}
	if err := r.Check(Document{Policies: []Policy{parent, child}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseDocument([]byte(`{"policies":[{"name":"child","extends":"parent","bulkhead":{"maxQueue":5}},{"name":"parent","bulkhead":{"maxConcurrent":4}}]}`)); err != nil {
		t.Fatal(err)
	}
	// A child still may not leave out what no parent supplies.
	orphan := Policy{Name: "orphan", Bulkhead: &BulkheadPolicy{MaxQueue: 5}}
	if err := r.SetPolicies(orphan); err == nil || !strings.Contains(err.Error(), "maxConcurrent") {
		t.Fatalf("orphan: %v", err)
	}
}

// Issue 19: extends "preset:<name>" resolves to a built-in preset unless
// the document has a policy of that exact name.
func TestExtendsPreset(t *testing.T) {
	r := mustRegistry(t)
	mustApply(t, r, Policy{Name: "api", Extends: "preset:postgres", Bulkhead: &BulkheadPolicy{MaxQueue: 2}})
	p, err := r.Policy("api")
	if err != nil {
		t.Fatal(err)
	}
	if p.Timeout != Duration(5e9) || p.Bulkhead.MaxConcurrent != 20 || p.Bulkhead.MaxQueue != 2 || p.Extends != "preset:postgres" {
		t.Fatalf("resolved %+v", p)
	}
	// A policy of the document named like the preset wins.
	mustApply(t, r, Policy{Name: "api", Extends: "preset:postgres"}, Policy{Name: "preset:postgres", Timeout: Duration(9e9)})
	if p, _ := r.Policy("api"); p.Timeout != Duration(9e9) {
		t.Fatalf("resolved %+v", p)
	}
	_, err = r.Apply(Document{Policies: []Policy{{Name: "api", Extends: "preset:nope"}}})
	var de *DocumentError
	if !errors.As(err, &de) || len(de.Problems) != 1 {
		t.Fatalf("unknown preset: %v", err)
	}
	if pr := de.Problems[0]; pr.Path != "policies[0].extends" || !strings.Contains(pr.Message, `unknown preset "nope"`) || !strings.Contains(pr.Message, "preset:postgres") {
		t.Fatalf("problem %+v", pr)
	}
}
