package core

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/fallback"
)

func TestGuardCachedFallbackMarksStaleAnswers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var fellBack atomic.Int32
		r := mustRegistry(t, WithPolicies(Policy{
			Name:      "c",
			Cache:     &CachePolicy{MaxStaleness: Duration(time.Minute), MaxEntries: 100},
			Fallbacks: []FallbackRef{{Name: "default"}},
		}), WithFallback("default", func(context.Context, fallback.Cause) (any, error) { fellBack.Add(1); return "default", nil }))
		g := mustGuard(t, r, "c")
		ctx := CacheKey(bg, "user/1")
		ok := func(context.Context) (string, error) { return "alice", nil }
		down := func(context.Context) (string, error) { return "", boom }
		if v, res, err := DoResult(ctx, g, ok); v != "alice" || err != nil || res.Stale || res.Cached {
			t.Fatalf("fill: %q, %+v, %v", v, res, err)
		}
		time.Sleep(30 * time.Second)
		v, res, err := DoResult(ctx, g, down)
		if v != "alice" || err != nil || !res.Stale || res.Age != 30*time.Second || !errors.Is(res.Err, boom) {
			t.Fatalf("failed call: %q, %+v, %v; want alice, stale, 30s old", v, res, err)
		}
		// Another key has no value: the named fallback answers.
		if v, res, err := DoResult(CacheKey(bg, "user/2"), g, down); v != "default" || err != nil || res.Stale {
			t.Fatalf("unknown key: %q, %+v, %v; want the fallback", v, res, err)
		}
		// Too old: the fallback answers, and its value is never kept.
		time.Sleep(31 * time.Second)
		if v, res, _ := DoResult(ctx, g, down); v != "default" || res.Stale {
			t.Fatalf("past maxStaleness: %q, %+v; want the fallback", v, res)
		}
		s := g.Snapshot()
		if s.Cache == nil || s.Cache.StaleServed != 1 || s.Cache.StaleMissing != 2 || s.Cache.Fills != 4 || fellBack.Load() != 2 {
			t.Fatalf("cache stats %+v, %d fallbacks", s.Cache, fellBack.Load())
		}
		// Plain Do answers the stale value without the mark.
		if v, err := Do(ctx, g, ok); v != "alice" || err != nil {
			t.Fatalf("Do: %q, %v", v, err)
		}
	})
}

func TestGuardCacheSharesConcurrentFills(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := mustGuard(t, mustRegistry(t, WithPolicies(Policy{Name: "c", Cache: &CachePolicy{MaxStaleness: Duration(time.Minute), MaxEntries: 10}})), "c")
		var calls atomic.Int32
		fn := func(ctx context.Context) (int, error) {
			calls.Add(1)
			return 1, waitCtx(ctx, 10*time.Millisecond)
		}
		done := make(chan Result, 20)
		for range 20 {
			go func() {
				_, r, _ := DoResult(CacheKey(bg, "k"), g, fn)
				done <- r
			}()
		}
		shared := 0
		for range 20 {
			if r := <-done; r.Shared {
				shared++
			}
		}
		if calls.Load() != 1 || shared != 19 {
			t.Fatalf("%d calls to the dependency, %d shared answers; want 1 and 19", calls.Load(), shared)
		}
		if b := g.Snapshot().Breaker; b.Admitted != 1 {
			t.Errorf("the breaker admitted %d calls; want 1", b.Admitted)
		}
	})
}
