package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
)

var (
	bg   = context.Background()
	boom = errors.New("boom")
	ops  = breaker.Manual{Actor: "test", Reason: "testing"}
)

func mustRegistry(t testing.TB, opts ...Option) *Registry {
	t.Helper()
	r, err := NewRegistry(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustGuard(t testing.TB, r *Registry, name string, opts ...GuardOption) *Guard {
	t.Helper()
	g, err := r.Guard(name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// tripping is a breaker policy that opens after two failures.
var tripping = &BreakerPolicy{WindowSize: 2, MinCalls: 2, OpenDuration: Duration(time.Minute)}

func fail(t testing.TB, g *Guard, n int) {
	t.Helper()
	for range n {
		if err := g.Do(bg, func(context.Context) error { return boom }); err != boom {
			t.Fatalf("Do = %v, want boom", err)
		}
	}
}

func TestPolicyJSON(t *testing.T) {
	in := `{"name":"payments","extends":"base","match":["payments.*"],"tags":["stripe"],"critical":true,
		"breaker":{"window":"time","windowDuration":"1m","failureRate":25,"openDuration":"45s","rampSteps":[10,50]},
		"bulkhead":{"maxConcurrent":8,"maxWait":"250ms"}}`
	var p Policy
	if err := json.Unmarshal([]byte(in), &p); err != nil {
		t.Fatal(err)
	}
	if time.Duration(p.Breaker.OpenDuration) != 45*time.Second || time.Duration(p.Bulkhead.MaxWait) != 250*time.Millisecond {
		t.Fatalf("decoded %+v", p)
	}
	out, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `"openDuration":"45s"`) {
		t.Fatalf("encoded %s", out)
	}
	var back Policy
	if err := json.Unmarshal(out, &back); err != nil || back.Breaker.WindowDuration != p.Breaker.WindowDuration {
		t.Fatalf("round trip: %v %+v", err, back)
	}
	err = json.Unmarshal([]byte(`{"name":"x","breaker":{"openDuration":30}}`), &p)
	if err == nil {
		t.Fatal("a number was accepted as a duration")
	}
	err = json.Unmarshal([]byte(`{"name":"x","breaker":{"openDuration":"soon"}}`), &p)
	if err == nil || !strings.Contains(err.Error(), `"soon"`) {
		t.Fatalf("error %v", err)
	}
}

func TestPolicyValidation(t *testing.T) {
	tests := []struct {
		p    Policy
		want string
	}{
		{Policy{}, `core: policy "": name: must not be empty`},
		{Policy{Name: "p", Match: []string{"a["}}, `core: policy "p": match[0]: "a[" is not a valid pattern`},
		{Policy{Name: "p", Breaker: &BreakerPolicy{FailureRate: 150}}, `core: policy "p": breaker: failureRate: 150 must be a percentage in (0, 100]`},
		{Policy{Name: "p", Breaker: &BreakerPolicy{WindowSize: -5}}, `core: policy "p": breaker: windowSize: -5`},
		{Policy{Name: "p", Breaker: &BreakerPolicy{HalfOpenProbes: -1}}, `core: policy "p": breaker: halfOpenProbes: -1`},
		{Policy{Name: "p", Breaker: &BreakerPolicy{Window: "sliding"}}, `core: policy "p": breaker: window: "sliding"`},
		{Policy{Name: "p", Breaker: &BreakerPolicy{Mode: "ajar"}}, `core: policy "p": breaker: mode: "ajar"`},
		{Policy{Name: "p", Bulkhead: &BulkheadPolicy{MaxConcurrent: 0}}, `core: policy "p": bulkhead: maxConcurrent: 0`},
	}
	for _, tt := range tests {
		err := tt.p.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want prefix %q", tt.p, err, tt.want)
		}
		if _, rerr := NewRegistry(WithPolicies(tt.p)); rerr == nil {
			t.Errorf("NewRegistry accepted %+v", tt.p)
		}
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Errorf("%v is not a *PolicyError", err)
		}
	}
	var ce *breaker.ConfigError
	err := Policy{Name: "p", Breaker: &BreakerPolicy{FailureRate: 150}}.Validate()
	if !errors.As(err, &ce) || ce.Field != "failureRate" || ce.Value != 150.0 {
		t.Fatalf("errors.As ConfigError: %v %+v", err, ce)
	}
}

func TestExtends(t *testing.T) {
	base := Policy{Name: "base", Tags: []string{"team-a"}, Breaker: &BreakerPolicy{FailureRate: 30, OpenDuration: Duration(time.Minute)},
		Bulkhead: &BulkheadPolicy{MaxConcurrent: 4}}
	mid := Policy{Name: "mid", Extends: "base", Breaker: &BreakerPolicy{OpenDuration: Duration(10 * time.Second)}}
	leaf := Policy{Name: "leaf", Extends: "mid", Critical: true, Match: []string{"leaf.*"}}
	// Children may come before parents within one call.
	r := mustRegistry(t, WithPolicies(leaf, mid, base))
	p, err := r.Policy("leaf")
	if err != nil {
		t.Fatal(err)
	}
	if p.Breaker.FailureRate != 30 || time.Duration(p.Breaker.OpenDuration) != 10*time.Second || p.Bulkhead.MaxConcurrent != 4 ||
		!p.Critical || p.Tags[0] != "team-a" || p.Extends != "mid" || p.Match[0] != "leaf.*" {
		t.Fatalf("resolved %+v breaker %+v", p, p.Breaker)
	}
	// The parent's sub-policies are not shared with the child.
	if base.Breaker.OpenDuration != Duration(time.Minute) {
		t.Fatal("inheritance modified the parent")
	}

	_, err = NewRegistry(WithPolicies(Policy{Name: "a", Extends: "b"}, Policy{Name: "b", Extends: "a"}))
	if err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle: %v", err)
	}
	_, err = NewRegistry(WithPolicies(Policy{Name: "a", Extends: "nope"}))
	if err == nil || !strings.Contains(err.Error(), `extends: unknown policy "nope"`) {
		t.Fatalf("unknown parent: %v", err)
	}
	// A child whose merged values are impossible is refused.
	_, err = NewRegistry(WithPolicies(Policy{Name: "p", Breaker: &BreakerPolicy{OpenDuration: Duration(time.Minute)}},
		Policy{Name: "c", Extends: "p", Breaker: &BreakerPolicy{MaxOpenDuration: Duration(time.Second)}}))
	if err == nil || !strings.Contains(err.Error(), `policy "c": breaker: maxOpenDuration`) {
		t.Fatalf("merged validation: %v", err)
	}
}

func TestPolicySelection(t *testing.T) {
	r := mustRegistry(t,
		WithPolicies(
			Policy{Name: "exact", Tags: []string{"x"}},
			Policy{Name: "payments", Match: []string{"payments.*"}, Tags: []string{"stripe"}},
			Policy{Name: "catch", Match: []string{"*"}, Tags: []string{"catch"}},
		),
		WithDefaultPolicy(Policy{Name: "fallback", Tags: []string{"default"}}),
	)
	for name, want := range map[string]string{"exact": "exact", "payments.charge": "payments", "inventory": "catch"} {
		if got := mustGuard(t, r, name).Policy().Name; got != want {
			t.Errorf("guard %q got policy %q, want %q", name, got, want)
		}
	}
	if got := mustGuard(t, r, "special", UsePolicy("payments")).Policy().Name; got != "payments" {
		t.Errorf("UsePolicy: %q", got)
	}
	if _, err := r.Guard("other", UsePolicy("missing")); err == nil {
		t.Error("unknown explicit policy accepted")
	}
	r2 := mustRegistry(t, WithDefaultPolicy(Policy{Name: "fallback", Tags: []string{"default"}}))
	if g := mustGuard(t, r2, "any"); g.Policy().Name != "fallback" || !g.HasTag("default") {
		t.Errorf("default policy: %+v", g.Policy())
	}
	r3 := mustRegistry(t)
	if g := mustGuard(t, r3, "any"); g.Policy().Name != DefaultPolicyName || g.Breaker().Config().FailureRate != 50 {
		t.Errorf("built-in default: %+v", g.Policy())
	}
	if err := r3.SetPolicies(Policy{Name: "late", Match: []string{"late.*"}}); err != nil {
		t.Fatal(err)
	}
	if got := mustGuard(t, r3, "late.one").Policy().Name; got != "late" {
		t.Errorf("SetPolicies: %q", got)
	}
	if err := r3.SetPolicies(Policy{Name: "ok"}, Policy{Name: "bad", Breaker: &BreakerPolicy{FailureRate: -1}}); err == nil {
		t.Error("invalid policy accepted")
	}
	if len(r3.Policies()) != 1 {
		t.Errorf("a failed SetPolicies added policies: %v", r3.Policies())
	}
}

func TestPolicyModes(t *testing.T) {
	r := mustRegistry(t, WithPolicies(
		Policy{Name: "off", Breaker: &BreakerPolicy{Mode: "disabled"}},
		Policy{Name: "shadow", Breaker: &BreakerPolicy{Mode: "metrics-only"}},
		Policy{Name: "down", Breaker: &BreakerPolicy{Mode: "forced-open"}},
	))
	for name, want := range map[string]breaker.State{"off": breaker.Disabled, "shadow": breaker.MetricsOnly, "down": breaker.ForcedOpen} {
		g := mustGuard(t, r, name)
		if s := g.Breaker().State(); s != want {
			t.Errorf("%s: %v, want %v", name, s, want)
		}
		if a := g.Snapshot().Breaker.LastTransition.Actor; a != "policy" {
			t.Errorf("%s: actor %q", name, a)
		}
	}
}

func TestGuardGetOrCreate(t *testing.T) {
	r := mustRegistry(t)
	if _, err := r.Guard(""); err == nil {
		t.Fatal("empty name accepted")
	}
	var wg sync.WaitGroup
	got := make([]*Guard, 16)
	for i := range got {
		wg.Go(func() { got[i], _ = r.Guard("same") })
	}
	wg.Wait()
	for _, g := range got {
		if g != got[0] || g == nil {
			t.Fatal("concurrent Guard calls returned different guards")
		}
	}
	if g, ok := r.Lookup("same"); !ok || g != got[0] {
		t.Fatal("Lookup")
	}
	if _, ok := r.Lookup("none"); ok {
		t.Fatal("Lookup created a guard")
	}
	g := mustGuard(t, r, "tagged", WithTags("b", "a", "b"))
	if fmt.Sprint(g.Tags()) != "[a b]" || !g.HasTag("a") || g.HasTag("c") {
		t.Fatalf("tags %v", g.Tags())
	}
	if g.String() != `guard "tagged" (closed)` || g.Name() != "tagged" {
		t.Fatal(g.String())
	}
}

func TestRejectedError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustRegistry(t, WithPolicies(Policy{Name: "pay", Breaker: tripping}))
		g := mustGuard(t, r, "pay")
		fail(t, g, 2)
		ran := false
		_, err := Do(bg, g, func(context.Context) (int, error) { ran = true; return 1, nil })
		if ran {
			t.Fatal("fn ran while the breaker was open")
		}
		if !errors.Is(err, ErrRejected) || !errors.Is(err, breaker.ErrOpen) || errors.Is(err, bulkhead.ErrFull) {
			t.Fatalf("errors.Is: %v", err)
		}
		var re *RejectedError
		if !errors.As(err, &re) || re.Guard != "pay" || re.Reason != breaker.ErrOpen {
			t.Fatalf("errors.As: %+v", re)
		}
		if re.Error() != `breakerbox: guard "pay" rejected the call: breaker: open` || re.ErrorType() != "circuit_open" || ErrorType(err) != "circuit_open" {
			t.Fatalf("%q %q", re.Error(), re.ErrorType())
		}
		time.Sleep(20 * time.Second)
		if d, ok := RetryAfter(fmt.Errorf("wrapped: %w", err)); !ok || d != 40*time.Second {
			t.Fatalf("RetryAfter = %v %v", d, ok)
		}
		if d, ok := RetryAfter(errors.Join(boom, err)); !ok || d != 40*time.Second {
			t.Fatalf("RetryAfter(joined) = %v %v", d, ok)
		}
		if _, ok := RetryAfter(boom); ok {
			t.Fatal("RetryAfter found a hint in a plain error")
		}
		if ErrorType(nil) != "" || ErrorType(boom) != "_OTHER" {
			t.Fatal("ErrorType")
		}
		time.Sleep(40 * time.Second)
		synctest.Wait() // let the open timer's callback run
		if err := g.Do(bg, func(context.Context) error { return nil }); err != nil {
			t.Fatalf("probe after the open duration: %v", err)
		}
		if s := g.Breaker().State(); s != breaker.Closed {
			t.Fatalf("state %v after a successful probe", s)
		}
	})
}

func TestBulkhead(t *testing.T) {
	r := mustRegistry(t, WithPolicies(Policy{Name: "db", Breaker: tripping, Bulkhead: &BulkheadPolicy{MaxConcurrent: 1}}))
	g := mustGuard(t, r, "db")
	p, err := g.Allow(bg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = g.Allow(bg)
	if !errors.Is(err, bulkhead.ErrFull) || !errors.Is(err, ErrRejected) {
		t.Fatalf("second call: %v", err)
	}
	var re *RejectedError
	if !errors.As(err, &re) || re.ErrorType() != "bulkhead_full" {
		t.Fatalf("%+v", re)
	}
	p.Done(nil)
	if _, err := g.Allow(bg); err != nil {
		t.Fatalf("slot not released: %v", err)
	}
	snap := g.Snapshot()
	if snap.Bulkhead == nil || snap.Bulkhead.InUse != 1 || snap.Rejected.Full != 1 || snap.Rejected.Total() != 1 {
		t.Fatalf("snapshot %+v %+v", snap, snap.Bulkhead)
	}
}

func TestBulkheadQueueHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustRegistry(t, WithPolicies(Policy{Name: "db", Bulkhead: &BulkheadPolicy{MaxConcurrent: 1, MaxQueue: 1}}))
		g := mustGuard(t, r, "db")
		p, _ := g.Allow(bg)
		ctx, cancel := context.WithTimeout(bg, time.Second)
		defer cancel()
		_, err := g.Allow(ctx)
		if err != context.DeadlineExceeded {
			t.Fatalf("queued call: %v, want the context's error unchanged", err)
		}
		p.Done(nil)
	})
}

func TestOpenBreakerSkipsBulkheadQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustRegistry(t, WithPolicies(Policy{Name: "db", Breaker: tripping, Bulkhead: &BulkheadPolicy{MaxConcurrent: 1, MaxQueue: 5}}))
		g := mustGuard(t, r, "db")
		fail(t, g, 2)
		held, err := g.Allow(bg) // not admitted: the breaker is open
		if !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("%v", err)
		}
		held.Done(nil)
		// Occupy the only slot by forcing the breaker closed, then reopen it:
		// a rejected call must not wait in the queue.
		g.Disable(ops)
		slot, _ := g.Allow(bg)
		g.ForceOpen(ops)
		start := time.Now()
		if _, err := g.Allow(bg); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("%v", err)
		}
		if time.Since(start) != 0 {
			t.Fatal("a call the breaker rejects waited in the bulkhead queue")
		}
		slot.Done(nil)
	})
}

func TestDoPanicIsRecordedAndRepanics(t *testing.T) {
	r := mustRegistry(t, WithPolicies(Policy{Name: "p", Breaker: tripping}))
	g := mustGuard(t, r, "p")
	for range 2 {
		func() {
			defer func() {
				if v := recover(); v != "kaboom" {
					t.Fatalf("recovered %v", v)
				}
			}()
			_, _ = Do(bg, g, func(context.Context) (int, error) { panic("kaboom") })
		}()
	}
	if s := g.Snapshot().Breaker; s.Failed != 2 || s.State != breaker.Open {
		t.Fatalf("after two panics: %+v", s)
	}
}

func TestDoReturnsValue(t *testing.T) {
	g := mustGuard(t, mustRegistry(t), "v")
	v, err := Do(bg, g, func(ctx context.Context) (string, error) { return "hello", nil })
	if v != "hello" || err != nil {
		t.Fatal(v, err)
	}
	_, err = Do(bg, g, func(ctx context.Context) (string, error) { return "", context.Canceled })
	if err != context.Canceled {
		t.Fatal(err)
	}
	if s := g.Snapshot().Breaker; s.Succeeded != 1 || s.Ignored != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestHooks(t *testing.T) {
	type key struct{}
	var mu sync.Mutex
	var log []string
	add := func(s string) { mu.Lock(); log = append(log, s); mu.Unlock() }
	h1 := Hooks{
		OnStateChange: func(ctx context.Context, e StateChange) {
			add(fmt.Sprintf("h1 state %s %s->%s ctx=%v", e.Guard, e.From, e.To, ctx.Value(key{})))
		},
		OnReject: func(ctx context.Context, r Rejection) { add("h1 reject " + r.Guard + " " + r.Err.ErrorType()) },
		OnDone: func(ctx context.Context, c Completion) {
			add(fmt.Sprintf("h1 done %s %s lat>=0:%v", c.Guard, c.Result, c.Latency >= 0))
			panic("hooks may panic")
		},
	}
	h2 := Hooks{OnReject: func(context.Context, Rejection) { add("h2 reject") }}
	r := mustRegistry(t, WithPolicies(Policy{Name: "p", Breaker: tripping}), WithHooks(h1))
	g := mustGuard(t, r, "p")
	r.AddHooks(h2) // applies to existing guards too
	r.AddHooks(Hooks{})
	ctx := context.WithValue(bg, key{}, "req-1")
	for range 2 {
		_ = g.Do(ctx, func(context.Context) error { return boom })
	}
	_ = g.Do(ctx, func(context.Context) error { return nil })
	want := []string{
		"h1 done p failure lat>=0:true",
		"h1 state p closed->open ctx=req-1",
		"h1 done p failure lat>=0:true",
		"h1 reject p circuit_open",
		"h2 reject",
	}
	if fmt.Sprint(log) != fmt.Sprint(want) {
		t.Fatalf("hook calls:\n%s\nwant:\n%s", strings.Join(log, "\n"), strings.Join(want, "\n"))
	}
}

func TestOperationsBySelector(t *testing.T) {
	r := mustRegistry(t, WithPolicies(
		Policy{Name: "stripe", Match: []string{"stripe.*"}, Tags: []string{"stripe", "payments"}},
		Policy{Name: "adyen", Match: []string{"adyen.*"}, Tags: []string{"payments"}},
	))
	for _, n := range []string{"stripe.charge", "stripe.refund", "adyen.charge", "inventory"} {
		mustGuard(t, r, n)
	}
	ch, err := r.ForceOpen(Tag("stripe"), ops)
	if err != nil || len(ch) != 2 || ch[0].Guard != "stripe.charge" || ch[0].To != breaker.ForcedOpen || ch[0].Actor != "test" {
		t.Fatalf("ForceOpen(tag) = %+v, %v", ch, err)
	}
	states := func() string {
		var b strings.Builder
		for _, s := range r.Snapshot() {
			fmt.Fprintf(&b, "%s=%s ", s.Name, s.Breaker.State)
		}
		return b.String()
	}
	if got := states(); got != "adyen.charge=closed inventory=closed stripe.charge=forced-open stripe.refund=forced-open " {
		t.Fatal(got)
	}
	if _, err := r.Disable(Name("inventory"), ops); err != nil {
		t.Fatal(err)
	}
	if _, err := r.MetricsOnly(Tag("payments"), ops); err != nil {
		t.Fatal(err)
	}
	if got := states(); got != "adyen.charge=metrics-only inventory=disabled stripe.charge=metrics-only stripe.refund=metrics-only " {
		t.Fatal(got)
	}
	if _, err := r.Release(All(), ops); err != nil {
		t.Fatal(err)
	}
	if _, err := r.OpenFor(Name("adyen.charge"), time.Hour, ops); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reset(All(), ops); err != nil {
		t.Fatal(err)
	}
	if got := states(); got != "adyen.charge=closed inventory=closed stripe.charge=closed stripe.refund=closed " {
		t.Fatal(got)
	}
	_, err = r.ForceOpen(Name("nope"), ops)
	if !errors.Is(err, ErrUnknownGuard) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown guard: %v", err)
	}
	if _, ok := r.Lookup("nope"); ok {
		t.Fatal("an operation created a guard")
	}
	if ch, err := r.ForceOpen(Tag("none"), ops); err != nil || len(ch) != 0 {
		t.Fatalf("empty tag: %v %v", ch, err)
	}
	if Name("a").String() != `name "a"` || Tag("b").String() != `tag "b"` || All().String() != "all" {
		t.Fatal("Selector.String")
	}
}

func TestPrune(t *testing.T) {
	r := mustRegistry(t, WithPolicies(Policy{Name: "b", Match: []string{"busy"}, Bulkhead: &BulkheadPolicy{MaxConcurrent: 1}}))
	idle, active, manual, busy := mustGuard(t, r, "idle"), mustGuard(t, r, "active"), mustGuard(t, r, "manual"), mustGuard(t, r, "busy")
	_ = idle
	manual.ForceOpen(ops)
	p, _ := busy.Allow(bg)
	now := time.Now()
	if got := r.PruneAt(now.Add(time.Minute), time.Hour); len(got) != 0 {
		t.Fatalf("pruned too early: %v", got)
	}
	_ = active.Do(bg, func(context.Context) error { return nil })
	got := r.PruneAt(now.Add(2*time.Hour), time.Hour)
	if fmt.Sprint(got) != "[idle]" {
		t.Fatalf("pruned %v, want [idle]", got)
	}
	if _, ok := r.Lookup("idle"); ok {
		t.Fatal("pruned guard still listed")
	}
	got = r.PruneAt(now.Add(4*time.Hour), time.Hour)
	if fmt.Sprint(got) != "[active]" {
		t.Fatalf("pruned %v, want [active]", got)
	}
	p.Done(nil)
	if !idle.Pruned() || !active.Pruned() || busy.Pruned() || manual.Pruned() {
		t.Fatal("Pruned()")
	}
	// Still held, a pruned guard comes back for its name rather than a
	// second one (see TestPruneKeepsLimitsForStaleHandles).
	if g := mustGuard(t, r, "idle"); g != idle || g.Pruned() {
		t.Fatal("a pruned guard that is still held did not come back")
	}
}

func TestSnapshotCounters(t *testing.T) {
	r := mustRegistry(t, WithPolicies(Policy{Name: "p", Tags: []string{"t"}, Critical: true, Breaker: &BreakerPolicy{WindowSize: 3, MinCalls: 3}}))
	g := mustGuard(t, r, "p")
	_ = g.Do(bg, func(context.Context) error { return nil })
	fail(t, g, 2)
	_ = g.Do(bg, func(context.Context) error { return nil })
	s := r.Snapshot()
	if len(s) != 1 {
		t.Fatal(s)
	}
	b := s[0].Breaker
	if s[0].Name != "p" || s[0].Policy != "p" || !s[0].Critical || s[0].Tags[0] != "t" || s[0].Bulkhead != nil ||
		b.Admitted != 3 || b.Succeeded != 1 || b.Failed != 2 || b.Rejected != 1 || s[0].Rejected.Open != 1 || b.Transitions != 1 {
		t.Fatalf("snapshot %+v", s[0])
	}
}

func TestIdleAtIsADryRun(t *testing.T) {
	r := mustRegistry(t)
	mustGuard(t, r, "quiet")
	later := time.Now().Add(2 * time.Hour)
	if got := r.IdleAt(later, time.Hour); fmt.Sprint(got) != "[quiet]" {
		t.Fatalf("IdleAt = %v", got)
	}
	if _, ok := r.Lookup("quiet"); !ok {
		t.Fatal("IdleAt removed a guard")
	}
	if got := r.PruneAt(later, time.Hour); fmt.Sprint(got) != "[quiet]" {
		t.Fatalf("PruneAt = %v", got)
	}
}

func TestRemoveHooks(t *testing.T) {
	r := mustRegistry(t, WithPolicies(Policy{Name: "p", Breaker: &BreakerPolicy{Mode: "forced-open"}}))
	g := mustGuard(t, r, "p")
	n := 0
	remove := r.AddHooks(Hooks{OnReject: func(context.Context, Rejection) { n++ }})
	_, _ = g.Allow(bg)
	remove()
	remove()
	_, _ = g.Allow(bg)
	if n != 1 {
		t.Fatalf("hook ran %d times, want 1", n)
	}
}

func TestReleaseEndsManualOpen(t *testing.T) {
	g := mustGuard(t, mustRegistry(t), "g")
	g.OpenFor(time.Hour, ops)
	if s := g.Snapshot().Breaker; s.State != breaker.Open || !s.Manual {
		t.Fatalf("after OpenFor: %+v", s)
	}
	g.Release(ops)
	if s := g.Snapshot().Breaker; s.State != breaker.Closed || s.Manual {
		t.Fatalf("after Release: %+v", s)
	}
	fail(t, g, 20) // an automatic open is not manual, and Release leaves it alone
	if s := g.Snapshot().Breaker; s.State != breaker.Open || s.Manual {
		t.Fatalf("automatic open: %+v", s)
	}
	if tr := g.Release(ops); tr.From != breaker.Open || tr.To != breaker.Open {
		t.Fatalf("Release on an automatic open: %+v", tr)
	}
}

func TestPolicyForAndComposite(t *testing.T) {
	r := mustRegistry(t, WithPolicies(
		Policy{Name: "pay", Match: []string{"pay.*"}, Retry: &RetryPolicy{}},
		Policy{Name: "exact"},
	))
	for name, want := range map[string]struct {
		policy  string
		matched bool
	}{"pay.x": {"pay", true}, "exact": {"exact", true}, "other": {DefaultPolicyName, false}} {
		p, matched, err := r.PolicyFor(name)
		if err != nil || p.Name != want.policy || matched != want.matched {
			t.Errorf("PolicyFor(%q) = %q %v %v", name, p.Name, matched, err)
		}
	}
	if _, ok := r.Lookup("pay.x"); ok {
		t.Fatal("PolicyFor created a guard")
	}
	if !mustGuard(t, r, "pay.x").Composite() || mustGuard(t, r, "exact").Composite() {
		t.Fatal("Composite")
	}
	if _, matched, _ := r.PolicyFor("exact"); !matched {
		t.Fatal("existing guard")
	}
}

// TestOnDoneSeesTheOutcomeCode pins a bug: Finish with a failing status and
// a nil error was reported to OnDone as a success.
func TestOnDoneSeesTheOutcomeCode(t *testing.T) {
	var got []breaker.Result
	r := mustRegistry(t, WithHooks(Hooks{OnDone: func(_ context.Context, c Completion) { got = append(got, c.Result) }}))
	g := mustGuard(t, r, "http", WithClassifier(func(o breaker.Outcome) breaker.Result {
		if o.HasCode && o.Code >= 500 {
			return breaker.Failure
		}
		return breaker.Success
	}))
	p, _ := g.Allow(bg)
	p.Finish(breaker.Outcome{Code: 503, HasCode: true})
	p, _ = g.Allow(bg)
	p.Finish(breaker.Outcome{Code: 200, HasCode: true})
	if fmt.Sprint(got) != "[failure success]" {
		t.Fatalf("OnDone results %v", got)
	}
}
