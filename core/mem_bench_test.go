package core

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkGuardMemory reports the heap bytes one idle guard costs, with
// the default policy and with every gate (bulkhead, rate limit, retry),
// measured over 10,000 guards.
func BenchmarkGuardMemory(b *testing.B) {
	all := Policy{Name: "all", Match: []string{"*"},
		Bulkhead:  &BulkheadPolicy{MaxConcurrent: 10},
		RateLimit: &RateLimitPolicy{Limit: 100, Burst: 10},
		Retry:     &RetryPolicy{MaxAttempts: 3, Budget: &RetryBudgetPolicy{Ratio: 0.2}},
	}
	for _, c := range []struct {
		name string
		opts []Option
	}{{"default", nil}, {"every-gate", []Option{WithPolicies(all)}}} {
		b.Run(c.name, func(b *testing.B) {
			const n = 10_000
			var per float64
			for b.Loop() {
				r, err := NewRegistry(c.opts...)
				if err != nil {
					b.Fatal(err)
				}
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				for i := range n {
					if _, err := r.Guard(fmt.Sprintf("guard-%06d", i)); err != nil {
						b.Fatal(err)
					}
				}
				runtime.GC()
				runtime.ReadMemStats(&after)
				per = float64(after.HeapAlloc-before.HeapAlloc) / n
				runtime.KeepAlive(r)
			}
			b.ReportMetric(per, "bytes/guard")
		})
	}
}
