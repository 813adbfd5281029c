package benchmarks

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/cachepolicy"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/hedgepolicy"
)

// HedgedGuard: a successful call through a guard whose policy hedges, the
// hedge delay (an hour) never reached, so no hedge fires:
//
//   - breakerbox-plain: core.Do through a guard without hedging (the
//     ClosedGuard scenario), the baseline;
//   - breakerbox-do: core.Do through the hedging guard (Do never hedges:
//     the admitted path of a hedging guard);
//   - breakerbox-idempotent: core.DoIdempotent through it (the hedge armed,
//     then disarmed);
//   - failsafe: Executor.Get with a hedge policy of the same delay and a
//     circuit breaker (the executor built once).
//
// CachedGuard: a call answered from a cache, the value fresh:
//
//   - breakerbox: core.Do through a guard with a cache section whose TTL
//     (an hour) makes the value fresh, the key given with core.CacheKey on
//     a context built once;
//   - breakerbox-fill: the same without a TTL, so every call runs and keeps
//     its value (stale-if-error only);
//   - failsafe: Executor.Get with a cache policy over a sync.Map and a
//     circuit breaker, the key given on the executor's context.

const hedgeDelay = time.Hour

func bbHedgedGuard(tb testing.TB) *core.Guard {
	tb.Helper()
	reg, err := core.NewRegistry(core.WithDefaultPolicy(core.Policy{Name: "bench",
		Hedge: &core.HedgePolicy{Delay: core.Duration(hedgeDelay)}}))
	if err != nil {
		tb.Fatal(err)
	}
	g, err := reg.Guard("bench")
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

func bbCachedGuard(tb testing.TB, ttl time.Duration) *core.Guard {
	tb.Helper()
	reg, err := core.NewRegistry(core.WithDefaultPolicy(core.Policy{Name: "bench",
		Cache: &core.CachePolicy{MaxStaleness: core.Duration(time.Hour), TTL: core.Duration(ttl), MaxEntries: 1000}}))
	if err != nil {
		tb.Fatal(err)
	}
	g, err := reg.Guard("bench")
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

var cacheCtx = core.CacheKey(ctx, "key")

func fsHedged() failsafe.Executor[struct{}] {
	return failsafe.With[struct{}](hedgepolicy.NewWithDelay[struct{}](hedgeDelay), circuitbreaker.NewWithDefaults[struct{}]())
}

// fsMapCache is a failsafe-go cachepolicy.Cache over a sync.Map.
type fsMapCache struct{ m sync.Map }

func (c *fsMapCache) Get(key string) (struct{}, bool) {
	v, ok := c.m.Load(key)
	if !ok {
		return struct{}{}, false
	}
	return v.(struct{}), true
}

func (c *fsMapCache) Set(key string, v struct{}) { c.m.Store(key, v) }

func fsCached() failsafe.Executor[struct{}] {
	return failsafe.With[struct{}](cachepolicy.New[struct{}](&fsMapCache{}), circuitbreaker.NewWithDefaults[struct{}]()).
		WithContext(context.WithValue(ctx, cachepolicy.CacheKey, "key"))
}

func BenchmarkHedgedGuard(b *testing.B) {
	b.Run("breakerbox-plain", func(b *testing.B) {
		g := bbGuard(b, false)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := core.Do(ctx, g, okCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("breakerbox-do", func(b *testing.B) {
		g := bbHedgedGuard(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := core.Do(ctx, g, okCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("breakerbox-idempotent", func(b *testing.B) {
		g := bbHedgedGuard(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := core.DoIdempotent(ctx, g, okCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := fsHedged()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := exec.Get(ok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCachedGuard(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		g := bbCachedGuard(b, time.Hour)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := core.Do(cacheCtx, g, okCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("breakerbox-fill", func(b *testing.B) {
		g := bbCachedGuard(b, 0)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := core.Do(cacheCtx, g, okCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := fsCached()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := exec.Get(ok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// The hedge and cache scenarios measure what they say: no hedge fires, and
// the cached calls are answered from the cache without running the call.
func TestHedgeAndCacheScenariosSetUp(t *testing.T) {
	g := bbHedgedGuard(t)
	for range 100 {
		_, _ = core.Do(ctx, g, okCtx)
		_, _ = core.DoIdempotent(ctx, g, okCtx)
	}
	if s := g.Snapshot().Hedge; s.Started != 0 || s.Calls != 100 {
		t.Errorf("hedged guard: %+v; want 100 hedgeable calls, no hedge", s)
	}
	fsH := fsHedged()
	for range 10 {
		if _, err := fsH.Get(ok); err != nil {
			t.Fatal(err)
		}
	}

	runs := 0
	counted := func(context.Context) (struct{}, error) { runs++; return struct{}{}, nil }
	c := bbCachedGuard(t, time.Hour)
	for range 10 {
		_, _ = core.Do(cacheCtx, c, counted)
	}
	if s := c.Snapshot().Cache; runs != 1 || s.Hits != 9 {
		t.Errorf("cached guard: %d runs, %+v; want 1 run and 9 hits", runs, s)
	}
	runs = 0
	fsC := fsCached()
	for range 10 {
		_, _ = fsC.Get(func() (struct{}, error) { runs++; return struct{}{}, nil })
	}
	if runs != 1 {
		t.Errorf("failsafe cache policy: %d runs; want 1", runs)
	}
}
