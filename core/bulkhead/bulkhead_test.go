package bulkhead_test

import (
	"context"
	"errors"
	"flag"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/breakerbox/breakerbox/internal/reject"
)

// stripeLeast, when above 0, makes mustNew return bulkheads that keep free
// slots in stripes from that limit on, instead of only large ones (see
// TestMain).
var stripeLeast int

// TestMain runs every test of the package three times: with plain
// bulkheads, with every bulkhead striped, and with bulkheads striped from
// limit 3 on, so that SetLimit moves them in and out of striping. The two
// implementations must keep the same rules.
func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	for _, name := range []string{"test.fuzz", "test.bench"} {
		if f := flag.Lookup(name); f != nil && f.Value.String() != "" {
			os.Exit(code) // one pass when fuzzing or benchmarking
		}
	}
	for _, least := range []int{1, 3} {
		if code != 0 {
			break
		}
		stripeLeast = least
		code = m.Run()
	}
	os.Exit(code)
}

func mustNew(t testing.TB, cfg bulkhead.Config) *bulkhead.Bulkhead {
	t.Helper()
	var (
		b   *bulkhead.Bulkhead
		err error
	)
	if stripeLeast > 0 {
		b, err = bulkhead.NewStriped(cfg, stripeLeast)
	} else {
		b, err = bulkhead.New(cfg)
	}
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	return b
}

// checkUse fails the test unless the bulkhead has inUse slots held and
// queued callers waiting.
func checkUse(t *testing.T, b *bulkhead.Bulkhead, inUse, queued int) {
	t.Helper()
	s := b.Snapshot()
	if s.InUse != inUse || s.Queued != queued {
		t.Fatalf("InUse, Queued = %d, %d; want %d, %d", s.InUse, s.Queued, inUse, queued)
	}
}

// acquireAsync runs b.Acquire(ctx) in a new goroutine and returns the
// channel its result arrives on.
func acquireAsync(b *bulkhead.Bulkhead, ctx context.Context) <-chan error {
	c := make(chan error, 1)
	go func() { c <- b.Acquire(ctx) }()
	return c
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  bulkhead.Config
		want []string // substrings of the error; nil means valid
	}{
		{"minimal", bulkhead.Config{MaxConcurrent: 1}, nil},
		{"queue and wait", bulkhead.Config{MaxConcurrent: 10, MaxQueue: 5, MaxWait: time.Second}, nil},
		{"largest", bulkhead.Config{MaxConcurrent: 1<<31 - 1, MaxQueue: 1<<31 - 1, MaxWait: 1<<63 - 1}, nil},
		{"zero config", bulkhead.Config{}, []string{"bulkhead: maxConcurrent: 0 must be at least 1"}},
		{"negative concurrency", bulkhead.Config{MaxConcurrent: -1}, []string{"bulkhead: maxConcurrent: -1 must be at least 1"}},
		{"concurrency too large", bulkhead.Config{MaxConcurrent: 1 << 31}, []string{"bulkhead: maxConcurrent: 2147483648 must be at most 2147483647"}},
		{"negative queue", bulkhead.Config{MaxConcurrent: 1, MaxQueue: -3}, []string{"bulkhead: maxQueue: -3 must not be negative"}},
		{"queue too large", bulkhead.Config{MaxConcurrent: 1, MaxQueue: 1 << 32}, []string{"bulkhead: maxQueue: 4294967296 must be at most 2147483647"}},
		{"negative wait", bulkhead.Config{MaxConcurrent: 1, MaxWait: -1500 * time.Millisecond}, []string{"bulkhead: maxWait: -1.5s must not be negative"}},
		{"every field", bulkhead.Config{MaxConcurrent: 0, MaxQueue: -1, MaxWait: -time.Nanosecond}, []string{
			"bulkhead: maxConcurrent: 0 must be at least 1",
			"bulkhead: maxQueue: -1 must not be negative",
			"bulkhead: maxWait: -1ns must not be negative",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v; want nil", err)
				}
				if _, err := bulkhead.New(tt.cfg); err != nil {
					t.Fatalf("New() error = %v; want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil; want an error containing %q", tt.want)
			}
			if lines := strings.Split(err.Error(), "\n"); len(lines) != len(tt.want) {
				t.Errorf("Validate() = %q; want %d messages", err, len(tt.want))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q; want it to contain %q", err, w)
				}
			}
			b, nerr := bulkhead.New(tt.cfg)
			if b != nil || nerr == nil || nerr.Error() != err.Error() {
				t.Errorf("New() = %v, %v; want nil, %v", b, nerr, err)
			}
		})
	}
}

func TestErrFull(t *testing.T) {
	if !errors.Is(bulkhead.ErrFull, reject.ErrRejected) {
		t.Error("errors.Is(ErrFull, ErrRejected) = false")
	}
	var typed interface{ ErrorType() string }
	if !errors.As(bulkhead.ErrFull, &typed) || typed.ErrorType() != "bulkhead_full" {
		t.Errorf("ErrFull has no ErrorType bulkhead_full")
	}
	if got := bulkhead.ErrFull.Error(); got != "bulkhead: full" {
		t.Errorf("ErrFull.Error() = %q", got)
	}
}

func TestZeroBulkheadAdmitsNothing(t *testing.T) {
	var b bulkhead.Bulkhead
	if b.TryAcquire() {
		t.Fatal("TryAcquire on the zero Bulkhead = true")
	}
	if err := b.Acquire(context.Background()); err != bulkhead.ErrFull {
		t.Fatalf("Acquire on the zero Bulkhead = %v; want ErrFull", err)
	}
}

func TestTryAcquireLimit(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 3, MaxQueue: 5})
	for i := range 3 {
		if !b.TryAcquire() {
			t.Fatalf("TryAcquire #%d = false; want true", i+1)
		}
	}
	if b.TryAcquire() {
		t.Fatal("TryAcquire over the limit = true")
	}
	checkUse(t, b, 3, 0) // TryAcquire never queues
	b.Release()
	if !b.TryAcquire() {
		t.Fatal("TryAcquire after Release = false")
	}
	for range 3 {
		b.Release()
	}
	s := b.Snapshot()
	want := bulkhead.Snapshot{MaxConcurrent: 3, MaxQueue: 5, Rejected: 1}
	if s != want {
		t.Fatalf("Snapshot() = %+v; want %+v", s, want)
	}
}

func TestAcquireWithoutQueueRejectsAtOnce(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 2})
	ctx := context.Background()
	for range 2 {
		if err := b.Acquire(ctx); err != nil {
			t.Fatalf("Acquire = %v", err)
		}
	}
	for range 3 {
		if err := b.Acquire(ctx); err != bulkhead.ErrFull {
			t.Fatalf("Acquire when full = %v; want ErrFull", err)
		}
	}
	if s := b.Snapshot(); s.Rejected != 3 || s.InUse != 2 || s.Queued != 0 {
		t.Fatalf("Snapshot() = %+v; want Rejected 3, InUse 2, Queued 0", s)
	}
}

func TestReleaseWithoutAcquirePanics(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 1})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("Release without Acquire did not panic")
			}
		}()
		b.Release()
	}()
	checkUse(t, b, 0, 0)
	if !b.TryAcquire() {
		t.Fatal("TryAcquire after the recovered panic = false")
	}
}

func TestQueueBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: 2})
		ctx := context.Background()
		if err := b.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		w1 := acquireAsync(b, ctx)
		w2 := acquireAsync(b, ctx)
		synctest.Wait()
		checkUse(t, b, 1, 2)
		if err := b.Acquire(ctx); err != bulkhead.ErrFull {
			t.Fatalf("Acquire with a full queue = %v; want ErrFull", err)
		}
		if b.TryAcquire() {
			t.Fatal("TryAcquire with a full queue = true")
		}
		b.Release()
		synctest.Wait()
		checkUse(t, b, 1, 1)
		// The freed queue place is open to a new caller.
		w3 := acquireAsync(b, ctx)
		synctest.Wait()
		checkUse(t, b, 1, 2)
		for range 3 {
			b.Release()
			synctest.Wait()
		}
		for i, w := range []<-chan error{w1, w2, w3} {
			if err := <-w; err != nil {
				t.Errorf("waiter %d: %v", i+1, err)
			}
		}
		s := b.Snapshot()
		if s.InUse != 0 || s.Queued != 0 || s.Rejected != 2 || s.Waited != 3 {
			t.Fatalf("Snapshot() = %+v; want InUse 0, Queued 0, Rejected 2, Waited 3", s)
		}
	})
}

func TestFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 10
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: n})
		if !b.TryAcquire() {
			t.Fatal("TryAcquire = false")
		}
		var (
			mu    sync.Mutex
			order []int
			wg    sync.WaitGroup
		)
		for i := range n {
			wg.Go(func() {
				if err := b.Acquire(context.Background()); err != nil {
					t.Errorf("waiter %d: %v", i, err)
					return
				}
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				b.Release()
			})
			synctest.Wait() // waiter i is queued before waiter i+1 starts
		}
		checkUse(t, b, 1, n)
		b.Release()
		wg.Wait()
		for i, got := range order {
			if got != i {
				t.Fatalf("slots went to waiters in order %v; want 0..%d", order, n-1)
			}
		}
		checkUse(t, b, 0, 0)
	})
}

func TestNoBargingPastWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: 1})
		if !b.TryAcquire() {
			t.Fatal("TryAcquire = false")
		}
		w := acquireAsync(b, context.Background())
		synctest.Wait()
		// Release hands the slot straight to the waiter: a newcomer arriving
		// before the waiter even runs finds no free slot.
		b.Release()
		if b.TryAcquire() {
			t.Fatal("TryAcquire barged past a queued waiter")
		}
		if err := <-w; err != nil {
			t.Fatal(err)
		}
		checkUse(t, b, 1, 0)
		b.Release()
		checkUse(t, b, 0, 0)
	})
}

func TestMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const maxWait = 100 * time.Millisecond
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: 1, MaxWait: maxWait})
		if !b.TryAcquire() {
			t.Fatal("TryAcquire = false")
		}
		start := time.Now()
		if err := b.Acquire(context.Background()); err != bulkhead.ErrFull {
			t.Fatalf("Acquire = %v; want ErrFull", err)
		}
		if waited := time.Since(start); waited != maxWait {
			t.Errorf("Acquire gave up after %v; want %v", waited, maxWait)
		}
		s := b.Snapshot()
		if s.TimedOut != 1 || s.Rejected != 0 || s.Queued != 0 || s.InUse != 1 {
			t.Fatalf("Snapshot() = %+v; want TimedOut 1, Rejected 0, Queued 0, InUse 1", s)
		}
		// A waiter served before MaxWait is not timed out.
		w := acquireAsync(b, context.Background())
		time.Sleep(maxWait - time.Millisecond)
		b.Release()
		if err := <-w; err != nil {
			t.Fatalf("Acquire served before MaxWait = %v", err)
		}
		time.Sleep(2 * maxWait) // the waiter's timer is stopped; nothing fires
		s = b.Snapshot()
		if s.TimedOut != 1 || s.Waited != 1 || s.WaitTime != maxWait-time.Millisecond {
			t.Fatalf("Snapshot() = %+v; want TimedOut 1, Waited 1, WaitTime %v", s, maxWait-time.Millisecond)
		}
	})
}

func TestContextBoundsWaitWithoutMaxWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: 1})
		if !b.TryAcquire() {
			t.Fatal("TryAcquire = false")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		start := time.Now()
		if err := b.Acquire(ctx); err != context.DeadlineExceeded {
			t.Fatalf("Acquire = %v; want context.DeadlineExceeded, unchanged", err)
		}
		if waited := time.Since(start); waited != time.Hour {
			t.Errorf("Acquire gave up after %v; want 1h", waited)
		}
		if s := b.Snapshot(); s.Canceled != 1 || s.TimedOut != 0 || s.Queued != 0 {
			t.Fatalf("Snapshot() = %+v; want Canceled 1, TimedOut 0, Queued 0", s)
		}
	})
}

func TestCancelFreesQueueSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: 1})
		if !b.TryAcquire() {
			t.Fatal("TryAcquire = false")
		}
		ctx, cancel := context.WithCancel(context.Background())
		w1 := acquireAsync(b, ctx)
		synctest.Wait()
		if err := b.Acquire(context.Background()); err != bulkhead.ErrFull {
			t.Fatalf("Acquire with a full queue = %v; want ErrFull", err)
		}
		cancel()
		if err := <-w1; err != context.Canceled {
			t.Fatalf("canceled waiter got %v; want context.Canceled, unchanged", err)
		}
		checkUse(t, b, 1, 0)
		w2 := acquireAsync(b, context.Background())
		synctest.Wait()
		checkUse(t, b, 1, 1)
		b.Release()
		if err := <-w2; err != nil {
			t.Fatal(err)
		}
		b.Release()
		s := b.Snapshot()
		want := bulkhead.Snapshot{MaxConcurrent: 1, MaxQueue: 1, Rejected: 1, Canceled: 1, Waited: 1}
		if s != want {
			t.Fatalf("Snapshot() = %+v; want %+v", s, want)
		}
	})
}

func TestDoneContext(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: 1})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A free slot is taken even with a done context: ctx only bounds waiting.
	if err := b.Acquire(ctx); err != nil {
		t.Fatalf("Acquire with a free slot and a done ctx = %v; want nil", err)
	}
	// With no free slot, a done context never queues.
	if err := b.Acquire(ctx); err != context.Canceled {
		t.Fatalf("Acquire with a done ctx = %v; want context.Canceled", err)
	}
	if s := b.Snapshot(); s.Canceled != 1 || s.Queued != 0 || s.InUse != 1 {
		t.Fatalf("Snapshot() = %+v; want Canceled 1, Queued 0, InUse 1", s)
	}
}

func TestWaitTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: 2})
		if !b.TryAcquire() {
			t.Fatal("TryAcquire = false")
		}
		w1 := acquireAsync(b, context.Background())
		time.Sleep(20 * time.Millisecond)
		w2 := acquireAsync(b, context.Background())
		time.Sleep(30 * time.Millisecond)
		b.Release() // w1 waited 50ms
		if err := <-w1; err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		b.Release() // w2 waited 40ms
		if err := <-w2; err != nil {
			t.Fatal(err)
		}
		b.Release()
		s := b.Snapshot()
		if s.Waited != 2 || s.WaitTime != 90*time.Millisecond {
			t.Fatalf("Waited, WaitTime = %d, %v; want 2, 90ms", s.Waited, s.WaitTime)
		}
	})
}

func TestSetLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := mustNew(t, bulkhead.Config{MaxConcurrent: 1, MaxQueue: 10})
		ctx := context.Background()
		if !b.TryAcquire() {
			t.Fatal("TryAcquire = false")
		}
		var waiters []<-chan error
		for range 3 {
			waiters = append(waiters, acquireAsync(b, ctx))
			synctest.Wait()
		}
		checkUse(t, b, 1, 3)

		// Raising the limit hands the new slots to the queue at once.
		if err := b.SetLimit(3); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		checkUse(t, b, 3, 1)
		if s := b.Snapshot(); s.MaxConcurrent != 3 {
			t.Fatalf("MaxConcurrent = %d; want 3", s.MaxConcurrent)
		}
		if err := b.SetLimit(5); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		checkUse(t, b, 4, 0)
		for _, w := range waiters {
			if err := <-w; err != nil {
				t.Fatal(err)
			}
		}

		// Lowering it keeps running calls and admits nobody until use drops
		// below the new limit.
		if err := b.SetLimit(2); err != nil {
			t.Fatal(err)
		}
		w := acquireAsync(b, ctx)
		synctest.Wait()
		checkUse(t, b, 4, 1)
		b.Release()
		b.Release()
		synctest.Wait()
		checkUse(t, b, 2, 1) // 2 in use is the limit: the waiter still waits
		b.Release()
		if err := <-w; err != nil {
			t.Fatal(err)
		}
		checkUse(t, b, 2, 0)
		b.Release()
		b.Release()
		checkUse(t, b, 0, 0)

		for _, n := range []int{0, -1, 1 << 31} {
			err := b.SetLimit(n)
			if err == nil || !strings.Contains(err.Error(), "bulkhead: maxConcurrent: ") {
				t.Errorf("SetLimit(%d) = %v; want a maxConcurrent error", n, err)
			}
		}
		if s := b.Snapshot(); s.MaxConcurrent != 2 {
			t.Fatalf("MaxConcurrent after invalid SetLimit = %d; want 2", s.MaxConcurrent)
		}
	})
}

// TestHints: any Hint is correct. Slots taken through one stripe and given
// back through others keep the bulkhead exact, striped or not.
func TestHints(t *testing.T) {
	const limit = 16
	b := mustNew(t, bulkhead.Config{MaxConcurrent: limit, MaxQueue: 2})
	ctx := context.Background()
	for i := range limit {
		var ok bool
		if i%2 == 0 {
			ok = b.TryAcquireHint(bulkhead.Hint(i * 37))
		} else {
			ok = b.AcquireHint(ctx, bulkhead.Hint(i)) == nil
		}
		if !ok {
			t.Fatalf("slot %d refused", i+1)
		}
	}
	if b.TryAcquireHint(bulkhead.NewHint()) {
		t.Fatal("TryAcquireHint admitted a call over the limit")
	}
	checkUse(t, b, limit, 0)
	for i := range limit {
		b.ReleaseHint(bulkhead.Hint(255 - i))
	}
	checkUse(t, b, 0, 0)
	for i := range limit {
		if !b.TryAcquireHint(bulkhead.Hint(3)) {
			t.Fatalf("slot %d refused after every slot was given back", i+1)
		}
	}
	if b.TryAcquire() {
		t.Fatal("TryAcquire admitted a call over the limit")
	}
}
