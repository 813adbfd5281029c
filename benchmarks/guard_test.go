package benchmarks

import (
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/failsafe-go/failsafe-go"
	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	fsratelimiter "github.com/failsafe-go/failsafe-go/ratelimiter"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
)

// GuardDo: a successful call through a bulkhead (too large to fill) and a
// closed circuit breaker: breakerbox core.Do through a registry guard, and
// failsafe-go Executor.Get with a bulkhead and a circuit breaker policy (the
// executor built once).

func BenchmarkGuardDo(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		g := bbGuard(b, true)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := core.Do(ctx, g, okCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := fsGuard()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := exec.Get(ok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkGuardDoParallel(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		g := bbGuard(b, true)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := core.Do(ctx, g, okCtx); err != nil {
					panic(err)
				}
			}
		})
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := fsGuard()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := exec.Get(ok); err != nil {
					panic(err)
				}
			}
		})
	})
}

// FullGuard: a successful call through a rate limiter (at the rate of the
// RateLimit scenario, so every call is admitted), a bulkhead, a circuit
// breaker and a retry policy of three attempts: breakerbox core.Do through
// a guard whose policy has all four, and failsafe-go Executor.Get with the
// same four policies in the same order (retry outermost, then rate limit,
// bulkhead, breaker).

func bbFullGuard(tb testing.TB) *core.Guard {
	tb.Helper()
	reg, err := core.NewRegistry(core.WithDefaultPolicy(core.Policy{
		Name:      "bench",
		RateLimit: &core.RateLimitPolicy{Limit: rlLimit, Burst: rlBurst},
		Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: bigLimit},
		Retry:     &core.RetryPolicy{MaxAttempts: 3},
	}))
	if err != nil {
		tb.Fatal(err)
	}
	g, err := reg.Guard("bench")
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

func fsFullGuard() failsafe.Executor[struct{}] {
	return failsafe.With[struct{}](
		retrypolicy.NewBuilder[struct{}]().WithMaxAttempts(3).Build(),
		fsratelimiter.NewBursty[struct{}](rlLimit, time.Second),
		fsbulkhead.New[struct{}](bigLimit),
		circuitbreaker.NewWithDefaults[struct{}](),
	)
}

func BenchmarkFullGuard(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		g := bbFullGuard(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := core.Do(ctx, g, okCtx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := fsFullGuard()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if _, err := exec.Get(ok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkFullGuardParallel(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		g := bbFullGuard(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := core.Do(ctx, g, okCtx); err != nil {
					panic(err)
				}
			}
		})
	})
	b.Run("failsafe", func(b *testing.B) {
		exec := fsFullGuard()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := exec.Get(ok); err != nil {
					panic(err)
				}
			}
		})
	})
}
