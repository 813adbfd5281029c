package fleet_test

import (
	"context"
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
)

// joinedGuard returns the guard "dep" of a registry, joined to a memory
// store (up or down) or not joined at all.
func joinedGuard(tb testing.TB, mode string) *core.Guard {
	reg, err := core.NewRegistry(core.WithPolicies(depPolicy(nil)))
	if err != nil {
		tb.Fatal(err)
	}
	g := reg.MustGuard("dep")
	if mode == "unjoined" {
		return g
	}
	s := fleet.NewMemoryStore()
	s.SetDown(mode == "store-down")
	a, err := fleet.Join(reg, s, fleet.WithReplicaID("bench"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	return g
}

var modes = []string{"unjoined", "store-up", "store-down"}

// TestJoinedGuardDoDoesNotAllocate: joining adds no allocation to a
// guard's call path, with the store up or down.
func TestJoinedGuardDoDoesNotAllocate(t *testing.T) {
	ok := func(context.Context) error { return nil }
	for _, m := range modes {
		g := joinedGuard(t, m)
		if n := testing.AllocsPerRun(1000, func() { _ = g.Do(context.Background(), ok) }); n != 0 {
			t.Errorf("%s: Guard.Do allocates %v per call, want 0", m, n)
		}
		if n := testing.AllocsPerRun(1000, func() { _, _ = core.Do(context.Background(), g, func(context.Context) (int, error) { return 1, nil }) }); n != 0 {
			t.Errorf("%s: core.Do allocates %v per call, want 0", m, n)
		}
	}
}

// BenchmarkJoinedGuardDo measures Guard.Do on a closed guard of a registry
// joined to a fleet (store up, store down) against an unjoined one.
func BenchmarkJoinedGuardDo(b *testing.B) {
	ok := func(context.Context) error { return nil }
	for _, m := range modes {
		b.Run(m, func(b *testing.B) {
			g := joinedGuard(b, m)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_ = g.Do(ctx, ok)
			}
		})
	}
}

// BenchmarkGlobalLimiterAllow measures GlobalLimiter.Allow with tokens
// prefetched (a limit far above the benchmark's rate).
func BenchmarkGlobalLimiterAllow(b *testing.B) {
	reg, _ := core.NewRegistry()
	a, err := fleet.Join(reg, fleet.NewMemoryStore(), fleet.WithReplicaID("bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	l := a.Limiter("k", fleet.Rate{Limit: 1 << 30, Period: 1e9})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = l.Allow()
		}
	})
}
