package hedge_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/hedge"
)

// watcherRunning reports whether a goroutine of the hedger's watcher is
// running or runnable.
func watcherRunning() bool {
	buf := make([]byte, 1<<20)
	return strings.Contains(string(buf[:runtime.Stack(buf, true)]), "hedge.(*Hedger).watch")
}

// The watcher (the table of armed calls, not a timer per call) fires the
// first hedge at the delay, not before, and leaves no goroutine behind
// while it waits or once the table is empty.
func TestHedgeWatcherFiresAtDelayAndLeavesNoGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 20 * time.Millisecond
		h, err := hedge.New(hedge.Config{Delay: delay})
		if err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		var hedgedAt atomic.Int64
		var n atomic.Int32
		v, err := hedge.Do(context.Background(), h, func(ctx context.Context) (int, error) {
			if n.Add(1) == 1 {
				synctest.Wait()
				if watcherRunning() {
					t.Error("a watcher goroutine waits while the call runs")
				}
				<-ctx.Done() // the hedge wins
				return 0, ctx.Err()
			}
			hedgedAt.Store(int64(time.Since(begin)))
			return 2, nil
		})
		if v != 2 || err != nil {
			t.Fatalf("Do = %v, %v; want the hedge's 2, nil", v, err)
		}
		if at := time.Duration(hedgedAt.Load()); at != delay {
			t.Errorf("the hedge started after %v; want the delay, %v", at, delay)
		}
		if st := h.Stats(); st.Started != 1 || st.Won != 1 || st.Cancelled != 1 {
			t.Errorf("stats %+v; want 1 hedge started, won, 1 attempt cancelled", st)
		}
		synctest.Wait()
		if watcherRunning() {
			t.Error("the watcher still runs after the last call")
		}
	})
}

// A bubble may end while the watcher is set for a call that has answered
// (its deadline an hour away): between runs the watcher is a timer, not a
// goroutine. A watcher goroutine sleeping until the deadline made
// synctest.Test panic ("main bubble goroutine has exited but blocked
// goroutines remain").
func TestHedgeBubbleEndsWhileWatcherIsSet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := hedge.New(hedge.Config{Delay: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := hedge.Do(context.Background(), h, func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
	})
}

// Calls that answer before the delay fire no hedge, and the watcher that
// their arming set stops without firing one, however many calls came and
// went; the first hedge of a later slow call still fires at its delay.
func TestHedgeWatcherNoHedgeForAnsweredCallsThenFiresForSlowOne(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 10 * time.Millisecond
		h, err := hedge.New(hedge.Config{Delay: delay, MaxHedges: 2})
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			if _, err := hedge.Do(context.Background(), h, func(ctx context.Context) (int, error) {
				time.Sleep(delay / 2)
				return 1, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if st := h.Stats(); st.Started != 0 || st.Calls != 50 {
			t.Fatalf("stats %+v; want 50 calls, no hedge", st)
		}
		// A slow call gets both hedges, at the delay and twice the delay
		// (the second from a timer, after the watcher fired the first).
		begin := time.Now()
		var mu sync.Mutex
		var starts []time.Duration
		var n atomic.Int32
		_, err = hedge.Do(context.Background(), h, func(ctx context.Context) (int, error) {
			if n.Add(1) == 1 {
				time.Sleep(3 * delay)
				return 1, nil
			}
			mu.Lock()
			starts = append(starts, time.Since(begin))
			mu.Unlock()
			<-ctx.Done()
			return 0, ctx.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(starts) != 2 || starts[0] != delay || starts[1] != 2*delay {
			t.Errorf("hedges started at %v; want %v and %v", starts, delay, 2*delay)
		}
		synctest.Wait()
		if watcherRunning() {
			t.Error("the watcher still runs after the last call")
		}
	})
}

// The first attempt's context is made lazily; whichever way fn uses it, it
// behaves as a context.WithCancel of the caller's: values and deadline
// come through, contexts derived from it are cancelled with it, and it is
// cancelled once Do returns.
func TestHedgeFirstAttemptContextBehavesAsWithCancel(t *testing.T) {
	type key struct{}
	h, err := hedge.New(hedge.Config{Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	parent, cancelParent := context.WithDeadline(context.WithValue(context.Background(), key{}, "v"), time.Now().Add(time.Hour))
	defer cancelParent()
	var kept context.Context
	var child context.Context
	_, err = hedge.Do(parent, h, func(ctx context.Context) (int, error) {
		if ctx.Value(key{}) != "v" {
			t.Errorf("Value = %v; want v", ctx.Value(key{}))
		}
		if d, ok := ctx.Deadline(); !ok || !d.After(time.Now()) {
			t.Errorf("Deadline = %v, %v; want the caller's", d, ok)
		}
		if ctx.Err() != nil {
			t.Errorf("Err = %v during the call", ctx.Err())
		}
		var cancel context.CancelFunc
		child, cancel = context.WithCancel(ctx)
		_ = cancel
		kept = ctx
		return 1, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-kept.Done():
	default:
		t.Error("the first attempt's context is not done after Do returned")
	}
	if kept.Err() != context.Canceled || child.Err() != context.Canceled {
		t.Errorf("after Do: Err = %v, child Err = %v; want context.Canceled", kept.Err(), child.Err())
	}
	// Without Done asked during the call, the context is still cancelled
	// when asked after.
	_, _ = hedge.Do(parent, h, func(ctx context.Context) (int, error) { kept = ctx; return 1, nil })
	if kept.Err() != context.Canceled {
		t.Errorf("Err after Do = %v; want context.Canceled", kept.Err())
	}
	select {
	case <-kept.Done():
	default:
		t.Error("Done is not closed after Do returned")
	}
}

// A call that answers before the delay allocated a call struct, a
// context.WithCancel and a timer (four allocations or more); now only its
// call state, the first attempt's context included.
func TestHedgeAnsweredCallAllocatesOnlyItsState(t *testing.T) {
	h, err := hedge.New(hedge.Config{Delay: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fn := func(context.Context) (int, error) { return 1, nil }
	if n := testing.AllocsPerRun(1000, func() {
		if _, err := hedge.Do(ctx, h, fn); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("an answered hedged call allocates %v times; want at most 1", n)
	}
	if st := h.Stats(); st.Started != 0 {
		t.Errorf("stats %+v; want no hedge", st)
	}
}

// More calls in flight than the table has slots: those that find their
// stripe full arm a timer of their own, and every call's hedge still
// starts at the delay and wins.
func TestHedgeTableFullFallsBackToTimers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay, calls = 10 * time.Millisecond, 400 // the table has 240 slots
		h, err := hedge.New(hedge.Config{Delay: delay})
		if err != nil {
			t.Fatal(err)
		}
		begin := time.Now()
		var late atomic.Int32
		var wg sync.WaitGroup
		for range calls {
			wg.Go(func() {
				var n atomic.Int32
				v, err := hedge.Do(context.Background(), h, func(ctx context.Context) (int, error) {
					if n.Add(1) == 1 {
						<-ctx.Done()
						return 0, ctx.Err()
					}
					if time.Since(begin) != delay {
						late.Add(1)
					}
					return 2, nil
				})
				if v != 2 || err != nil {
					t.Errorf("Do = %v, %v; want the hedge's 2, nil", v, err)
				}
			})
		}
		wg.Wait()
		if n := late.Load(); n != 0 {
			t.Errorf("%d of %d hedges did not start at the delay", n, calls)
		}
		if st := h.Stats(); st.Started != calls || st.Won != calls {
			t.Errorf("stats %+v; want %d hedges started and won", st, calls)
		}
	})
}
