package core

import (
	"context"
	"testing"
)

func BenchmarkGuardAllowDone(b *testing.B) {
	g := mustGuard(b, mustRegistry(b), "g")
	b.ReportAllocs()
	for b.Loop() {
		p, _ := g.Allow(bg)
		p.Done(nil)
	}
}

func BenchmarkDo(b *testing.B) {
	r := mustRegistry(b, WithPolicies(Policy{Name: "g", Bulkhead: &BulkheadPolicy{MaxConcurrent: 1 << 20}}))
	g := mustGuard(b, r, "g")
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Do(bg, g, fn)
	}
}

func BenchmarkDoParallel(b *testing.B) {
	r := mustRegistry(b, WithPolicies(Policy{Name: "g", Bulkhead: &BulkheadPolicy{MaxConcurrent: 1 << 20}}))
	g := mustGuard(b, r, "g")
	fn := func(context.Context) (int, error) { return 1, nil }
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = Do(bg, g, fn)
		}
	})
}

func BenchmarkRejectOpen(b *testing.B) {
	r := mustRegistry(b, WithPolicies(Policy{Name: "g", Breaker: &BreakerPolicy{Mode: "forced-open"}}))
	g := mustGuard(b, r, "g")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = g.Allow(bg)
	}
}

func BenchmarkRegistryLookup(b *testing.B) {
	r := mustRegistry(b)
	mustGuard(b, r, "g")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, _ = r.Guard("g")
		}
	})
}
