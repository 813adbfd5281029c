package bulkhead

// Tests of the racy moments of the slow path. The test hooks stop a caller
// exactly where a concurrent Release would hurt it; synctest turns a lost
// wake-up into an immediate "deadlock" failure instead of a hung test.
// These tests set package variables, so they must not run in parallel.

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

func setHook(t *testing.T, hook *func(), f func()) {
	t.Helper()
	*hook = f
	t.Cleanup(func() { *hook = nil })
}

func newForTest(t *testing.T, cfg Config) *Bulkhead {
	t.Helper()
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kinds runs f for a plain bulkhead and for one that keeps its free slots
// in stripes (see Striping) even at limit 1.
func kinds(t *testing.T, f func(t *testing.T, striped bool, newB func(Config) *Bulkhead)) {
	for _, striped := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "striped"}[striped]
		t.Run(name, func(t *testing.T) {
			f(t, striped, func(cfg Config) *Bulkhead {
				t.Helper()
				least := int64(stripeMinimum)
				if striped {
					least = 1
				}
				if err := cfg.Validate(); err != nil {
					t.Fatal(err)
				}
				b := newBulkhead(cfg, least)
				if b.Striped() != striped {
					t.Fatalf("Striped() = %v; want %v", b.Striped(), striped)
				}
				return b
			})
		})
	}
}

// A slot freed between the waiter's look at the state word and its
// compare-and-swap must not be missed: the CAS fails and the caller takes
// the slot instead of queueing for a wake-up that would never come.
//
// A striped bulkhead puts the released slot in a stripe without touching
// the state word, so the CAS succeeds and the caller queues; the sweep
// after queueing must then find the slot and hand it over.
func TestLostWakeupReleaseBeforeEnqueue(t *testing.T) {
	kinds(t, func(t *testing.T, striped bool, newB func(Config) *Bulkhead) {
		synctest.Test(t, func(t *testing.T) {
			testLostWakeupReleaseBeforeEnqueue(t, striped, newB)
		})
	})
}

func testLostWakeupReleaseBeforeEnqueue(t *testing.T, striped bool, newB func(Config) *Bulkhead) {
	b := newB(Config{MaxConcurrent: 1, MaxQueue: 1})
	if !b.TryAcquire() {
		t.Fatal("TryAcquire = false")
	}
	calls := 0
	setHook(t, &testHookBeforeEnqueue, func() {
		calls++
		if calls == 1 {
			b.Release() // nobody is queued yet: the lock-free path
		}
	})
	if err := b.Acquire(context.Background()); err != nil {
		t.Fatalf("Acquire = %v", err)
	}
	if calls != 1 {
		t.Fatalf("hook ran %d times; want 1", calls)
	}
	s := b.Snapshot()
	waited := uint64(0)
	if striped {
		waited = 1
	}
	if s.InUse != 1 || s.Queued != 0 || s.Waited != waited {
		t.Fatalf("Snapshot() = %+v; want InUse 1, Queued 0, Waited %d", s, waited)
	}
}

// A Release that comes after the waiter is counted in queued, but before it
// blocks on its channel, must reach it.
func TestLostWakeupReleaseAfterEnqueue(t *testing.T) {
	kinds(t, func(t *testing.T, _ bool, newB func(Config) *Bulkhead) {
		synctest.Test(t, func(t *testing.T) {
			b := newB(Config{MaxConcurrent: 1, MaxQueue: 1})
			if !b.TryAcquire() {
				t.Fatal("TryAcquire = false")
			}
			// The hook runs with mu held; the releaser sees queued == 1 and
			// blocks on mu until the waiter has let go of it.
			setHook(t, &testHookAfterEnqueue, func() { go b.Release() })
			if err := b.Acquire(context.Background()); err != nil {
				t.Fatalf("Acquire = %v", err)
			}
			s := b.Snapshot()
			if s.InUse != 1 || s.Queued != 0 || s.Waited != 1 {
				t.Fatalf("Snapshot() = %+v; want InUse 1, Queued 0, Waited 1", s)
			}
		})
	})
}

// A waiter that gives up at the moment a slot is handed to it releases the
// slot rather than leaking it.
func TestHandoffRaceReleasesSlot(t *testing.T) {
	kinds(t, func(t *testing.T, _ bool, newB func(Config) *Bulkhead) {
		synctest.Test(t, func(t *testing.T) {
			b := newB(Config{MaxConcurrent: 1, MaxQueue: 1})
			if !b.TryAcquire() {
				t.Fatal("TryAcquire = false")
			}
			// The holder releases after the waiter chose ctx.Done but before
			// it takes itself out of the queue: the slot is handed to it.
			setHook(t, &testHookAbandon, b.Release)
			ctx, cancel := context.WithCancel(context.Background())
			w := make(chan error, 1)
			go func() { w <- b.Acquire(ctx) }()
			synctest.Wait()
			cancel()
			if err := <-w; err != context.Canceled {
				t.Fatalf("Acquire = %v; want context.Canceled", err)
			}
			s := b.Snapshot()
			if s.InUse != 0 || s.Queued != 0 || s.Canceled != 1 || s.Waited != 0 {
				t.Fatalf("Snapshot() = %+v; want InUse 0, Queued 0, Canceled 1, Waited 0", s)
			}
			if !b.TryAcquire() {
				t.Fatal("the handed-over slot leaked: TryAcquire = false")
			}
		})
	})
}

// The slot given up in a handoff race goes on to the next waiter in line.
func TestHandoffRacePassesSlotOn(t *testing.T) {
	kinds(t, func(t *testing.T, _ bool, newB func(Config) *Bulkhead) {
		synctest.Test(t, func(t *testing.T) {
			const maxWait = 10 * time.Millisecond
			b := newB(Config{MaxConcurrent: 1, MaxQueue: 2, MaxWait: maxWait})
			if !b.TryAcquire() {
				t.Fatal("TryAcquire = false")
			}
			// The holder releases just as the first waiter times out.
			setHook(t, &testHookAbandon, b.Release)
			first := make(chan error, 1)
			go func() { first <- b.Acquire(context.Background()) }()
			time.Sleep(maxWait / 2)
			second := make(chan error, 1)
			go func() { second <- b.Acquire(context.Background()) }()
			if err := <-first; err != ErrFull {
				t.Fatalf("first waiter: %v; want ErrFull", err)
			}
			if err := <-second; err != nil {
				t.Fatalf("second waiter: %v; want the passed-on slot", err)
			}
			s := b.Snapshot()
			if s.InUse != 1 || s.Queued != 0 || s.TimedOut != 1 || s.Waited != 1 {
				t.Fatalf("Snapshot() = %+v; want InUse 1, Queued 0, TimedOut 1, Waited 1", s)
			}
			if s.WaitTime != maxWait/2 {
				t.Fatalf("WaitTime = %v; want %v", s.WaitTime, maxWait/2)
			}
		})
	})
}
