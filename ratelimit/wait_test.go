package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/internal/reject"
)

var algorithms = []Algorithm{AlgorithmTokenBucket, AlgorithmGCRA, AlgorithmSlidingWindow}

// TestAllowInBubble: a limiter built in a synctest bubble follows the fake
// clock, so tests can sleep through its limits.
func TestAllowInBubble(t *testing.T) {
	for _, algo := range algorithms {
		synctest.Test(t, func(t *testing.T) {
			l := mustNew(t, Config{Algorithm: algo, Limit: 2, Per: time.Minute})
			if !l.Allow() || !l.Allow() || l.Allow() {
				t.Fatalf("%v: burst of 2 not enforced", algo)
			}
			ra := l.RetryAfter()
			if ra <= 0 {
				t.Fatalf("%v: RetryAfter = %v", algo, ra)
			}
			time.Sleep(ra - time.Nanosecond)
			if l.Allow() {
				t.Fatalf("%v: admitted before its retry-after", algo)
			}
			time.Sleep(time.Nanosecond)
			if !l.Allow() {
				t.Fatalf("%v: rejected at its retry-after %v", algo, ra)
			}
		})
	}
}

func TestWaitReturnsWhenAllowed(t *testing.T) {
	for _, algo := range algorithms {
		synctest.Test(t, func(t *testing.T) {
			l := mustNew(t, Config{Algorithm: algo, Limit: 1, Per: time.Second})
			start := time.Now()
			if err := l.Wait(t.Context()); err != nil || time.Since(start) != 0 {
				t.Fatalf("%v: first Wait = %v after %v", algo, err, time.Since(start))
			}
			want := l.RetryAfter()
			if err := l.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := time.Since(start); got != want {
				t.Errorf("%v: second Wait returned after %v, want %v", algo, got, want)
			}
			if s := l.Snapshot(); s.Allowed != 2 || s.Rejected != 0 {
				t.Errorf("%v: counts %d/%d", algo, s.Allowed, s.Rejected)
			}
		})
	}
}

// TestWaitContextEndsFirst: Wait returns the context's error unchanged and
// takes nothing.
func TestWaitContextEndsFirst(t *testing.T) {
	for _, algo := range algorithms {
		synctest.Test(t, func(t *testing.T) {
			l := mustNew(t, Config{Algorithm: algo, Limit: 1, Per: time.Second})
			if !l.Allow() {
				t.Fatal("rejected")
			}
			ra := l.RetryAfter()
			ctx, cancel := context.WithTimeout(t.Context(), ra/2)
			defer cancel()
			err := l.Wait(ctx)
			if err != ctx.Err() || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%v: Wait = %v, want the context's error", algo, err)
			}
			if got := l.RetryAfter(); got != ra-ra/2 {
				t.Errorf("%v: RetryAfter after the failed Wait = %v, want %v (nothing taken)", algo, got, ra-ra/2)
			}
			time.Sleep(ra - ra/2)
			if !l.Allow() {
				t.Errorf("%v: the failed Wait took the next call", algo)
			}
			if s := l.Snapshot(); s.Allowed != 2 || s.Rejected != 1 {
				t.Errorf("%v: counts %d/%d", algo, s.Allowed, s.Rejected)
			}
		})
	}
}

func TestWaitContextDoneBefore(t *testing.T) {
	for _, algo := range algorithms {
		synctest.Test(t, func(t *testing.T) {
			l := mustNew(t, Config{Algorithm: algo, Limit: 1})
			ctx, cancel := context.WithCancelCause(t.Context())
			cancel(errors.New("gone"))
			if err := l.Wait(ctx); err != context.Canceled {
				t.Fatalf("%v: Wait = %v, want context.Canceled", algo, err)
			}
			if !l.Allow() {
				t.Errorf("%v: a Wait on a done context took the call", algo)
			}
		})
	}
}

// TestWaitTokenBucketInOrder: token-bucket waiters reserve, and are served in
// order at the rate; while they wait the bucket is in debt.
func TestWaitTokenBucketInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := NewTokenBucket(Config{Limit: 1, Burst: 1})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		l.Allow()
		var mu sync.Mutex
		var done []time.Duration
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if err := l.Wait(t.Context()); err != nil {
					t.Error(err)
				}
				mu.Lock()
				done = append(done, time.Since(start))
				mu.Unlock()
			})
			synctest.Wait() // reserved and asleep
		}
		if s := l.Snapshot(); s.Available != -3 {
			t.Errorf("Available with 3 waiters = %v, want -3", s.Available)
		}
		if l.Allow() {
			t.Error("Allow went ahead of the waiters")
		}
		wg.Wait()
		want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}
		for i := range want {
			if done[i] != want[i] {
				t.Fatalf("waiters done at %v, want %v", done, want)
			}
		}
	})
}

// TestWaitGCRADoesNotReserve: GCRA waiters hold nothing while they wait.
func TestWaitGCRADoesNotReserve(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := NewGCRA(Config{Limit: 1, Burst: 1})
		if err != nil {
			t.Fatal(err)
		}
		l.Allow()
		go l.Wait(t.Context())
		synctest.Wait()
		if s := l.Snapshot(); s.Available != 0 {
			t.Errorf("Available with a waiter = %v, want 0", s.Available)
		}
		time.Sleep(2 * time.Second)
		if s := l.Snapshot(); s.Allowed != 2 {
			t.Errorf("Allowed = %d, want 2", s.Allowed)
		}
	})
}

func TestWaitCancelGivesBackReservation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l, err := NewTokenBucket(Config{Limit: 1, Burst: 1})
		if err != nil {
			t.Fatal(err)
		}
		l.Allow()
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error)
		go func() { errc <- l.Wait(ctx) }()
		synctest.Wait()
		if s := l.Snapshot(); s.Available != -1 {
			t.Fatalf("Available with a reservation = %v, want -1", s.Available)
		}
		time.Sleep(300 * time.Millisecond)
		cancel()
		if err := <-errc; err != context.Canceled {
			t.Fatalf("Wait = %v", err)
		}
		if s := l.Snapshot(); s.Available != 0.3 || s.Allowed != 1 || s.Rejected != 1 {
			t.Errorf("after cancel: %+v, want 0.3 available, 1 allowed, 1 rejected", s)
		}
	})
}

func TestWaitNNever(t *testing.T) {
	for _, algo := range algorithms {
		l := mustNew(t, Config{Algorithm: algo, Limit: 3})
		err := l.WaitN(t.Context(), 4)
		if !errors.Is(err, ErrLimited) || !errors.Is(err, reject.ErrRejected) {
			t.Errorf("%v: WaitN(4) = %v, want ErrLimited", algo, err)
		}
		if err := l.WaitN(t.Context(), 0); err != nil {
			t.Errorf("%v: WaitN(0) = %v", algo, err)
		}
	}
}

func TestWaitConcurrentPolling(t *testing.T) {
	// Waiters that poll (GCRA, sliding window) all get through, one per
	// emission interval, however they race.
	for _, algo := range []Algorithm{AlgorithmGCRA, AlgorithmSlidingWindow} {
		synctest.Test(t, func(t *testing.T) {
			l := mustNew(t, Config{Algorithm: algo, Limit: 10, Per: time.Second, Burst: 1})
			start := time.Now()
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					if err := l.Wait(t.Context()); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
			if s := l.Snapshot(); s.Allowed != 20 {
				t.Errorf("%v: Allowed = %d", algo, s.Allowed)
			}
			if el := time.Since(start); el < time.Second || el > 3*time.Second {
				t.Errorf("%v: 20 waiters at 10/s took %v", algo, el)
			}
		})
	}
}
