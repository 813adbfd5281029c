package ratelimit

import (
	"math"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// t0 is a fixed time without a monotonic reading, on a second boundary.
var t0 = time.Unix(1_700_000_000, 0)

func at(d time.Duration) time.Time { return t0.Add(d) }

const neverD = time.Duration(math.MaxInt64)

type step struct {
	at    time.Duration // after t0
	n     int
	ok    bool
	retry time.Duration // RetryAfterN(at, n) after the call
}

func mustNew(t testing.TB, cfg Config) Limiter {
	t.Helper()
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func runSteps(t *testing.T, l Limiter, steps []step) {
	t.Helper()
	for i, s := range steps {
		if got := l.AllowN(at(s.at), s.n); got != s.ok {
			t.Fatalf("step %d: AllowN(+%v, %d) = %v, want %v", i, s.at, s.n, got, s.ok)
		}
		if got := l.RetryAfterN(at(s.at), s.n); got != s.retry {
			t.Fatalf("step %d: RetryAfterN(+%v, %d) = %v, want %v", i, s.at, s.n, got, s.retry)
		}
	}
}

func TestMeterSequences(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"burst then rate", Config{Limit: 10, Burst: 3}, []step{
			{0, 1, true, 0},
			{0, 1, true, 0},
			{0, 1, true, 100 * ms},
			{0, 1, false, 100 * ms},
			{50 * ms, 1, false, 50 * ms},
			{100 * ms, 1, true, 100 * ms},
			{100 * ms, 1, false, 100 * ms},
			{time.Second, 3, true, 300 * ms},
			{time.Second, 4, false, neverD},
			{time.Second, 0, true, 0},
			{time.Second + 150*ms, 2, false, 50 * ms},
			{time.Second + 200*ms, 2, true, 200 * ms},
		}},
		{"default burst is ceil(limit)", Config{Limit: 2.5}, []step{
			{0, 3, true, 1200 * ms},
			{0, 1, false, 400 * ms},
			{400 * ms, 1, true, 400 * ms},
		}},
		{"burst 1 is smooth", Config{Limit: 1, Per: time.Minute, Burst: 1}, []step{
			{0, 1, true, time.Minute},
			{59 * time.Second, 1, false, time.Second},
			{time.Minute, 1, true, time.Minute},
			{time.Hour, 1, true, time.Minute},
		}},
		{"negative n takes nothing", Config{Limit: 1, Burst: 1}, []step{
			{0, -5, true, 0},
			{0, 1, true, time.Second},
			{0, 1, false, time.Second},
		}},
	}
	for _, tt := range tests {
		for _, algo := range []Algorithm{AlgorithmTokenBucket, AlgorithmGCRA} {
			t.Run(tt.name+"/"+algo.String(), func(t *testing.T) {
				cfg := tt.cfg
				cfg.Algorithm = algo
				runSteps(t, mustNew(t, cfg), tt.steps)
			})
		}
	}
}

func TestSlidingWindowSequences(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"limit then decay", Config{Limit: 4}, []step{
			{0, 1, true, 0},
			{0, 3, true, 1750 * ms},
			{0, 1, false, 1250 * ms},
			{999 * ms, 1, false, 251 * ms},
			{1500 * ms, 2, true, 500 * ms}, // prev 4 weighs 2
			{1500 * ms, 1, false, 250 * ms},
			{1750 * ms, 1, true, 250 * ms},
			{3 * time.Second, 4, true, 2 * time.Second}, // both windows empty
			{3 * time.Second, 5, false, neverD},
		}},
		{"fractional limit shrinks the window", Config{Limit: 2.5}, []step{
			{0, 2, true, 1600 * ms},
			{0, 1, false, 1200 * ms},
			{800 * ms, 1, false, 400 * ms}, // prev 2 weighs 2
			{1200 * ms, 1, true, 400 * ms},
		}},
		{"limit below one", Config{Limit: 0.5, Per: time.Second}, []step{
			{0, 1, true, 4 * time.Second},
			{time.Second, 1, false, 3 * time.Second},
			{2 * time.Second, 1, false, 2 * time.Second}, // prev 1 weighs 1
			{3 * time.Second, 1, false, time.Second},     // and still 1/2
			{4 * time.Second, 1, true, 4 * time.Second},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Algorithm = AlgorithmSlidingWindow
			runSteps(t, mustNew(t, cfg), tt.steps)
		})
	}
}

// TestRetryAfterIsExact holds every rejection's retry-after to be the first
// instant the call fits: not one nanosecond sooner.
func TestRetryAfterIsExact(t *testing.T) {
	cfgs := []Config{
		{Limit: 7, Per: time.Second, Burst: 3},
		{Limit: 1000, Burst: 10},
		{Limit: 3, Per: time.Minute, Burst: 1},
		{Algorithm: AlgorithmSlidingWindow, Limit: 7, Per: time.Second},
		{Algorithm: AlgorithmSlidingWindow, Limit: 3, Per: time.Minute},
	}
	for _, base := range cfgs {
		for _, algo := range []Algorithm{AlgorithmTokenBucket, AlgorithmGCRA} {
			cfg := base
			if cfg.Algorithm == AlgorithmDefault {
				cfg.Algorithm = algo
			} else if algo == AlgorithmGCRA {
				continue
			}
			l := mustNew(t, cfg)
			now := t0
			rejections := 0
			maxN := 2
			if cfg.Burst == 1 {
				maxN = 1
			}
			for i := range 2000 {
				n := 1 + i%maxN
				if l.AllowN(now, n) {
					now = now.Add(time.Duration(i*7919) % (50 * time.Millisecond))
					continue
				}
				rejections++
				ra := l.RetryAfterN(now, n)
				if ra <= 0 || ra == neverD {
					t.Fatalf("%v: rejected at %v with retry-after %v", cfg, now.Sub(t0), ra)
				}
				if got := l.RetryAfterN(now.Add(ra-1), n); got != 1 {
					t.Fatalf("%v: retry-after %v at %v, but %v one ns before", cfg, ra, now.Sub(t0), got)
				}
				now = now.Add(ra)
				if !l.AllowN(now, n) {
					t.Fatalf("%v: rejected again at the retry-after %v", cfg, ra)
				}
			}
			if rejections == 0 {
				t.Fatalf("%v: no rejection to check", cfg)
			}
		}
	}
}

func TestSetLimitKeepsSpent(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		from, to  Config
		spend     int           // calls taken at t0
		change    time.Duration // SetLimitAt(at(change))
		available float64       // right after the change
		retry     time.Duration // RetryAfterN(at(change, 1))
	}{
		{"faster keeps tokens", Config{Limit: 10, Burst: 10}, Config{Limit: 20, Burst: 10}, 6, 0, 4, 0},
		{"empty stays empty", Config{Limit: 10, Burst: 10}, Config{Limit: 20, Burst: 10}, 10, 0, 0, 50 * ms},
		{"smaller burst caps tokens", Config{Limit: 10, Burst: 10}, Config{Limit: 10, Burst: 2}, 3, 0, 2, 0},
		{"refill before the change counts", Config{Limit: 10, Burst: 10}, Config{Limit: 1, Burst: 10}, 10, 200 * ms, 2, 0},
		{"slower from empty", Config{Limit: 10, Burst: 5}, Config{Limit: 1, Burst: 5}, 5, 0, 0, time.Second},
		{"full stays full", Config{Limit: 10, Burst: 5}, Config{Limit: 1, Burst: 50}, 0, 0, 50, 0},
		{"window counts carry", Config{Algorithm: AlgorithmSlidingWindow, Limit: 10}, Config{Limit: 5}, 4, 0, 1, 0},
		{"window over the new limit", Config{Algorithm: AlgorithmSlidingWindow, Limit: 10}, Config{Limit: 3}, 8, 0, 0, time.Second + 333333334},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := mustNew(t, tt.from)
			if tt.spend > 0 && !l.AllowN(t0, tt.spend) {
				t.Fatal("could not spend")
			}
			if err := l.SetLimitAt(at(tt.change), tt.to); err != nil {
				t.Fatal(err)
			}
			s := l.SnapshotAt(at(tt.change))
			if math.Abs(s.Available-tt.available) > 1e-9 {
				t.Errorf("Available = %v, want %v", s.Available, tt.available)
			}
			if got := l.RetryAfterN(at(tt.change), 1); got != tt.retry {
				t.Errorf("RetryAfterN(t, 1) = %v, want %v", got, tt.retry)
			}
			if s.Config.Limit != tt.to.Limit || s.Config.Algorithm != tt.from.Algorithm && tt.from.Algorithm != AlgorithmDefault {
				t.Errorf("Config = %+v after SetLimit(%+v)", s.Config, tt.to)
			}
			if s.Allowed != 1 && tt.spend > 0 {
				t.Errorf("Allowed = %d across the change, want 1", s.Allowed)
			}
		})
	}
}

func TestSetLimitErrors(t *testing.T) {
	l, err := NewGCRA(Config{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.SetLimit(Config{Algorithm: AlgorithmSlidingWindow, Limit: 1}); err == nil {
		t.Error("SetLimit changed the algorithm")
	}
	if err := l.SetLimit(Config{Limit: -1}); err == nil || err.Error() != "ratelimit: limit: -1 must be > 0" {
		t.Errorf("SetLimit(-1) = %v", err)
	}
	if err := l.SetLimit(Config{Algorithm: AlgorithmGCRA, Limit: 2}); err != nil {
		t.Error(err)
	}
	if got := l.Config(); got.Limit != 2 || got.Algorithm != AlgorithmGCRA {
		t.Errorf("Config() = %+v", got)
	}
}

// TestConcurrentAllowN runs callers in parallel at one instant: exactly the
// burst (or the window's limit) is admitted.
func TestConcurrentAllowN(t *testing.T) {
	for _, cfg := range []Config{
		{Algorithm: AlgorithmTokenBucket, Limit: 1, Burst: 500},
		{Algorithm: AlgorithmGCRA, Limit: 1, Burst: 500},
		{Algorithm: AlgorithmSlidingWindow, Limit: 500, Per: time.Hour},
	} {
		l := mustNew(t, cfg)
		var wg sync.WaitGroup
		var mu sync.Mutex
		admitted := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := 0
				for range 200 {
					if l.AllowN(t0, 1) {
						n++
					}
				}
				mu.Lock()
				admitted += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		if admitted != 500 {
			t.Errorf("%v: admitted %d, want 500", cfg.Algorithm, admitted)
		}
		s := l.SnapshotAt(t0)
		if s.Allowed != 500 || s.Rejected != 8*200-500 {
			t.Errorf("%v: snapshot counts %d/%d", cfg.Algorithm, s.Allowed, s.Rejected)
		}
	}
}

// TestConcurrentSetLimit changes the limit while callers run: no call is
// lost or double counted, and the state stays consistent.
func TestConcurrentSetLimit(t *testing.T) {
	l, err := NewTokenBucket(Config{Limit: 1, Burst: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 300 {
				l.AllowN(t0, 1)
			}
		}()
	}
	for i := range 50 {
		if err := l.SetLimitAt(t0, Config{Limit: float64(1 + i%3), Burst: 1000}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	s := l.SnapshotAt(t0)
	if s.Allowed+s.Rejected != 1200 || s.Allowed != 1000 {
		t.Errorf("allowed %d, rejected %d; want 1000 of 1200", s.Allowed, s.Rejected)
	}
	if s.Available != 0 {
		t.Errorf("Available = %v, want 0", s.Available)
	}
}

func TestSnapshot(t *testing.T) {
	l, err := NewTokenBucket(Config{Limit: 2, Burst: 4})
	if err != nil {
		t.Fatal(err)
	}
	for range 6 {
		l.AllowN(t0, 1)
	}
	s := l.SnapshotAt(t0.Add(250 * time.Millisecond))
	want := Snapshot{
		Config:     Config{Algorithm: AlgorithmTokenBucket, Limit: 2, Per: time.Second, Burst: 4},
		Allowed:    4,
		Rejected:   2,
		Available:  0.5,
		RetryAfter: 250 * time.Millisecond,
	}
	if s != want {
		t.Errorf("SnapshotAt = %+v\nwant %+v", s, want)
	}
}

// TestClockMethods exercises the clock-reading methods, coarse and precise,
// with a limit slow enough that no refill happens during the test.
func TestClockMethods(t *testing.T) {
	for _, precise := range []bool{false, true} {
		for _, algo := range []Algorithm{AlgorithmTokenBucket, AlgorithmGCRA, AlgorithmSlidingWindow} {
			l := mustNew(t, Config{Algorithm: algo, Limit: 3, Per: time.Hour, Burst: 3, Precise: precise})
			if l.RetryAfter() != 0 {
				t.Errorf("%v: RetryAfter of a fresh limiter = %v", algo, l.RetryAfter())
			}
			for i := range 3 {
				if !l.Allow() {
					t.Fatalf("%v precise=%v: call %d rejected", algo, precise, i)
				}
			}
			if l.Allow() {
				t.Fatalf("%v precise=%v: fourth call admitted", algo, precise)
			}
			if ra := l.RetryAfter(); ra <= 0 || ra > time.Hour*4/3 {
				t.Errorf("%v: RetryAfter = %v", algo, ra)
			}
			s := l.Snapshot()
			if s.Allowed != 3 || s.Rejected != 1 || s.Config.Precise != precise {
				t.Errorf("%v: Snapshot = %+v", algo, s)
			}
		}
	}
}

func TestAllowNViaInterface(t *testing.T) {
	l, err := NewSlidingWindow(Config{Limit: 5, Per: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if !l.AllowN(now, 5) || l.AllowN(now, 1) {
		t.Error("AllowN did not take the whole window")
	}
	if ra := l.RetryAfterN(now, 6); ra != neverD {
		t.Errorf("RetryAfterN(6) = %v, want never", ra)
	}
}

func TestTimesAreClamped(t *testing.T) {
	l, err := NewTokenBucket(Config{Limit: 1, Burst: 2})
	if err != nil {
		t.Fatal(err)
	}
	far := []time.Time{{}, time.Unix(1<<62, 0), time.Unix(-1<<62, 0), t0.AddDate(200, 0, 0)}
	for _, tm := range far {
		l.AllowN(tm, 1)
		if ra := l.RetryAfterN(tm, 1); ra < 0 {
			t.Errorf("RetryAfterN(%v, 1) = %v", tm, ra)
		}
	}
	w, err := NewSlidingWindow(Config{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range far {
		w.AllowN(tm, 1)
		if ra := w.RetryAfterN(tm, 1); ra < 0 {
			t.Errorf("window RetryAfterN(%v, 1) = %v", tm, ra)
		}
	}
}

// TestSlidingWindowTimeBackwards: a call before the stored window counts as
// made at its start, which is never looser.
func TestSlidingWindowTimeBackwards(t *testing.T) {
	l, err := NewSlidingWindow(Config{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !l.AllowN(at(5*time.Second), 2) {
		t.Fatal("rejected")
	}
	if l.AllowN(at(4*time.Second), 1) {
		t.Error("a call in the past went through a full window")
	}
}

func TestSlidingWindowWrap(t *testing.T) {
	// With the largest limit, window numbers keep 22 bits: a gap of exactly
	// 2^22 windows reads as the same window (stricter, never looser).
	l, err := NewSlidingWindow(Config{Limit: maxWindowLimit, Per: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !l.AllowN(t0, maxWindowLimit) {
		t.Fatal("rejected")
	}
	if l.AllowN(at(time.Millisecond<<22), 1) {
		t.Error("wrapped window admitted over the stale count")
	}
	if !l.AllowN(at(time.Millisecond<<22+2*time.Millisecond), 1) {
		t.Error("two windows after the wrap still limited")
	}
	// A long gap (over half the numbering) is a gap, not time going back.
	if !l.AllowN(at(time.Millisecond<<22+3*time.Millisecond), maxWindowLimit-1) {
		t.Fatal("rejected")
	}
	if !l.AllowN(at(time.Millisecond<<22+3*time.Millisecond+time.Millisecond<<21+5), maxWindowLimit) {
		t.Error("a gap of 2^21 windows read as time going back")
	}
}

func TestCoarseClockTick(t *testing.T) {
	var c coarseClock
	idle := 0
	read := func() int64 { // what coarseNow does, on c
		if w := c.word.Load(); w&1 != 0 {
			return w >> 1
		}
		return c.slow()
	}
	if !c.tick(0, &idle) || read() != 1 {
		t.Fatalf("first tick: now = %d", read())
	}
	for i := 1; i < clockIdleTicks; i++ {
		if !c.tick(int64(i)*1e6, &idle) {
			t.Fatalf("stopped after %d idle ticks", i)
		}
	}
	if read() != (clockIdleTicks-1)*1e6 { // a reader comes back
		t.Fatalf("read %d", read())
	}
	if !c.tick(5e9, &idle) || read() != 5e9 {
		t.Fatal("a used clock stopped")
	}
	for range clockIdleTicks { // the first sees the read above
		c.tick(6e9, &idle)
	}
	if c.tick(7e9, &idle) || c.word.Load() != 0 {
		t.Errorf("clock still running after %d idle ticks", clockIdleTicks)
	}
}

func TestCoarseNowIsBehindPrecise(t *testing.T) {
	for range 100 {
		c := coarseNow()
		p := preciseNow()
		if c <= 0 || c > p {
			t.Fatalf("coarse %d, precise %d", c, p)
		}
	}
}

func TestAllocs(t *testing.T) {
	for _, algo := range []Algorithm{AlgorithmTokenBucket, AlgorithmGCRA, AlgorithmSlidingWindow} {
		for _, precise := range []bool{false, true} {
			// admitting
			l := mustNew(t, Config{Algorithm: algo, Limit: 1 << 20, Per: time.Nanosecond << 20, Precise: precise})
			if n := testing.AllocsPerRun(1000, func() { l.Allow() }); n != 0 {
				t.Errorf("%v: Allow allocates %v", algo, n)
			}
			// rejecting
			l = mustNew(t, Config{Algorithm: algo, Limit: 1, Per: time.Hour, Precise: precise})
			if n := testing.AllocsPerRun(1000, func() { l.Allow(); l.RetryAfter() }); n != 0 {
				t.Errorf("%v: rejecting Allow allocates %v", algo, n)
			}
			if n := testing.AllocsPerRun(1000, func() { l.AllowN(t0, 1); l.RetryAfterN(t0, 1); l.SnapshotAt(t0) }); n != 0 {
				t.Errorf("%v: AllowN allocates %v", algo, n)
			}
		}
	}
}

// TestCoarseClockNotInBubble: the coarse clock never starts inside a
// synctest bubble, whose goroutines and time are fake.
func TestCoarseClockNotInBubble(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var c coarseClock
		if v := c.start(); v >= 0 || c.word.Load() != 0 {
			t.Errorf("start in a bubble = %d, clock at %d", v, c.word.Load())
		}
		r, err := Config{Limit: 1}.rate()
		if err != nil || !r.precise {
			t.Errorf("a limiter built in a bubble does not read the precise clock")
		}
	})
}
