package benchmarks

import (
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// TestBreakerboxScenariosDoNotAllocate holds the breakerbox side of every
// benchmark scenario to zero allocations, so that `go test` (and CI) catches
// a regression without running the benchmarks.
func TestBreakerboxScenariosDoNotAllocate(t *testing.T) {
	closed := bbBreaker(t)
	open := bbOpenBreaker(t)
	closedGuard := bbGuard(t, false)
	openGuard := bbOpenGuard(t)
	guard := bbGuard(t, true)
	full := bbFullGuard(t)
	bh := bbBulkhead(t)
	tb := bbTokenBucket(t, false)
	tbPrecise := bbTokenBucket(t, true)
	gcra := bbGCRA(t)
	keys := tenantKeys()
	keyed := bbKeyed(t, keys)
	key := 0
	hedged := bbHedgedGuard(t)
	cached := bbCachedGuard(t, time.Hour)

	tests := []struct {
		name string
		f    func()
	}{
		{"Closed", func() {
			p, err := closed.Allow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p.Done(nil)
		}},
		{"ClosedGuard", func() {
			if _, err := core.Do(ctx, closedGuard, okCtx); err != nil {
				t.Fatal(err)
			}
		}},
		{"Open", func() {
			if _, err := open.Allow(ctx); err == nil {
				t.Fatal("open breaker admitted a call")
			}
		}},
		{"OpenGuard", func() {
			if _, err := core.Do(ctx, openGuard, okCtx); err == nil {
				t.Fatal("open guard admitted a call")
			}
		}},
		{"HedgedGuard", func() {
			if _, err := core.Do(ctx, hedged, okCtx); err != nil {
				t.Fatal(err)
			}
		}},
		{"CachedGuard", func() {
			if _, err := core.Do(cacheCtx, cached, okCtx); err != nil {
				t.Fatal(err)
			}
		}},
		{"GuardDo", func() {
			if _, err := core.Do(ctx, guard, okCtx); err != nil {
				t.Fatal(err)
			}
		}},
		{"FullGuard", func() {
			if _, err := core.Do(ctx, full, okCtx); err != nil {
				t.Fatal(err)
			}
		}},
		{"Bulkhead", func() {
			if err := bh.Acquire(ctx); err != nil {
				t.Fatal(err)
			}
			bh.Release()
		}},
		{"Bulkhead/try", func() {
			if !bh.TryAcquire() {
				t.Fatal("TryAcquire = false")
			}
			bh.Release()
		}},
		{"RateLimit/tokenbucket", func() {
			if !tb.Allow() {
				t.Fatal("token bucket rejected a call")
			}
		}},
		{"RateLimit/tokenbucket-precise", func() {
			if !tbPrecise.Allow() {
				t.Fatal("token bucket rejected a call")
			}
		}},
		{"RateLimit/gcra", func() {
			if !gcra.Allow() {
				t.Fatal("GCRA rejected a call")
			}
		}},
		{"KeyedRateLimit", func() {
			if !keyed.Allow(keys[key&(numKeys-1)]) {
				t.Fatal("keyed limiter rejected a call")
			}
			key++
		}},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(1000, tt.f); n != 0 {
			t.Errorf("%s: %v allocations per call; want 0", tt.name, n)
		}
	}
}

// TestHedgedGuardIdempotentAllocatesOnce holds the HedgedGuard scenario's
// breakerbox-idempotent side (core.DoIdempotent, no hedge fired) to its one
// allocation, the hedged call's state: it was six (a call struct, a
// context.WithCancel, a timer and core's closures).
func TestHedgedGuardIdempotentAllocatesOnce(t *testing.T) {
	hedged := bbHedgedGuard(t)
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := core.DoIdempotent(ctx, hedged, okCtx); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("DoIdempotent through a hedged guard: %v allocations per call; want at most 1", n)
	}
}
