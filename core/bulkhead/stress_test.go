package bulkhead_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/bulkhead"
)

// outcomes tallies what callers got, to check the bulkhead's counters.
type outcomes struct {
	admitted, full, ctxErr, tryFailed atomic.Uint64
}

// hammer has one goroutine take slots in many ways, recording outcomes and
// failing t if more than bound calls are ever in flight.
func hammer(t *testing.T, b *bulkhead.Bulkhead, seed, iters int, bound int64, inFlight *atomic.Int64, o *outcomes) {
	for i := range iters {
		var err error
		switch (seed + i) % 5 {
		case 0:
			if !b.TryAcquire() {
				o.tryFailed.Add(1)
				continue
			}
		case 1, 2:
			err = b.Acquire(context.Background()) // bounded by MaxWait
		case 3:
			ctx, cancel := context.WithCancel(context.Background())
			go cancel() // races with queueing, the handoff and the timeout
			err = b.Acquire(ctx)
			cancel()
		case 4:
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%3)*time.Microsecond)
			err = b.Acquire(ctx)
			cancel()
		}
		switch err {
		case nil:
		case bulkhead.ErrFull:
			o.full.Add(1)
			continue
		case context.Canceled, context.DeadlineExceeded:
			o.ctxErr.Add(1)
			continue
		default:
			t.Errorf("Acquire = %v", err)
			continue
		}
		o.admitted.Add(1)
		if n := inFlight.Add(1); n > bound {
			t.Errorf("%d calls in flight; want at most %d", n, bound)
		}
		runtime.Gosched()
		inFlight.Add(-1)
		b.Release()
	}
}

func checkAccounting(t *testing.T, b *bulkhead.Bulkhead, o *outcomes) {
	t.Helper()
	s := b.Snapshot()
	if s.InUse != 0 || s.Queued != 0 {
		t.Fatalf("after the stress, InUse, Queued = %d, %d; want 0, 0", s.InUse, s.Queued)
	}
	if got, want := s.Rejected+s.TimedOut, o.full.Load()+o.tryFailed.Load(); got != want {
		t.Errorf("Rejected+TimedOut = %d; callers saw %d refusals", got, want)
	}
	if got, want := s.Canceled, o.ctxErr.Load(); got != want {
		t.Errorf("Canceled = %d; callers saw %d context errors", got, want)
	}
	if s.Waited > o.admitted.Load() {
		t.Errorf("Waited = %d > %d admitted", s.Waited, o.admitted.Load())
	}
	t.Logf("admitted %d (waited %d), refused %d, timed out %d, canceled %d",
		o.admitted.Load(), s.Waited, s.Rejected, s.TimedOut, s.Canceled)
}

func TestStress(t *testing.T) {
	const limit = 4
	b := mustNew(t, bulkhead.Config{MaxConcurrent: limit, MaxQueue: 12, MaxWait: 200 * time.Microsecond})
	var (
		wg       sync.WaitGroup
		inFlight atomic.Int64
		o        outcomes
	)
	for g := range 16 {
		wg.Go(func() { hammer(t, b, g, 400, limit, &inFlight, &o) })
	}
	wg.Wait()
	checkAccounting(t, b, &o)
}

func TestStressSetLimit(t *testing.T) {
	const most = 6
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 3, MaxQueue: 12, MaxWait: 200 * time.Microsecond})
	var (
		wg       sync.WaitGroup
		inFlight atomic.Int64
		o        outcomes
		done     = make(chan struct{})
		setter   sync.WaitGroup
	)
	setter.Go(func() {
		for n := 0; ; n++ {
			select {
			case <-done:
				return
			default:
			}
			if err := b.SetLimit(1 + n%most); err != nil {
				t.Error(err)
			}
			runtime.Gosched()
		}
	})
	for g := range 16 {
		wg.Go(func() { hammer(t, b, g, 300, most, &inFlight, &o) })
	}
	wg.Wait()
	close(done)
	setter.Wait()
	checkAccounting(t, b, &o)
}

// Every waiter is woken: with no timeouts and no cancellation, a lost
// wake-up would leave a goroutine blocked forever, which synctest reports
// at once as a deadlock.
func TestStressNoLostWakeup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, goroutines = 2, 24
		b := mustNew(t, bulkhead.Config{MaxConcurrent: limit, MaxQueue: goroutines})
		var (
			wg       sync.WaitGroup
			inFlight atomic.Int64
		)
		for range goroutines {
			wg.Go(func() {
				for i := range 200 {
					if i%3 == 0 && b.TryAcquire() {
						// A fast-path holder among the queued ones.
					} else if err := b.Acquire(context.Background()); err != nil {
						t.Errorf("Acquire = %v", err)
						return
					}
					if n := inFlight.Add(1); n > limit {
						t.Errorf("%d calls in flight; want at most %d", n, limit)
					}
					runtime.Gosched()
					inFlight.Add(-1)
					b.Release()
				}
			})
		}
		wg.Wait()
		if s := b.Snapshot(); s.InUse != 0 || s.Queued != 0 || s.Waited == 0 {
			t.Fatalf("Snapshot() = %+v; want InUse 0, Queued 0 and some waits", s)
		}
	})
}

// TestLargeBulkheadIsExact fills a bulkhead large enough to be striped from
// many goroutines at once: however the slots spread over the stripes, the
// callers get exactly MaxConcurrent of them, Snapshot counts them, and once
// they are all given back one goroutine can take every one again.
func TestLargeBulkheadIsExact(t *testing.T) {
	const limit = 1024
	if b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 255}); b.Striped() {
		t.Fatal("a bulkhead of 255 slots is striped; want striping from 256 on")
	}
	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: limit})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Striped() {
		t.Fatalf("a bulkhead of %d slots is not striped", limit)
	}
	var (
		wg    sync.WaitGroup
		total atomic.Int64
		held  [16]int
	)
	for g := range held {
		wg.Go(func() {
			for b.TryAcquire() {
				held[g]++
				if n := total.Add(1); n > limit {
					t.Errorf("%d slots held; want at most %d", n, limit)
				}
			}
		})
	}
	wg.Wait()
	if n := total.Load(); n != limit {
		t.Fatalf("callers got %d slots; want exactly %d", n, limit)
	}
	if s := b.Snapshot(); s.InUse != limit || s.Rejected != uint64(len(held)) {
		t.Fatalf("Snapshot() = %+v; want InUse %d, Rejected %d", s, limit, len(held))
	}
	for g := range held {
		wg.Go(func() {
			for range held[g] {
				b.Release()
			}
		})
	}
	wg.Wait()
	if s := b.Snapshot(); s.InUse != 0 {
		t.Fatalf("after every Release, InUse = %d; want 0", s.InUse)
	}
	for i := range limit {
		if !b.TryAcquire() {
			t.Fatalf("TryAcquire #%d = false after every slot was given back", i+1)
		}
	}
	if b.TryAcquire() {
		t.Fatalf("TryAcquire #%d = true; want the limit to hold", limit+1)
	}
	if err := b.SetLimit(limit / 2); err != nil {
		t.Fatal(err)
	}
	for range limit / 2 {
		b.Release()
	}
	if b.TryAcquire() {
		t.Fatal("TryAcquire = true with InUse at the lowered limit")
	}
	b.Release()
	if !b.TryAcquire() {
		t.Fatal("TryAcquire = false with one slot under the lowered limit")
	}
}

// TestStressLarge hammers a bulkhead striped by default (256 slots) with
// more goroutines than slots, so that calls queue, time out and hand slots
// over while others take and return them through the stripes.
func TestStressLarge(t *testing.T) {
	const limit = 256
	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: limit, MaxQueue: limit, MaxWait: 200 * time.Microsecond})
	if err != nil {
		t.Fatal(err)
	}
	if !b.Striped() {
		t.Fatal("a bulkhead of 256 slots is not striped")
	}
	var (
		wg       sync.WaitGroup
		inFlight atomic.Int64
		o        outcomes
	)
	for g := range 2 * limit {
		wg.Go(func() { hammer(t, b, g, 40, limit, &inFlight, &o) })
	}
	wg.Wait()
	checkAccounting(t, b, &o)
}
