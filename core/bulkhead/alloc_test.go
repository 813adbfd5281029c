package bulkhead_test

import (
	"context"
	"runtime"
	"testing"

	"github.com/breakerbox/breakerbox/core/bulkhead"
)

func TestHotPathsDoNotAllocate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	free := mustNew(t, bulkhead.Config{MaxConcurrent: 4, MaxQueue: 4})
	noQueue := mustNew(t, bulkhead.Config{MaxConcurrent: 1})
	if !noQueue.TryAcquire() {
		t.Fatal("TryAcquire = false")
	}
	// fullQueue has its slot held and its one queue place taken by a waiter.
	fullQueue := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: 1})
	if !fullQueue.TryAcquire() {
		t.Fatal("TryAcquire = false")
	}
	waiter := make(chan error, 1)
	go func() { waiter <- fullQueue.Acquire(ctx) }()
	for fullQueue.Snapshot().Queued != 1 {
		runtime.Gosched()
	}

	tests := []struct {
		name string
		f    func()
	}{
		{"TryAcquire/Release", func() {
			if free.TryAcquire() {
				free.Release()
			}
		}},
		{"Acquire/Release", func() {
			if free.Acquire(ctx) == nil {
				free.Release()
			}
		}},
		{"TryAcquire rejected", func() { noQueue.TryAcquire() }},
		{"Acquire rejected, no queue", func() { _ = noQueue.Acquire(ctx) }},
		{"Acquire rejected, queue full", func() { _ = fullQueue.Acquire(ctx) }},
		{"TryAcquire rejected, queue full", func() { fullQueue.TryAcquire() }},
		{"AcquireHint/ReleaseHint", func() {
			h := bulkhead.NewHint()
			if free.AcquireHint(ctx, h) == nil {
				free.ReleaseHint(h)
			}
		}},
		{"Snapshot", func() { _ = free.Snapshot() }},
	}
	for _, tt := range tests {
		if n := testing.AllocsPerRun(1000, tt.f); n != 0 {
			t.Errorf("%s: %v allocations per run; want 0", tt.name, n)
		}
	}
	if s := free.Snapshot(); s.InUse != 0 || s.Rejected != 0 {
		t.Errorf("free bulkhead: Snapshot() = %+v; want every call admitted and released", s)
	}
	cancel()
	if err := <-waiter; err != context.Canceled {
		t.Fatalf("waiter: %v", err)
	}
}
