package core

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// waitCtx sleeps d or until ctx ends.
func waitCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// slowThenFast answers its first call after a second and later ones after a
// millisecond, counting calls.
func slowThenFast(n *atomic.Int32) func(context.Context) (int, error) {
	return func(ctx context.Context) (int, error) {
		i := n.Add(1)
		d := time.Millisecond
		if i == 1 {
			d = time.Second
		}
		return int(i), waitCtx(ctx, d)
	}
}

func hedgePolicy(name string) Policy {
	return Policy{Name: name, Hedge: &HedgePolicy{Delay: Duration(10 * time.Millisecond)}}
}

func TestGuardHedgesOnlyDoIdempotentCalls(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events atomic.Int32
		r := mustRegistry(t, WithPolicies(hedgePolicy("h")), WithHooks(Hooks{OnHedge: func(_ context.Context, e HedgeEvent) {
			if e.Guard == "h" && e.N == 1 && e.Delay == 10*time.Millisecond {
				events.Add(1)
			}
		}}))
		g := mustGuard(t, r, "h")
		var n atomic.Int32
		start := time.Now()
		if v, err := Do(bg, g, slowThenFast(&n)); v != 1 || err != nil || n.Load() != 1 {
			t.Fatalf("unmarked call: %d, %v after %d attempts; want the first attempt's answer, alone", v, err, n.Load())
		}
		if took := time.Since(start); took != time.Second {
			t.Errorf("unmarked call took %v", took)
		}
		n.Store(0)
		start = time.Now()
		v, err := DoIdempotent(bg, g, slowThenFast(&n))
		if v != 2 || err != nil {
			t.Fatalf("idempotent call: %d, %v; want the hedge's answer", v, err)
		}
		if took := time.Since(start); took != 11*time.Millisecond {
			t.Errorf("idempotent call took %v; want the delay plus the hedge's 1ms", took)
		}
		synctest.Wait()
		s := g.Snapshot()
		if s.Hedge == nil || s.Hedge.Started != 1 || s.Hedge.Won != 1 || s.Hedge.Cancelled != 1 || events.Load() != 1 {
			t.Fatalf("snapshot %+v, %d hook events; want one hedge started, won and one loser cancelled", s.Hedge, events.Load())
		}
		// The cancelled loser is ignored by the breaker, the two answers
		// count as successes.
		if s.Breaker.Succeeded != 2 || s.Breaker.Failed != 0 {
			t.Errorf("breaker counted %d successes, %d failures; want 2 and 0", s.Breaker.Succeeded, s.Breaker.Failed)
		}
	})
}

func TestGuardHedgesStopWhileBreakerNotClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := hedgePolicy("h")
		p.Breaker = &BreakerPolicy{ConsecutiveFailures: 1, OpenDuration: Duration(time.Second), ProbeTimeout: Duration(time.Minute)}
		g := mustGuard(t, mustRegistry(t, WithPolicies(p)), "h")
		if _, err := Do(bg, g, func(context.Context) (int, error) { return 0, boom }); !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if st := g.Breaker().State(); st != breaker.Open {
			t.Fatalf("breaker %v; want open", st)
		}
		time.Sleep(time.Second + time.Millisecond)
		// The probe of the half-open breaker is slow; no hedge may start.
		var n atomic.Int32
		if v, err := DoIdempotent(bg, g, slowThenFast(&n)); v != 1 || err != nil || n.Load() != 1 {
			t.Fatalf("probe: %d, %v after %d attempts; want one attempt", v, err, n.Load())
		}
		s := g.Snapshot().Hedge
		if s.Started != 0 || s.GateStopped != 1 {
			t.Fatalf("hedge stats %+v; want none started, one stopped by the gate", s)
		}
		// Closed again: hedges resume.
		n.Store(0)
		if v, err := DoIdempotent(bg, g, slowThenFast(&n)); v != 2 {
			t.Fatalf("closed: answer %d, %v; want the hedge's", v, err)
		}
	})
}

func TestGuardHedgesStopWhenRetryBudgetSpent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := hedgePolicy("h")
		p.Retry = &RetryPolicy{MaxAttempts: 1, Budget: &RetryBudgetPolicy{Ratio: 0.1, MinRetriesPerSec: -1}}
		g := mustGuard(t, mustRegistry(t, WithPolicies(p)), "h")
		slow := func(ctx context.Context) (int, error) { return 1, waitCtx(ctx, 20*time.Millisecond) }
		for range 100 {
			if _, err := DoIdempotent(bg, g, slow); err != nil {
				t.Fatal(err)
			}
		}
		s := g.Snapshot().Hedge
		if s.Started > 10 || s.Started < 9 || s.BudgetStopped < 90 {
			t.Fatalf("hedge stats %+v; want about 10 hedges (a tenth of 100 calls), the rest stopped by the budget", s)
		}
	})
}

func TestGuardDoOnHedgedGuardDoesNotAllocate(t *testing.T) {
	g := mustGuard(t, mustRegistry(t, WithPolicies(hedgePolicy("h"))), "h")
	fn := func(context.Context) (int, error) { return 1, nil }
	if n := testing.AllocsPerRun(1000, func() { _, _ = Do(bg, g, fn) }); n != 0 {
		t.Errorf("%v allocs per call; want 0", n)
	}
}

func TestPolicyRefusesBadHedgeAndCacheSectionsNamingTheField(t *testing.T) {
	for _, tc := range []struct {
		json, want string
	}{
		{`{"name":"p","hedge":{"delay":"0s"}}`, `hedge: delay: 0s must be above 0`},
		{`{"name":"p","hedge":{"delay":"-5ms"}}`, `hedge: delay: -5ms must be above 0`},
		{`{"name":"p","hedge":{"delay":"5ms","maxHedges":11}}`, `hedge: maxHedges: 11 must be between 1 and 10`},
		{`{"name":"p","hedge":{"delay":"5ms","percentile":120}}`, `hedge: percentile: 120`},
		{`{"name":"p","hedge":{"delay":"5ms","maxHedges":2},"retry":{"budget":{"ratio":-1}}}`, `hedge: maxHedges: 2 hedges per call are more than the budget allows`},
		{`{"name":"p","cache":{"maxStaleness":"1m","maxEntries":0}}`, `cache: maxEntries: 0 must be at least 1`},
		{`{"name":"p","cache":{"maxStaleness":"-1s","maxEntries":10}}`, `cache: maxStaleness: -1s must be above 0`},
		{`{"name":"p","cache":{"maxStaleness":"1m","maxEntries":10,"maxBytes":-1}}`, `cache: maxBytes: -1 must not be negative`},
		{`{"name":"p","hedge":{"delay":"5x"}}`, `hedge.delay: "5x" is not a duration`},
	} {
		var p Policy
		err := json.Unmarshal([]byte(tc.json), &p)
		if err == nil {
			err = p.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `policy "p"`) {
			t.Errorf("%s: %v; want %q", tc.json, err, tc.want)
		}
	}
	ok := Policy{Name: "p", Hedge: &HedgePolicy{Delay: Duration(time.Millisecond), Percentile: 95, MaxHedges: 2}, Cache: &CachePolicy{MaxStaleness: Duration(time.Minute), MaxEntries: 10}}
	if err := ok.Validate(); err != nil {
		t.Errorf("a good policy is refused: %v", err)
	}
}

// TestGuardHedgingCutsTheTail runs a dependency whose latency has a long
// tail (1.2% of calls take a second, the rest about 10ms) through a guard
// that hedges at its live p95: the p99 falls to at most the hedge delay
// plus the median, and the extra load stays within the budget's share.
func TestGuardHedgingCutsTheTail(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := Policy{Name: "h", Hedge: &HedgePolicy{Delay: Duration(5 * time.Millisecond), Percentile: 95},
			Retry: &RetryPolicy{MaxAttempts: 1, Budget: &RetryBudgetPolicy{Ratio: 0.2, MinRetriesPerSec: -1}}}
		g := mustGuard(t, mustRegistry(t, WithPolicies(p)), "h")
		rng := rand.New(rand.NewPCG(22, 8))
		var mu sync.Mutex
		var attempts atomic.Int64
		dep := func(ctx context.Context) (int, error) {
			attempts.Add(1)
			mu.Lock()
			d := time.Duration(float64(10*time.Millisecond) * math.Exp(0.2*rng.NormFloat64()))
			if rng.Float64() < 0.012 {
				d = time.Second
			}
			mu.Unlock()
			return 1, waitCtx(ctx, d)
		}
		const n = 2000
		lat := make([]time.Duration, 0, n)
		for range n {
			start := time.Now()
			if _, err := DoIdempotent(bg, g, dep); err != nil {
				t.Fatal(err)
			}
			lat = append(lat, time.Since(start))
		}
		slices.Sort(lat)
		median, p99 := lat[n/2-1], lat[n*99/100-1]
		s := g.Snapshot().Hedge
		t.Logf("median %v, p99 %v, delay %v, %+v", median, p99, s.Delay, s)
		if p99 > s.Delay+median {
			t.Errorf("p99 %v is above the hedge delay %v plus the median %v", p99, s.Delay, median)
		}
		if extra := float64(attempts.Load()-n) / n; extra > 0.2 {
			t.Errorf("hedges added %.1f%% load, above the budget's 20%%", 100*extra)
		}
	})
}
