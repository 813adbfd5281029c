package ratelimit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A large bucket read through the coarse clock hands its tokens out in
// batches through per-goroutine stripes: it must never admit more than the
// bucket holds, and strand at most stripes×(batchSize-1) tokens.
func TestBatchedAllowNeverOverAdmits(t *testing.T) {
	for _, algo := range []Algorithm{AlgorithmTokenBucket, AlgorithmGCRA} {
		t.Run(algo.String(), func(t *testing.T) {
			const burst = batchMinBurst * 2
			l, err := New(Config{Algorithm: algo, Limit: 1, Per: time.Hour, Burst: burst})
			if err != nil {
				t.Fatal(err)
			}
			var admitted atomic.Int64
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for range burst/8 + 1000 {
						if l.Allow() {
							admitted.Add(1)
						}
					}
				})
			}
			wg.Wait()
			got := admitted.Load()
			if got > burst {
				t.Fatalf("admitted %d calls from a bucket of %d", got, burst)
			}
			if min := int64(burst - stripes*(batchSize-1)); got < min {
				t.Fatalf("admitted %d calls from a bucket of %d: more than %d stranded in stripes", got, burst, burst-min)
			}
			s := l.(interface{ Snapshot() Snapshot }).Snapshot()
			if s.Allowed != uint64(got) {
				t.Fatalf("Snapshot.Allowed = %d, admitted %d", s.Allowed, got)
			}
			if left := int64(s.Available + 0.5); left != burst-got {
				t.Fatalf("Snapshot.Available = %v, want the %d tokens left in stripes and bucket", s.Available, burst-got)
			}
		})
	}
}

func TestSmallBucketsDoNotBatch(t *testing.T) {
	l, err := NewTokenBucket(Config{Limit: 1, Per: time.Hour, Burst: batchMinBurst - 1})
	if err != nil {
		t.Fatal(err)
	}
	if !l.Allow() {
		t.Fatal("refused the first call")
	}
	if c := l.stats.cached(); c != 0 {
		t.Fatalf("a small bucket cached %d tokens", c)
	}
	big, err := NewTokenBucket(Config{Limit: 1, Per: time.Hour, Burst: batchMinBurst})
	if err != nil {
		t.Fatal(err)
	}
	if !big.Allow() {
		t.Fatal("refused the first call")
	}
	if c := big.stats.cached(); c != batchSize-1 {
		t.Fatalf("a large bucket cached %d tokens after one call, want %d", c, batchSize-1)
	}
	precise, err := NewTokenBucket(Config{Limit: 1, Per: time.Hour, Burst: batchMinBurst, Precise: true})
	if err != nil {
		t.Fatal(err)
	}
	precise.Allow()
	if c := precise.stats.cached(); c != 0 {
		t.Fatalf("a precise bucket cached %d tokens", c)
	}
}

func TestBatchedAllowDoesNotAllocate(t *testing.T) {
	l, err := NewGCRA(Config{Limit: 1e9, Burst: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(10000, func() { l.Allow() }); n != 0 {
		t.Fatalf("%v allocs", n)
	}
}
