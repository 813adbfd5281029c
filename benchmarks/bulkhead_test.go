package benchmarks

import (
	"testing"

	fsbulkhead "github.com/failsafe-go/failsafe-go/bulkhead"
	"golang.org/x/sync/semaphore"
)

// Bulkhead: take a slot of a concurrency limiter nobody else holds, and give
// it back. "-try" variants use the non-blocking acquire of each library;
// the others its blocking, context-aware acquire (which finds a free slot).

func BenchmarkBulkhead(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		bh := bbBulkhead(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if err := bh.Acquire(ctx); err != nil {
				b.Fatal(err)
			}
			bh.Release()
		}
	})
	b.Run("breakerbox-try", func(b *testing.B) {
		bh := bbBulkhead(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !bh.TryAcquire() {
				b.Fatal("rejected")
			}
			bh.Release()
		}
	})
	b.Run("semaphore", func(b *testing.B) {
		s := semaphore.NewWeighted(bigLimit)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if err := s.Acquire(ctx, 1); err != nil {
				b.Fatal(err)
			}
			s.Release(1)
		}
	})
	b.Run("semaphore-try", func(b *testing.B) {
		s := semaphore.NewWeighted(bigLimit)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !s.TryAcquire(1) {
				b.Fatal("rejected")
			}
			s.Release(1)
		}
	})
	b.Run("failsafe", func(b *testing.B) {
		bh := fsbulkhead.New[struct{}](bigLimit)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if err := bh.AcquirePermit(ctx); err != nil {
				b.Fatal(err)
			}
			bh.ReleasePermit()
		}
	})
	b.Run("failsafe-try", func(b *testing.B) {
		bh := fsbulkhead.New[struct{}](bigLimit)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !bh.TryAcquirePermit() {
				b.Fatal("rejected")
			}
			bh.ReleasePermit()
		}
	})
}

func BenchmarkBulkheadParallel(b *testing.B) {
	b.Run("breakerbox", func(b *testing.B) {
		bh := bbBulkhead(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := bh.Acquire(ctx); err != nil {
					panic(err)
				}
				bh.Release()
			}
		})
	})
	b.Run("breakerbox-try", func(b *testing.B) {
		bh := bbBulkhead(b)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !bh.TryAcquire() {
					panic("rejected")
				}
				bh.Release()
			}
		})
	})
	b.Run("semaphore", func(b *testing.B) {
		s := semaphore.NewWeighted(bigLimit)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := s.Acquire(ctx, 1); err != nil {
					panic(err)
				}
				s.Release(1)
			}
		})
	})
	b.Run("semaphore-try", func(b *testing.B) {
		s := semaphore.NewWeighted(bigLimit)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !s.TryAcquire(1) {
					panic("rejected")
				}
				s.Release(1)
			}
		})
	})
	b.Run("failsafe", func(b *testing.B) {
		bh := fsbulkhead.New[struct{}](bigLimit)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := bh.AcquirePermit(ctx); err != nil {
					panic(err)
				}
				bh.ReleasePermit()
			}
		})
	})
	b.Run("failsafe-try", func(b *testing.B) {
		bh := fsbulkhead.New[struct{}](bigLimit)
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if !bh.TryAcquirePermit() {
					panic("rejected")
				}
				bh.ReleasePermit()
			}
		})
	})
}
