package core

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/ratelimit"
)

func TestRateLimitGate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustRegistry(t, WithPolicies(Policy{Name: "api", RateLimit: &RateLimitPolicy{Algorithm: "gcra", Limit: 2, Burst: 2, Precise: true}}))
		g := mustGuard(t, r, "api")
		ok := func() error { return g.Do(bg, func(context.Context) error { return nil }) }
		if ok() != nil || ok() != nil {
			t.Fatal("burst refused")
		}
		err := ok()
		if !errors.Is(err, ratelimit.ErrLimited) || !errors.Is(err, ErrRejected) || ErrorType(err) != "rate_limited" {
			t.Fatalf("third call: %v", err)
		}
		if d, _ := RetryAfter(err); d != 500*time.Millisecond {
			t.Fatalf("retry-after %v, want 500ms", d)
		}
		time.Sleep(500 * time.Millisecond)
		if err := ok(); err != nil {
			t.Fatalf("after the retry-after: %v", err)
		}
		s := g.Snapshot()
		if s.RateLimit == nil || s.Rejected.Limited != 1 || s.Breaker.Admitted != 3 {
			t.Fatalf("snapshot %+v", s)
		}
	})
}

func TestRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var attempts []string
		r := mustRegistry(t,
			WithPolicies(Policy{Name: "api", Retry: &RetryPolicy{MaxAttempts: 4, InitialDelay: Duration(100 * time.Millisecond), Jitter: "none"}}),
			WithHooks(Hooks{OnRetry: func(_ context.Context, a RetryAttempt) {
				attempts = append(attempts, fmt.Sprintf("%s#%d after %v: %v", a.Guard, a.Number, a.Delay, a.Err))
			}}),
		)
		g := mustGuard(t, r, "api")
		n := 0
		start := time.Now()
		v, err := Do(bg, g, func(context.Context) (int, error) {
			n++
			if n < 3 {
				return 0, fmt.Errorf("flake %d", n)
			}
			return 42, nil
		})
		if v != 42 || err != nil || n != 3 {
			t.Fatalf("Do = %v, %v after %d attempts", v, err, n)
		}
		if d := time.Since(start); d != 300*time.Millisecond {
			t.Fatalf("took %v, want 100ms + 200ms of backoff", d)
		}
		want := "[api#2 after 100ms: flake 1 api#3 after 200ms: flake 2]"
		if fmt.Sprint(attempts) != want {
			t.Fatalf("attempts %v\nwant %s", attempts, want)
		}
		if s := g.Snapshot(); s.Retries != 2 || s.Breaker.Admitted != 3 || s.Breaker.Failed != 2 {
			t.Fatalf("snapshot %+v", s)
		}
	})
}

// The guard never retries its own breaker's rejection.
func TestNoRetryOfOwnRejection(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustRegistry(t, WithPolicies(Policy{Name: "api", Breaker: tripping, Retry: &RetryPolicy{MaxAttempts: 5, Jitter: "none"}}))
		g := mustGuard(t, r, "api")
		calls := 0
		err := g.Do(bg, func(context.Context) error { calls++; return boom })
		// Attempt 1 and 2 fail and trip the breaker; attempt 3 is rejected and not retried.
		if !errors.Is(err, breaker.ErrOpen) || calls != 2 {
			t.Fatalf("err %v after %d calls", err, calls)
		}
	})
}

// TestRetryBudgetPreventsStorm: with the dependency failing every call, the
// attempts stay within calls × (1 + ratio) plus the floor, however many
// attempts each call may make.
func TestRetryBudgetPreventsStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustRegistry(t, WithPolicies(Policy{Name: "api",
			Breaker: &BreakerPolicy{Mode: "disabled"},
			Retry: &RetryPolicy{MaxAttempts: 10, InitialDelay: Duration(time.Millisecond), Jitter: "none",
				Budget: &RetryBudgetPolicy{Ratio: 0.1, MinRetriesPerSec: 1, Window: Duration(10 * time.Second)}}}))
		g := mustGuard(t, r, "api")
		var attempts atomic.Int64
		const calls = 500
		for range calls {
			err := g.Do(bg, func(context.Context) error { attempts.Add(1); return boom })
			if !errors.Is(err, boom) {
				t.Fatalf("Do = %v", err)
			}
			time.Sleep(10 * time.Millisecond) // 5s of traffic, inside one budget window
		}
		limit := int64(calls*1.1 + 1*10 + 1)
		if a := attempts.Load(); a > limit {
			t.Fatalf("%d attempts for %d calls, budget allows at most %d", a, calls, limit)
		}
		s := g.Snapshot()
		if s.RetryBudgetExhausted == 0 {
			t.Fatal("the budget never ran out")
		}
		var exhausted error
		_ = g.Do(bg, func(context.Context) error { return boom })
		exhausted = g.Do(bg, func(context.Context) error { return boom })
		if !errors.Is(exhausted, retry.ErrBudgetExhausted) || ErrorType(exhausted) != "retry_budget_exhausted" {
			t.Fatalf("exhausted error: %v (%s)", exhausted, ErrorType(exhausted))
		}
	})
}

func TestTimeouts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := mustRegistry(t, WithPolicies(
			Policy{Name: "attempt", Breaker: &BreakerPolicy{WindowSize: 5, MinCalls: 5}, Timeout: Duration(time.Second)},
			Policy{Name: "total", Timeout: Duration(time.Second), TotalTimeout: Duration(1500 * time.Millisecond),
				Retry: &RetryPolicy{MaxAttempts: 5, InitialDelay: Duration(100 * time.Millisecond), Jitter: "none"}},
		))
		slow := func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		}
		g := mustGuard(t, r, "attempt")
		start := time.Now()
		err := g.Do(bg, slow)
		if err != context.DeadlineExceeded || time.Since(start) != time.Second {
			t.Fatalf("attempt timeout: %v after %v", err, time.Since(start))
		}
		if s := g.Snapshot().Breaker; s.Failed != 1 {
			t.Fatalf("a timed-out attempt must count as a failure: %+v", s)
		}
		g = mustGuard(t, r, "total")
		start = time.Now()
		err = g.Do(bg, slow)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 1500*time.Millisecond {
			t.Fatalf("total timeout: %v after %v", err, time.Since(start))
		}
	})
}

func TestFallbacks(t *testing.T) {
	cache := func(ctx context.Context, c fallback.Cause) (any, error) { return "cached:" + c.Kind.String(), nil }
	broken := func(ctx context.Context, c fallback.Cause) (any, error) { return nil, errors.New("cache down") }
	wrongType := func(ctx context.Context, c fallback.Cause) (any, error) { return 7, nil }
	r := mustRegistry(t,
		WithFallback("cache", cache), WithFallback("broken", broken), WithFallback("wrong", wrongType),
		WithPolicies(
			Policy{Name: "a", Breaker: tripping, Fallbacks: []FallbackRef{{Name: "broken"}, {Name: "cache"}}},
			Policy{Name: "only-rejected", Breaker: tripping, Fallbacks: []FallbackRef{{Name: "cache", On: []string{"rejected"}}}},
			Policy{Name: "all-fail", Fallbacks: []FallbackRef{{Name: "broken"}}},
			Policy{Name: "typed", Fallbacks: []FallbackRef{{Name: "wrong"}}},
		))
	get := func(g *Guard, err error) (string, error) {
		return Do(bg, g, func(context.Context) (string, error) { return "", err })
	}
	a := mustGuard(t, r, "a")
	if v, err := get(a, boom); v != "cached:failed" || err != nil {
		t.Fatalf("fallback after failure: %q %v", v, err)
	}
	_, _ = get(a, boom) // trips
	if v, err := get(a, boom); v != "cached:rejected" || err != nil {
		t.Fatalf("fallback after rejection: %q %v", v, err)
	}
	if s := a.Snapshot(); s.FallbackServed != 3 {
		t.Fatalf("served %d", s.FallbackServed)
	}

	o := mustGuard(t, r, "only-rejected")
	if _, err := get(o, boom); err != boom {
		t.Fatalf("a failure reached a rejection-only fallback: %v", err)
	}
	_, _ = get(o, boom)
	if v, err := get(o, boom); v != "cached:rejected" || err != nil {
		t.Fatalf("%q %v", v, err)
	}

	_, err := get(mustGuard(t, r, "all-fail"), boom)
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "cache down") {
		t.Fatalf("all fallbacks failed: %v", err)
	}
	_, err = get(mustGuard(t, r, "typed"), boom)
	if err == nil || !strings.Contains(err.Error(), "int") || !errors.Is(err, boom) {
		t.Fatalf("wrong fallback type: %v", err)
	}

	_, err = NewRegistry(WithPolicies(Policy{Name: "x", Fallbacks: []FallbackRef{{Name: "nope"}}}))
	if err == nil || !strings.Contains(err.Error(), `no fallback registered as "nope"`) {
		t.Fatalf("unknown fallback at start-up: %v", err)
	}
	if err := r.SetPolicies(Policy{Name: "late", Fallbacks: []FallbackRef{{Name: "nope"}}}); err == nil {
		t.Fatal("SetPolicies accepted an unknown fallback")
	}
	_, err = NewRegistry(WithPolicies(Policy{Name: "x", Fallbacks: []FallbackRef{{Name: "cache", On: []string{"sometimes"}}}}))
	if err == nil || !strings.Contains(err.Error(), "fallbacks[0].on") {
		t.Fatalf("bad kind: %v", err)
	}
}

func TestComposedPolicyValidation(t *testing.T) {
	tests := []struct {
		p    Policy
		want string
	}{
		{Policy{Name: "p", RateLimit: &RateLimitPolicy{Limit: -1}}, `core: policy "p": ratelimit: limit: -1`},
		{Policy{Name: "p", RateLimit: &RateLimitPolicy{Limit: 1, Algorithm: "leaky"}}, `core: policy "p": `},
		{Policy{Name: "p", Retry: &RetryPolicy{MaxAttempts: -1}}, `core: policy "p": retry: maxAttempts: -1`},
		{Policy{Name: "p", Retry: &RetryPolicy{Jitter: "wobbly"}}, `core: policy "p": `},
		{Policy{Name: "p", Retry: &RetryPolicy{Budget: &RetryBudgetPolicy{Window: Duration(-time.Second)}}}, `core: policy "p": `},
		{Policy{Name: "p", Timeout: Duration(-time.Second)}, `core: policy "p": timeout: -1s must not be negative`},
		{Policy{Name: "p", TotalTimeout: Duration(-time.Second)}, `core: policy "p": totalTimeout: -1s`},
		{Policy{Name: "p", Fallbacks: []FallbackRef{{}}}, `core: policy "p": fallbacks[0].name: must not be empty`},
	}
	for _, tt := range tests {
		if err := tt.p.Validate(); err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("Validate() = %v, want prefix %q", err, tt.want)
		}
	}
}

func TestFullGuardDoesNotAllocate(t *testing.T) {
	r := mustRegistry(t, WithPolicies(Policy{Name: "full",
		RateLimit: &RateLimitPolicy{Limit: 1e9, Burst: 1 << 30},
		Bulkhead:  &BulkheadPolicy{MaxConcurrent: 1 << 20},
		Retry:     &RetryPolicy{MaxAttempts: 3, Budget: &RetryBudgetPolicy{}},
	}, Policy{Name: "limited", RateLimit: &RateLimitPolicy{Limit: 1, Per: Duration(time.Hour)}}))
	full := mustGuard(t, r, "full")
	limited := mustGuard(t, r, "limited")
	_ = limited.Do(bg, func(context.Context) error { return nil })
	fn := func(context.Context) (int, error) { return 1, nil }
	if n := testing.AllocsPerRun(1000, func() { _, _ = Do(bg, full, fn) }); n != 0 {
		t.Errorf("full guard: %v allocs", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = limited.Allow(bg) }); n != 0 {
		t.Errorf("rate-limit rejection: %v allocs", n)
	}
}
