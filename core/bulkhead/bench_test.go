package bulkhead_test

import (
	"context"
	"testing"

	"github.com/breakerbox/breakerbox/core/bulkhead"
)

// roomy has far more slots than goroutines, so that benchmarks measure the
// fast path only. It is large enough to be striped; small is not.
var (
	roomy = bulkhead.Config{MaxConcurrent: 1 << 20, MaxQueue: 16}
	small = bulkhead.Config{MaxConcurrent: 64, MaxQueue: 16}
)

func BenchmarkAcquireRelease(b *testing.B) {
	bh := mustNew(b, roomy)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if bh.Acquire(ctx) != nil {
			b.Fatal("rejected")
		}
		bh.Release()
	}
}

func BenchmarkAcquireReleaseParallel(b *testing.B) { acquireReleaseParallel(b, roomy) }

// BenchmarkAcquireReleaseParallelSmall is the parallel benchmark on a
// bulkhead too small to be striped: one shared state word.
func BenchmarkAcquireReleaseParallelSmall(b *testing.B) { acquireReleaseParallel(b, small) }

func acquireReleaseParallel(b *testing.B, cfg bulkhead.Config) {
	bh := mustNew(b, cfg)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if bh.Acquire(ctx) != nil {
				b.Error("rejected")
				return
			}
			bh.Release()
		}
	})
}

func BenchmarkTryAcquireRelease(b *testing.B) {
	bh := mustNew(b, roomy)
	b.ReportAllocs()
	for b.Loop() {
		if !bh.TryAcquire() {
			b.Fatal("rejected")
		}
		bh.Release()
	}
}

func BenchmarkTryAcquireReleaseParallel(b *testing.B) {
	bh := mustNew(b, roomy)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !bh.TryAcquire() {
				b.Error("rejected")
				return
			}
			bh.Release()
		}
	})
}

// fullBulkhead returns a bulkhead without a queue whose only slot is held.
func fullBulkhead(b *testing.B) *bulkhead.Bulkhead {
	bh := mustNew(b, bulkhead.Config{MaxConcurrent: 1})
	if !bh.TryAcquire() {
		b.Fatal("TryAcquire = false")
	}
	return bh
}

func BenchmarkReject(b *testing.B) {
	bh := fullBulkhead(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if bh.Acquire(ctx) != bulkhead.ErrFull {
			b.Fatal("admitted")
		}
	}
}

func BenchmarkRejectParallel(b *testing.B) {
	bh := fullBulkhead(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if bh.Acquire(ctx) != bulkhead.ErrFull {
				b.Error("admitted")
				return
			}
		}
	})
}

// BenchmarkAcquireReleaseQueued measures the slow path: one slot, every
// other goroutine queued, each slot handed from releaser to waiter.
func BenchmarkAcquireReleaseQueued(b *testing.B) {
	bh := mustNew(b, bulkhead.Config{MaxConcurrent: 1, MaxQueue: 1 << 16})
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if bh.Acquire(ctx) != nil {
				b.Error("rejected")
				return
			}
			bh.Release()
		}
	})
}
