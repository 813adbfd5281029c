package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// The tests in this file pin the policy-level differences that
// docs/migrating.md lists for teams coming from sony/gobreaker, failsafe-go
// and resilience4j (the breaker's own are in core/breaker/migration_test.go).
// Each is named after the difference it pins, and the guide names the test.

var migBoom = errors.New("boom")

func migRegistry(t *testing.T, ps ...core.Policy) *core.Registry {
	t.Helper()
	r, err := core.NewRegistry(core.WithPolicies(ps...))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func migGuard(t *testing.T, r *core.Registry, name string, opts ...core.GuardOption) *core.Guard {
	t.Helper()
	g, err := r.Guard(name, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// In a policy, as in breaker.Config, zero means "not set": an explicit 0
// (or "0s") takes the parent's value through extends, else the default. So
// "failureRate": 0 is 50% and "halfOpenProbes": 0 is one probe, and a child
// policy cannot turn off by writing 0 what its parent set.
func TestMigration_PolicyZeroMeansDefault(t *testing.T) {
	var ps []core.Policy
	for _, js := range []string{
		`{"name": "zeros", "match": ["zeros.*"],
		  "breaker": {"failureRate": 0, "halfOpenProbes": 0, "minCalls": 0, "openDuration": "0s"}}`,
		`{"name": "parent", "match": ["parent.*"], "breaker": {"failureRate": 25, "halfOpenProbes": 5}}`,
		`{"name": "child", "extends": "parent", "match": ["child.*"], "breaker": {"failureRate": 0, "halfOpenProbes": 0}}`,
	} {
		var p core.Policy
		if err := json.Unmarshal([]byte(js), &p); err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	r := migRegistry(t, ps...)

	c := migGuard(t, r, "zeros.a").Breaker().Config()
	if c.FailureRate != 50 || c.HalfOpenProbes != 1 || c.MinCalls != 20 || c.OpenDuration != 30*time.Second {
		t.Fatalf("zeros: failureRate %v, halfOpenProbes %d, minCalls %d, openDuration %v; want the defaults 50, 1, 20, 30s",
			c.FailureRate, c.HalfOpenProbes, c.MinCalls, c.OpenDuration)
	}
	c = migGuard(t, r, "child.a").Breaker().Config()
	if c.FailureRate != 25 || c.HalfOpenProbes != 5 {
		t.Fatalf("child: failureRate %v, halfOpenProbes %d; want the parent's 25 and 5", c.FailureRate, c.HalfOpenProbes)
	}

	// A negative value is refused, naming the field.
	_, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "neg", Breaker: &core.BreakerPolicy{HalfOpenProbes: -1}}))
	if err == nil || !strings.Contains(err.Error(), "halfOpenProbes") {
		t.Fatalf("halfOpenProbes -1: %v, want an error naming halfOpenProbes", err)
	}
}

// A bulkhead and a rate limit have no default size: a section without
// maxConcurrent (or limit) is refused, where resilience4j would use 25
// concurrent calls or 50 permits per period.
func TestMigration_BulkheadAndRateLimitHaveNoDefaultSize(t *testing.T) {
	for _, tc := range []struct {
		p     core.Policy
		field string
	}{
		{core.Policy{Name: "b", Bulkhead: &core.BulkheadPolicy{}}, "maxConcurrent"},
		{core.Policy{Name: "r", RateLimit: &core.RateLimitPolicy{}}, "limit"},
	} {
		_, err := core.NewRegistry(core.WithPolicies(tc.p))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("policy %q: %v, want an error naming %s", tc.p.Name, err, tc.field)
		}
	}
}

// A bulkhead makes a caller wait only when it has a queue: maxWait alone
// (maxQueue 0) still rejects at once, where resilience4j's maxWaitDuration
// and failsafe-go's WithMaxWaitTime make callers wait without a bound on
// how many.
func TestMigration_BulkheadWaitsOnlyWithAQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		r := migRegistry(t,
			core.Policy{Name: "noqueue", Match: []string{"noqueue"}, Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1, MaxWait: core.Duration(time.Second)}},
			core.Policy{Name: "queue", Match: []string{"queue"}, Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1, MaxQueue: 1, MaxWait: core.Duration(time.Second)}},
		)
		for _, tc := range []struct {
			guard string
			wait  time.Duration
		}{{"noqueue", 0}, {"queue", time.Second}} {
			g := migGuard(t, r, tc.guard)
			held, err := g.Allow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = g.Allow(ctx)
			if waited := time.Since(start); !errors.Is(err, core.ErrRejected) || waited != tc.wait {
				t.Fatalf("%s: second call %v after %v (fake time); want a rejection after %v", tc.guard, err, waited, tc.wait)
			}
			held.Done(nil)
		}
	})
}

// A guard's rate limit never makes a call wait for a permit: a call over
// the limit is rejected at once, with a Retry-After hint. resilience4j's
// RateLimiter waits up to timeoutDuration (5s by default).
func TestMigration_RateLimitRejectsWithoutWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := migRegistry(t, core.Policy{Name: "api", RateLimit: &core.RateLimitPolicy{Limit: 1, Per: core.Duration(time.Minute), Precise: true}})
		g := migGuard(t, r, "api")
		calls := 0
		call := func(context.Context) error { calls++; return nil }
		if err := g.Do(context.Background(), call); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err := g.Do(context.Background(), call)
		if !errors.Is(err, ratelimit.ErrLimited) || !errors.Is(err, core.ErrRejected) || calls != 1 {
			t.Fatalf("second call: %v after %d calls; want a rate-limit rejection without running", err, calls)
		}
		if waited := time.Since(start); waited != 0 {
			t.Fatalf("the rejected call waited %v (fake time)", waited)
		}
		if d, ok := core.RetryAfter(err); !ok || d <= 0 || d > time.Minute {
			t.Fatalf("RetryAfter = %v, %v; want a hint within the minute", d, ok)
		}
	})
}

// Retries go through the guard's gates again, and a rejection by the
// guard's own breaker, bulkhead or rate limit is never retried: once the
// breaker opens mid-retry, Do stops and returns the rejection, not the
// dependency's last error. A resilience4j Retry or failsafe-go RetryPolicy
// around a circuit breaker retries its open-circuit error unless told not
// to.
func TestMigration_RetryStopsWhenTheBreakerOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := migRegistry(t, core.Policy{Name: "api",
			Breaker: &core.BreakerPolicy{WindowSize: 2, MinCalls: 2, OpenDuration: core.Duration(time.Minute)},
			Retry:   &core.RetryPolicy{MaxAttempts: 5, InitialDelay: core.Duration(10 * time.Millisecond), Jitter: "none"}})
		g := migGuard(t, r, "api")
		calls := 0
		err := g.Do(context.Background(), func(context.Context) error { calls++; return migBoom })
		if calls != 2 || !errors.Is(err, core.ErrRejected) || !errors.Is(err, breaker.ErrOpen) || errors.Is(err, migBoom) {
			t.Fatalf("Do = %v after %d calls; want the breaker's rejection after the 2 calls that opened it", err, calls)
		}
		if s := g.Snapshot(); s.Retries != 2 || s.Breaker.State != breaker.Open {
			t.Fatalf("retries %d, state %v; want 2 retries (the second rejected) and an open breaker", s.Retries, s.Breaker.State)
		}
	})
}

// When every attempt fails, Do returns the last attempt's error itself, not
// a wrapper such as failsafe-go's ExceededError (resilience4j rethrows the
// last exception too).
func TestMigration_RetryReturnsLastErrorUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := migRegistry(t, core.Policy{Name: "api", Retry: &core.RetryPolicy{MaxAttempts: 3}})
		g := migGuard(t, r, "api")
		errs := []error{errors.New("first"), errors.New("second"), errors.New("third")}
		n := 0
		err := g.Do(context.Background(), func(context.Context) error { n++; return errs[n-1] })
		if err != errs[2] || n != 3 {
			t.Fatalf("Do = %#v after %d attempts; want the third attempt's error itself", err, n)
		}
	})
}

// An empty retry section means three attempts in all (two retries) with
// exponential backoff from 100ms, doubled each time, and full jitter (each
// delay drawn from [0, backoff]). failsafe-go's default retries at once;
// resilience4j waits a fixed 500ms.
func TestMigration_EmptyRetrySectionMeansThreeJitteredAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var delays []time.Duration
		r, err := core.NewRegistry(
			core.WithPolicies(core.Policy{Name: "api", Retry: &core.RetryPolicy{}}),
			core.WithHooks(core.Hooks{OnRetry: func(_ context.Context, a core.RetryAttempt) { delays = append(delays, a.Delay) }}),
		)
		if err != nil {
			t.Fatal(err)
		}
		g := migGuard(t, r, "api")
		n := 0
		_ = g.Do(context.Background(), func(context.Context) error { n++; return migBoom })
		if n != 3 || len(delays) != 2 {
			t.Fatalf("%d attempts, %d retries; want 3 and 2", n, len(delays))
		}
		for i, ceiling := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond} {
			if delays[i] < 0 || delays[i] > ceiling {
				t.Fatalf("retry %d waited %v, want within [0, %v]", i+1, delays[i], ceiling)
			}
		}
	})
}

// A call that returns context.Canceled is neither a breaker failure nor
// retried; an attempt that runs out of its policy timeout
// (context.DeadlineExceeded) is a failure like any other error. gobreaker
// and failsafe-go count both as failures by default.
func TestMigration_CanceledIgnoredButTimeoutCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := migRegistry(t, core.Policy{Name: "api",
			Breaker: &core.BreakerPolicy{WindowSize: 2, MinCalls: 2, OpenDuration: core.Duration(time.Minute)},
			Retry:   &core.RetryPolicy{MaxAttempts: 3},
			Timeout: core.Duration(time.Second)})
		g := migGuard(t, r, "api")
		calls := 0
		for range 10 {
			err := g.Do(context.Background(), func(context.Context) error { calls++; return context.Canceled })
			if !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
		}
		s := g.Snapshot()
		if calls != 10 || s.Retries != 0 || s.Breaker.Ignored != 10 || s.Breaker.Failed != 0 || s.Breaker.State != breaker.Closed {
			t.Fatalf("after 10 canceled calls: %d calls, %d retries, %d ignored, %d failed, %v; want 10, 0, 10, 0, closed",
				calls, s.Retries, s.Breaker.Ignored, s.Breaker.Failed, s.Breaker.State)
		}

		// Attempts that outlive the 1s timeout: two failures open the breaker.
		err := g.Do(context.Background(), func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		if !errors.Is(err, core.ErrRejected) {
			t.Fatalf("Do = %v; want the rejection once two timed-out attempts opened the breaker", err)
		}
		if s := g.Snapshot(); s.Breaker.Failed != 2 || s.Breaker.State != breaker.Open {
			t.Fatalf("failed %d, state %v; want 2 failures and an open breaker", s.Breaker.Failed, s.Breaker.State)
		}
	})
}

// The guide's JSON examples load as policies, and the guide and the tests
// name each other: every TestMigration_ test in this file and in
// core/breaker/migration_test.go is named in docs/migrating.md, and every
// test the guide names exists.
func TestMigrationGuide_MatchesTheTests(t *testing.T) {
	guide, err := os.ReadFile(filepath.Join("..", "docs", "migrating.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(guide)

	examples := 0
	for _, block := range strings.Split(doc, "```json\n")[1:] {
		js, _, _ := strings.Cut(block, "```")
		var p core.Policy
		if err := json.Unmarshal([]byte(js), &p); err != nil {
			t.Fatalf("example does not decode: %v\n%s", err, js)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("example is not a valid policy: %v\n%s", err, js)
		}
		examples++
	}
	if examples == 0 {
		t.Fatal("no JSON example found in the guide")
	}

	name := regexp.MustCompile(`TestMigration_[A-Za-z]+`)
	inDoc := map[string]bool{}
	for _, n := range name.FindAllString(doc, -1) {
		inDoc[n] = true
	}
	inCode := map[string]bool{}
	for _, f := range []string{"migration_test.go", filepath.Join("breaker", "migration_test.go")} {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range regexp.MustCompile(`(?m)^func (TestMigration_[A-Za-z]+)\(`).FindAllStringSubmatch(string(src), -1) {
			inCode[m[1]] = true
		}
	}
	for n := range inCode {
		if !inDoc[n] {
			t.Errorf("%s pins a difference docs/migrating.md does not name", n)
		}
	}
	for n := range inDoc {
		if !inCode[n] {
			t.Errorf("docs/migrating.md names %s, which does not exist", n)
		}
	}
}
