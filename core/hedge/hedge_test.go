package hedge_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/hedge"
	"github.com/breakerbox/breakerbox/core/retry"
)

// longTail is a dependency whose latency is log-normal around a 10ms
// median, except for a share of calls that take a second.
type longTail struct {
	mu    sync.Mutex
	rng   *rand.Rand
	tail  float64
	calls atomic.Int64
}

func newLongTail(tail float64) *longTail {
	return &longTail{rng: rand.New(rand.NewPCG(22, 7)), tail: tail}
}

func (d *longTail) latency() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.rng.Float64() < d.tail {
		return time.Second
	}
	return time.Duration(float64(10*time.Millisecond) * math.Exp(0.2*d.rng.NormFloat64()))
}

func (d *longTail) call(ctx context.Context) (int, error) {
	d.calls.Add(1)
	return 1, sleep(ctx, d.latency())
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// quantile returns the q-quantile of ds, sorting it.
func quantile(ds []time.Duration, q float64) time.Duration {
	slices.Sort(ds)
	return ds[int(math.Ceil(q*float64(len(ds))))-1]
}

// measure makes n sequential calls and returns their latencies.
func measure(t *testing.T, n int, do func(context.Context) (int, error)) []time.Duration {
	t.Helper()
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		if _, err := do(context.Background()); err != nil {
			t.Fatalf("call failed: %v", err)
		}
		out = append(out, time.Since(start))
	}
	return out
}

func newBudget(t *testing.T, ratio float64) *retry.Budget {
	t.Helper()
	b, err := retry.NewBudget(retry.BudgetConfig{Ratio: ratio, MinRetriesPerSec: -1})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHedgeP99WithinDelayPlusMedian(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 2000
		plain := measure(t, n, newLongTail(0.015).call)
		median, p99plain := quantile(plain, 0.5), quantile(plain, 0.99)
		if p99plain < time.Second {
			t.Fatalf("the unhedged p99 is %v; the test needs a tail above 1%%", p99plain)
		}
		h, err := hedge.New(hedge.Config{Delay: 5 * time.Millisecond, Percentile: 95, Budget: newBudget(t, 0.2)})
		if err != nil {
			t.Fatal(err)
		}
		dep := newLongTail(0.015)
		hedged := measure(t, n, func(ctx context.Context) (int, error) { return hedge.Do(ctx, h, dep.call) })
		p99 := quantile(hedged, 0.99)
		bound := h.Delay() + median
		st := h.Stats()
		t.Logf("median %v, p99 %v unhedged, %v hedged (delay %v), %+v", median, p99plain, p99, h.Delay(), st)
		if p99 > bound {
			t.Errorf("hedged p99 %v is above delay %v + median %v", p99, h.Delay(), median)
		}
		if extra := float64(dep.calls.Load()-n) / n; extra > 0.2 {
			t.Errorf("hedging added %.1f%% load, above the budget's 20%%", 100*extra)
		}
	})
}

func TestHedgeExtraLoadWithinBudgetRatio(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n, ratio = 1000, 0.05
		// A delay below the median would hedge most calls.
		h, err := hedge.New(hedge.Config{Delay: 8 * time.Millisecond, MaxHedges: 2, Budget: newBudget(t, ratio)})
		if err != nil {
			t.Fatal(err)
		}
		dep := newLongTail(0.015)
		measure(t, n, func(ctx context.Context) (int, error) { return hedge.Do(ctx, h, dep.call) })
		st := h.Stats()
		if float64(st.Started) > ratio*n+1 {
			t.Errorf("%d hedges for %d calls: above the budget's %v", st.Started, n, ratio)
		}
		if extra := dep.calls.Load() - n; extra != int64(st.Started) {
			t.Errorf("the dependency saw %d extra calls, but %d hedges were counted", extra, st.Started)
		}
		if st.BudgetStopped == 0 {
			t.Errorf("no hedge was stopped by the budget: %+v", st)
		}
	})
}

func TestHedgeStopsWhileGateShut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var open atomic.Bool
		h, err := hedge.New(hedge.Config{Delay: 5 * time.Millisecond, Gate: open.Load})
		if err != nil {
			t.Fatal(err)
		}
		var calls atomic.Int64
		slow := func(ctx context.Context) (int, error) { calls.Add(1); return 0, sleep(ctx, 50*time.Millisecond) }
		for range 10 {
			if _, err := hedge.Do(context.Background(), h, slow); err != nil {
				t.Fatal(err)
			}
		}
		if st := h.Stats(); st.Started != 0 || st.GateStopped != 10 || calls.Load() != 10 {
			t.Fatalf("with the gate shut: %+v, %d calls; want no hedge and 10 gate stops", st, calls.Load())
		}
		open.Store(true)
		if _, err := hedge.Do(context.Background(), h, slow); err != nil {
			t.Fatal(err)
		}
		if st := h.Stats(); st.Started != 1 {
			t.Fatalf("with the gate open: %+v; want one hedge", st)
		}
	})
}

func TestHedgeLosersCancelledCountedAndGone(t *testing.T) {
	for _, tc := range []struct {
		name           string
		first, hedge   time.Duration
		want           int
		won, cancelled uint64
	}{
		{"hedge wins", 100 * time.Millisecond, time.Millisecond, 2, 1, 1},
		{"first wins", 15 * time.Millisecond, 100 * time.Millisecond, 1, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, err := hedge.New(hedge.Config{Delay: 10 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				before := runtime.NumGoroutine()
				var n atomic.Int32
				var sawCancel atomic.Int32
				start := time.Now()
				v, err := hedge.Do(context.Background(), h, func(ctx context.Context) (int, error) {
					i := n.Add(1)
					d := tc.first
					if i > 1 {
						d = tc.hedge
					}
					if err := sleep(ctx, d); err != nil {
						sawCancel.Add(1)
						return 0, err
					}
					return int(i), nil
				})
				took := time.Since(start)
				if err != nil || v != tc.want {
					t.Fatalf("Do = %d, %v; want %d from attempt %d", v, err, tc.want, tc.want)
				}
				if limit := min(tc.first, 10*time.Millisecond+tc.hedge); took != limit {
					t.Errorf("Do took %v; want %v", took, limit)
				}
				synctest.Wait()
				if after := runtime.NumGoroutine(); after != before {
					t.Errorf("%d goroutines after Do, %d before: a loser was left behind", after, before)
				}
				st := h.Stats()
				if st.Won != tc.won || st.Cancelled != tc.cancelled || sawCancel.Load() != int32(tc.cancelled) {
					t.Errorf("stats %+v, %d attempts saw their cancellation; want won %d, cancelled %d", st, sawCancel.Load(), tc.won, tc.cancelled)
				}
			})
		})
	}
}

func TestHedgeAllAttemptsFailReturnsLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := hedge.New(hedge.Config{Delay: time.Millisecond, MaxHedges: 2})
		if err != nil {
			t.Fatal(err)
		}
		var n atomic.Int32
		_, err = hedge.Do(context.Background(), h, func(ctx context.Context) (int, error) {
			i := n.Add(1)
			_ = sleep(ctx, time.Duration(10-i)*time.Millisecond)
			return 0, errors.New("attempt failed")
		})
		if err == nil || n.Load() != 3 {
			t.Fatalf("Do = %v after %d attempts; want an error after 3", err, n.Load())
		}
		if st := h.Stats(); st.Won != 0 || st.Started != 2 || st.Cancelled != 0 {
			t.Errorf("stats %+v; want 2 started, none won or cancelled", st)
		}
	})
}

func TestHedgeCallerCancellationEndsEveryAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, err := hedge.New(hedge.Config{Delay: time.Millisecond, MaxHedges: 3})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		_, err = hedge.Do(ctx, h, func(ctx context.Context) (int, error) { return 0, sleep(ctx, time.Hour) })
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Do = %v; want the deadline", err)
		}
	})
}

func TestHedgeConfigRefusesBadFieldsByName(t *testing.T) {
	for _, tc := range []struct {
		cfg  hedge.Config
		want string
	}{
		{hedge.Config{}, "delay: 0s must be above 0"},
		{hedge.Config{Delay: -time.Second}, "delay: -1s"},
		{hedge.Config{Delay: 1, Percentile: 100}, "percentile: 100"},
		{hedge.Config{Delay: 1, MaxHedges: 11}, "maxHedges: 11"},
		{hedge.Config{Delay: 1, MaxHedges: -1}, "maxHedges: -1"},
	} {
		_, err := hedge.New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v; want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestSketchQuantileWithinBucketError(t *testing.T) {
	s := hedge.NewSketch(10000)
	for i := 1; i <= 1000; i++ {
		s.Record(time.Duration(i) * time.Millisecond)
	}
	for _, q := range []float64{0.5, 0.95, 0.99} {
		got, ok := s.Quantile(q)
		exact := time.Duration(q*1000) * time.Millisecond
		if !ok || got < exact || float64(got) > 1.126*float64(exact) {
			t.Errorf("Quantile(%v) = %v; want within [%v, +12.5%%]", q, got, exact)
		}
	}
}

func TestSketchForgetsOldWindows(t *testing.T) {
	s := hedge.NewSketch(100)
	for range 1000 {
		s.Record(time.Second)
	}
	for range 200 {
		s.Record(time.Millisecond)
	}
	if got, _ := s.Quantile(0.99); got > 2*time.Millisecond {
		t.Errorf("p99 %v still sees samples two windows old", got)
	}
	if n := s.Count(); n > 200 {
		t.Errorf("Count %d; want at most two windows", n)
	}
}

func TestSketchRecordAllocatesNothing(t *testing.T) {
	s := hedge.NewSketch(0)
	if a := testing.AllocsPerRun(100, func() { s.Record(time.Millisecond) }); a != 0 {
		t.Errorf("Record allocates %v", a)
	}
}

func TestHedgeDoDropReleasesEveryValueNotReturned(t *testing.T) {
	for _, tc := range []struct {
		name    string
		latency []time.Duration // per attempt
		fails   []bool
		want    int
	}{
		{"hedge wins", []time.Duration{100 * time.Millisecond, time.Millisecond, 200 * time.Millisecond}, []bool{false, false, false}, 2},
		{"first wins", []time.Duration{15 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}, []bool{false, false, false}, 1},
		{"all fail", []time.Duration{30 * time.Millisecond, 5 * time.Millisecond, 50 * time.Millisecond}, []bool{true, true, true}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, err := hedge.New(hedge.Config{Delay: 10 * time.Millisecond, MaxHedges: 2})
				if err != nil {
					t.Fatal(err)
				}
				var n atomic.Int32
				var mu sync.Mutex
				dropped := map[int]int{}
				v, _ := hedge.DoDrop(context.Background(), h, func(ctx context.Context) (int, error) {
					i := int(n.Add(1))
					_ = sleep(ctx, tc.latency[i-1]) // a value even when cancelled
					if tc.fails[i-1] {
						return i, errors.New("failed")
					}
					return i, nil
				}, func(v int) {
					mu.Lock()
					dropped[v]++
					mu.Unlock()
				})
				synctest.Wait()
				if v != tc.want {
					t.Fatalf("DoDrop = %d; want %d", v, tc.want)
				}
				mu.Lock()
				defer mu.Unlock()
				for i := 1; i <= int(n.Load()); i++ {
					want := 1
					if i == v {
						want = 0
					}
					if dropped[i] != want {
						t.Errorf("value %d dropped %d times; want %d (dropped: %v)", i, dropped[i], want, dropped)
					}
				}
			})
		})
	}
}
