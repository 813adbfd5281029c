package adaptive_test

import (
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core/adaptive"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const ms = time.Millisecond

// step is one sample and the limit expected after it.
type step struct {
	at       time.Duration // since t0
	rtt      time.Duration
	inflight int
	dropped  bool
	want     int
}

func run(t *testing.T, alg adaptive.Algorithm, steps []step) {
	t.Helper()
	for i, s := range steps {
		if got := alg.Sample(t0.Add(s.at), s.rtt, s.inflight, s.dropped); got != s.want {
			t.Fatalf("step %d (%+v): limit %d, want %d", i, s, got, s.want)
		}
		if got := alg.Limit(); got != s.want {
			t.Fatalf("step %d: Limit() %d, Sample returned %d", i, got, s.want)
		}
	}
}

func TestGradient2HandComputed(t *testing.T) {
	g, err := adaptive.NewGradient2(adaptive.Gradient2Config{
		Bounds:    adaptive.Bounds{Min: 1, Max: 100, Initial: 10},
		Smoothing: 1, Tolerance: 1, ShortWindow: 1, LongWindow: 3, // long alpha 0.5
		QueueSize: func(int) int { return 2 },
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, g, []step{
		// short 100, long 100: gradient 1 → 10 + 2
		{0, 100 * ms, 10, false, 12},
		// short 200 above tolerance·long: long holds at 100; gradient .5
		// → 12·.5 + 2 = 8
		{1 * ms, 200 * ms, 12, false, 8},
		// short 400, long 100: gradient .25, floored at .5 → 8·.5 + 2 = 6
		{2 * ms, 400 * ms, 11, false, 6},
		// short 100, long (100+100)/2 = 100: gradient 1 → 8
		{3 * ms, 100 * ms, 9, false, 8},
		// 2 in flight < 8/2: app-limited, no change (long 100)
		{4 * ms, 100 * ms, 2, false, 8},
		// short 10, long (100+10)/2 = 55 > 2·short: decays to 52.25;
		// gradient 1 → 10
		{5 * ms, 10 * ms, 11, false, 10},
		// no information: unchanged
		{6 * ms, 0, 10, true, 10},
		{7 * ms, -5 * ms, 10, false, 10},
	})
	if g.Baseline() != 52250*time.Microsecond {
		t.Fatalf("baseline %v, want 52.25ms", g.Baseline())
	}
}

func TestGradient2SustainedOverloadKeepsTheBaseline(t *testing.T) {
	g, err := adaptive.NewGradient2(adaptive.Gradient2Config{
		Bounds:    adaptive.Bounds{Min: 1, Max: 100, Initial: 10},
		Smoothing: 1, LongWindow: 3, // tolerance 1.5; long alpha 0.5
		QueueSize: func(int) int { return 2 },
	})
	if err != nil {
		t.Fatal(err)
	}
	steps := []step{
		// short 100, long 100: gradient min(1.5, 1) = 1 → 10 + 2
		{0, 100 * ms, 10, false, 12},
		// short 200 > 1.5·100: long holds at 100 (it used to become 150);
		// gradient 1.5·100/200 = .75 → 12·.75 + 2 = 11
		{1 * ms, 200 * ms, 12, false, 11},
		// 11·.75 + 2 = 10.25
		{2 * ms, 200 * ms, 11, false, 10},
		// 10.25·.75 + 2 = 9.6875
		{3 * ms, 200 * ms, 10, false, 9},
		// 9.6875·.75 + 2 = 9.265625
		{4 * ms, 200 * ms, 9, false, 9},
	}
	// ... and on towards the fixed point L = .75·L + 2 = 8, from above.
	for i := range 50 {
		steps = append(steps, step{time.Duration(5+i) * ms, 200 * ms, 9, false, 8}) // 8.95, 8.71, ...
	}
	run(t, g, steps)
	if g.Baseline() != 100*ms {
		t.Fatalf("baseline %v after a sustained 200ms, want the no-load 100ms", g.Baseline())
	}
	// Latency back within the tolerance: the baseline follows it again.
	// short 120 ≤ 150: long (100 + 120)/2 = 110; gradient 1 → 10.00 + 2
	run(t, g, []step{{time.Second, 120 * ms, 8, false, 10}})
	if g.Baseline() != 110*ms {
		t.Fatalf("baseline %v, want 110ms", g.Baseline())
	}
}

// TestGradient2SustainedOverloadWithDefaults: with its default settings
// and the simulation's bounds, a dependency that serves one call per
// millisecond, 10 at a time (a call's RTT in ms is the calls in flight, at
// least 10), held in overload (every slot in use), brings the limit down
// to where it stays instead of raising it to the maximum as it used to.
// Baseline 10ms, tolerance 1.5: at limit L the gradient is 15/L and the
// new limit .8·L + .2·(15 + √L), whose fixed point, with √19 counted as 4,
// is 19. Every ProbeInterval (1 minute, 600 samples) of that spell the
// limit drops to Min for a probe, which measures 10ms again: the baseline
// stays.
func TestGradient2SustainedOverloadWithDefaults(t *testing.T) {
	g, err := adaptive.NewGradient2(adaptive.Gradient2Config{Bounds: adaptive.Bounds{Min: 1, Max: 200, Initial: 20}})
	if err != nil {
		t.Fatal(err)
	}
	at := t0
	for range 100 { // light load: 5 in flight, app-limited; baseline 10ms
		at = at.Add(100 * ms)
		if got := g.Sample(at, 10*ms, 5, false); got != 20 {
			t.Fatalf("light load: limit %d, want 20", got)
		}
	}
	// 20 in flight, 20ms: .8·20 + .2·(20·15/20 + 4) = 19.8, then 19.77,
	// ... down to 19. The spell begins at sample 0: the first probe at
	// sample 600 (60s later) takes three samples at Min (10ms each), then
	// the limit is back and a new spell begins: the next probe at 1204.
	probes := 0
	for i := range 2000 {
		at = at.Add(100 * ms)
		want := 19
		if k := i - 600; k >= 0 && k%604 < 3 {
			want = 1
			if k%604 == 0 {
				probes++
			}
		}
		if got := g.Sample(at, time.Duration(max(10, g.Limit()))*ms, g.Limit(), false); got != want {
			t.Fatalf("overload sample %d: limit %d, want %d", i, got, want)
		}
		if g.Baseline() != 10*ms {
			t.Fatalf("overload sample %d: baseline %v, want 10ms", i, g.Baseline())
		}
	}
	if probes != 3 {
		t.Fatalf("%d probes, want 3", probes)
	}
}

// TestGradient2RelearnsTheBaselineOfASlowerDependency: a dependency whose
// latency triples for good, whatever the load, is not taken as overloaded
// for ever. The limit comes down while the latency is above the tolerance,
// to its floor (4 = 2·√4: the lowest gradient no longer lowers it); five
// samples there start a probe at Min, which finds 30ms: the baseline
// becomes 30ms and the limit grows again.
func TestGradient2RelearnsTheBaselineOfASlowerDependency(t *testing.T) {
	g, err := adaptive.NewGradient2(adaptive.Gradient2Config{Bounds: adaptive.Bounds{Min: 1, Max: 200, Initial: 20}})
	if err != nil {
		t.Fatal(err)
	}
	at := t0
	for range 200 {
		at = at.Add(100 * ms)
		g.Sample(at, 10*ms, g.Limit(), false)
	}
	if g.Limit() != 200 || g.Baseline() != 10*ms {
		t.Fatalf("healthy: limit %d, baseline %v; want 200, 10ms", g.Limit(), g.Baseline())
	}
	// 30ms from now on. Gradient 1.5·10/30 → .5: .8·200 + .2·(100 + 14) =
	// 182.8; .8·182.8 + .2·(91.4 + 13) = 167.12; ... towards 4.
	for i, want := range []int{182, 167} {
		at = at.Add(100 * ms)
		if got := g.Sample(at, 30*ms, g.Limit(), false); got != want {
			t.Fatalf("sample %d at 30ms: limit %d, want %d", i, got, want)
		}
	}
	probed := false
	for range 200 {
		at = at.Add(100 * ms)
		before := g.Limit()
		got := g.Sample(at, 30*ms, g.Limit(), false)
		if got == 1 && !probed {
			probed = true
			if before != 4 {
				t.Fatalf("probe from limit %d, want from the floor 4", before)
			}
			if g.Baseline() != 10*ms {
				t.Fatalf("baseline %v before the probe ends, want 10ms", g.Baseline())
			}
		}
	}
	if !probed {
		t.Fatal("no probe at the floor")
	}
	if g.Baseline() != 30*ms || g.Limit() != 200 {
		t.Fatalf("after the probe: baseline %v, limit %d; want 30ms, 200", g.Baseline(), g.Limit())
	}
}

// TestGradient2ProbesTheBaselineAtTheFloor: five samples in a row at the
// floor, during a spell of latency above the tolerance, start a probe at
// Min; calls admitted before it are left out; the lowest RTT of the next
// three becomes the baseline.
func TestGradient2ProbesTheBaselineAtTheFloor(t *testing.T) {
	cfg := adaptive.Gradient2Config{
		Bounds:    adaptive.Bounds{Min: 1, Max: 100, Initial: 8},
		Smoothing: 1, LongWindow: 3, // long alpha 0.5
		QueueSize: func(int) int { return 1 }, // floor: a limit of 2·1
	}
	toFloor := []step{
		// baseline 100, gradient 1 → 8 + 1 = 9
		{0, 100 * ms, 8, false, 9},
		// 400 > 150: a spell begins; gradient .375 → .5: 9·.5 + 1 = 5.5
		{1 * ms, 400 * ms, 9, false, 5},
		{2 * ms, 400 * ms, 5, false, 3}, // 3.75
		{3 * ms, 400 * ms, 3, false, 2}, // 2.875: at the floor (1)
		{4 * ms, 400 * ms, 2, false, 2}, // 2.4375 (2)
		{5 * ms, 400 * ms, 2, false, 2}, // 2.21875 (3)
		{6 * ms, 400 * ms, 2, false, 2}, // 2.109375 (4)
		// 2.0546875 (5): the probe begins, at Min
		{7 * ms, 400 * ms, 2, false, 1},
		// 2 in flight: a call admitted before the probe, left out
		{8 * ms, 400 * ms, 2, false, 1},
	}
	// A dependency that became slower: 400ms at Min too.
	g, _ := adaptive.NewGradient2(cfg)
	run(t, g, append(toFloor, []step{
		{9 * ms, 400 * ms, 1, false, 1},
		{10 * ms, 400 * ms, 1, false, 1},
		// the third: baseline 400, back to 2.0546875
		{11 * ms, 400 * ms, 1, false, 2},
		// 400 within the tolerance of 400: gradient 1 → 3.05...
		{12 * ms, 400 * ms, 2, false, 3},
		{13 * ms, 400 * ms, 3, false, 4},
	}...))
	if g.Baseline() != 400*ms {
		t.Fatalf("slower dependency: baseline %v, want 400ms", g.Baseline())
	}
	// A queue of the guard's own: gone at Min, where the probe finds
	// 120ms (a call from before the probe in that window), 100 and 110:
	// the baseline stays 100ms, and the limit comes back to 2.05 under the
	// 400ms queue.
	g2, _ := adaptive.NewGradient2(cfg)
	run(t, g2, append(toFloor, []step{
		{9 * ms, 120 * ms, 1, false, 1},
		{10 * ms, 100 * ms, 1, false, 1},
		{11 * ms, 110 * ms, 1, false, 2},
		// 400 again: a new spell; 2.0546875·.5 + 1 = 2.03
		{12 * ms, 400 * ms, 2, false, 2},
	}...))
	if g2.Baseline() != 100*ms {
		t.Fatalf("own queue: baseline %v, want 100ms", g2.Baseline())
	}
}

// TestGradient2ProbesAfterProbeInterval: a spell that keeps the limit
// above its floor is probed after ProbeInterval; a probe that finds no
// sample with at most Min in flight is given up after ProbeInterval.
func TestGradient2ProbesAfterProbeInterval(t *testing.T) {
	g, _ := adaptive.NewGradient2(adaptive.Gradient2Config{
		Bounds:    adaptive.Bounds{Min: 1, Max: 100, Initial: 8},
		Smoothing: 1, LongWindow: 3, ProbeInterval: time.Second,
		QueueSize: func(int) int { return 2 }, // floor 4
	})
	run(t, g, []step{
		{0, 100 * ms, 8, false, 10},
		// 200 > 150: a spell from 100ms; gradient .75 → 10·.75 + 2 = 9.5
		{100 * ms, 200 * ms, 10, false, 9},
		{600 * ms, 200 * ms, 9, false, 9}, // 9.125
		// a second later: the probe, at Min
		{1100 * ms, 200 * ms, 9, false, 1},
		// no sample with at most 1 in flight for a second: given up,
		// back to 8.84375 (9.125·.75 + 2) with the baseline kept
		{1500 * ms, 200 * ms, 9, false, 1},
		{2100 * ms, 200 * ms, 9, false, 8},
	})
	if g.Baseline() != 100*ms {
		t.Fatalf("baseline %v, want 100ms", g.Baseline())
	}
}

func TestGradient2Smoothing(t *testing.T) {
	g, err := adaptive.NewGradient2(adaptive.Gradient2Config{
		Bounds:    adaptive.Bounds{Min: 1, Max: 100, Initial: 10},
		Smoothing: 0.5, Tolerance: 1, LongWindow: 599, // long alpha 1/300
		QueueSize: func(int) int { return 0 },
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, g, []step{
		{0, 100 * ms, 10, false, 10},
		// short 1000, long 103: gradient .103 → .5 floor: 5; smoothed (10+5)/2
		{1 * ms, 1000 * ms, 10, false, 7},
	})
}

func TestGradient2Bounds(t *testing.T) {
	g, _ := adaptive.NewGradient2(adaptive.Gradient2Config{Bounds: adaptive.Bounds{Min: 4, Max: 30, Initial: 10}})
	for i := range 200 {
		if got := g.Sample(t0.Add(time.Duration(i)*ms), 10*ms, 30, false); got > 30 {
			t.Fatalf("limit %d above max", got)
		}
	}
	if g.Limit() != 30 {
		t.Fatalf("steady latency at full use: limit %d, want max 30", g.Limit())
	}
	sawMin := false
	for i := range 200 { // a latency that grows with the limit, far above 10ms
		got := g.Sample(t0.Add(time.Second+time.Duration(i)*ms), time.Duration(g.Limit())*time.Second, g.Limit(), false)
		if got < 4 || got > 30 {
			t.Fatalf("latency growing with the limit: limit %d outside [4, 30]", got)
		}
		sawMin = sawMin || got == 4
	}
	if !sawMin {
		t.Fatalf("latency growing with the limit: never at min 4")
	}
}

func TestVegasHandComputed(t *testing.T) {
	v, err := adaptive.NewVegas(adaptive.VegasConfig{Bounds: adaptive.Bounds{Min: 1, Max: 100, Initial: 10}})
	if err != nil {
		t.Fatal(err)
	}
	run(t, v, []step{
		{0, 100 * ms, 10, false, 10},      // baseline 100
		{1 * ms, 100 * ms, 10, false, 11}, // queue 0 < 3·1: +1
		{2 * ms, 110 * ms, 11, false, 12}, // queue 11·(1-100/110)=1 < 3·1.04: +log10(11) = 12.04
		{3 * ms, 200 * ms, 12, false, 12}, // queue 6.02 in [3.24, 6.48]: unchanged
		{4 * ms, 400 * ms, 12, false, 10}, // queue 9.03 > 6.48: -1.08 = 10.96
		{5 * ms, 0, 10, true, 9},          // dropped: -log10(10.96) = 9.92
		{6 * ms, 50 * ms, 9, false, 9},    // new baseline 50: unchanged
		{7 * ms, 100 * ms, 2, false, 9},   // app-limited
		{8 * ms, -1 * ms, 9, false, 9},    // no information
		{9 * ms, 50 * ms, 9, false, 10},   // queue 0: +1 = 10.92
	})
	if v.Baseline() != 50*ms {
		t.Fatalf("baseline %v, want 50ms", v.Baseline())
	}
}

func TestVegasBaselineTTL(t *testing.T) {
	v, _ := adaptive.NewVegas(adaptive.VegasConfig{Bounds: adaptive.Bounds{Initial: 10}, BaselineTTL: time.Minute})
	run(t, v, []step{
		{0, 100 * ms, 10, false, 10},
		{time.Second, 300 * ms, 10, false, 9},      // queue 6.67 > 6: shrink
		{time.Minute, 300 * ms, 9, false, 9},       // baseline expired: relearned as 300
		{time.Minute + ms, 300 * ms, 9, false, 10}, // no queue against the new baseline
	})
	if v.Baseline() != 300*ms {
		t.Fatalf("baseline %v, want 300ms", v.Baseline())
	}
}

func TestAIMDHandComputed(t *testing.T) {
	a, err := adaptive.NewAIMD(adaptive.AIMDConfig{
		Bounds:   adaptive.Bounds{Min: 2, Max: 8, Initial: 5},
		Backoff:  0.5,
		Timeout:  time.Second,
		Cooldown: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	run(t, a, []step{
		{0, 10 * ms, 5, false, 6},                   // +1
		{1 * ms, 10 * ms, 2, false, 6},              // 2·2 < 6: app-limited
		{2 * ms, 10 * ms, 6, true, 3},               // dropped: ·0.5
		{3 * ms, 10 * ms, 3, true, 3},               // within the cooldown
		{1002 * ms, 10 * ms, 3, true, 2},            // 1.5, clamped to min 2
		{1003 * ms, 10 * ms, 2, false, 3},           // +1
		{1004 * ms, 10 * ms, 3, false, 4},           //
		{3 * time.Second, time.Second, 4, false, 2}, // timeout counts as dropped
		{1 * ms, 10 * ms, 2, true, 2},               // clock stepped back: still in the cooldown
		{4 * time.Second, 10 * ms, 2, false, 3},     //
		{4 * time.Second, 10 * ms, 3, false, 4},     //
		{4 * time.Second, 10 * ms, 4, false, 5},     //
		{4 * time.Second, 10 * ms, 5, false, 6},     //
		{4 * time.Second, 10 * ms, 6, false, 7},     //
		{4 * time.Second, 10 * ms, 7, false, 8},     //
		{4 * time.Second, 10 * ms, 8, false, 8},     // max
	})
}

func TestAIMDCooldownFromZeroTime(t *testing.T) {
	// A simulation may start at the zero time: the first decrease there must
	// still start a cooldown.
	a, _ := adaptive.NewAIMD(adaptive.AIMDConfig{Bounds: adaptive.Bounds{Initial: 10}, Backoff: 0.5, Cooldown: time.Second})
	var zero time.Time
	if got := a.Sample(zero, ms, 10, true); got != 5 {
		t.Fatalf("first drop: %d, want 5", got)
	}
	if got := a.Sample(zero.Add(ms), ms, 10, true); got != 5 {
		t.Fatalf("drop within the cooldown: %d, want 5", got)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{adaptive.Bounds{Min: 10, Max: 5}.Validate(), "maxLimit: 5 must be at least minLimit 10"},
		{adaptive.Bounds{Min: -1}.Validate(), "minLimit: -1"},
		{adaptive.Bounds{Min: 2, Max: 5, Initial: 9}.Validate(), "initialLimit: 9 must be between minLimit 2 and maxLimit 5"},
		{adaptive.Gradient2Config{Smoothing: 2}.Validate(), "smoothing: 2"},
		{adaptive.Gradient2Config{Tolerance: 0.5}.Validate(), "tolerance: 0.5"},
		{adaptive.Gradient2Config{ShortWindow: 10, LongWindow: 5}.Validate(), "longWindow: 5 must be at least shortWindow 10"},
		{adaptive.Gradient2Config{ProbeInterval: -time.Second}.Validate(), "probeInterval: -1s must not be negative"},
		{adaptive.VegasConfig{Alpha: 8, Beta: 4}.Validate(), "beta: 4 must be at least alpha 8"},
		{adaptive.VegasConfig{BaselineTTL: -1}.Validate(), "baselineTTL"},
		{adaptive.AIMDConfig{Backoff: 1}.Validate(), "backoff: 1"},
		{adaptive.AIMDConfig{Increase: -1}.Validate(), "increase: -1"},
		{adaptive.Window{Samples: -1}.Validate(), "windowSamples: -1"},
		{adaptive.Window{Interval: -1}.Validate(), "windowInterval"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q", tc.err, tc.want)
		}
	}
	if err := (adaptive.Bounds{}).Validate(); err != nil {
		t.Errorf("zero Bounds: %v", err)
	}
}

// recorder is an Algorithm that keeps what it was fed, to check what a
// Limiter hands on.
type recorder struct {
	got   []step
	limit int
}

func (r *recorder) Sample(now time.Time, rtt time.Duration, inflight int, dropped bool) int {
	r.got = append(r.got, step{now.Sub(t0), rtt, inflight, dropped, 0})
	r.limit++
	return r.limit
}
func (r *recorder) Limit() int { return r.limit }

func TestLimiterWindows(t *testing.T) {
	r := &recorder{limit: 10}
	l, err := adaptive.NewLimiter(r, adaptive.Window{Samples: 3, Interval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec := func(at, rtt time.Duration, in int, drop bool, wantLimit int, wantChanged bool) {
		t.Helper()
		lim, ch := l.Record(t0.Add(at), rtt, in, drop)
		if lim != wantLimit || ch != wantChanged {
			t.Fatalf("Record at %v: (%d, %v), want (%d, %v)", at, lim, ch, wantLimit, wantChanged)
		}
	}
	rec(0, 10*ms, 1, false, 10, false)
	rec(ms, 20*ms, 5, true, 10, false)
	rec(2*ms, 30*ms, 3, false, 11, true) // third sample closes the window
	rec(500*ms, 40*ms, 2, false, 11, false)
	rec(1002*ms, 0, 1, false, 12, true) // past the interval; an untimed sample
	if len(r.got) != 2 {
		t.Fatalf("algorithm fed %d times, want 2: %+v", len(r.got), r.got)
	}
	if w := (step{2 * ms, 20 * ms, 5, true, 0}); r.got[0] != w {
		t.Errorf("first window %+v, want %+v (mean RTT, max in flight, any drop)", r.got[0], w)
	}
	if w := (step{1002 * ms, 40 * ms, 2, false, 0}); r.got[1] != w {
		t.Errorf("second window %+v, want %+v (the untimed sample left out of the mean)", r.got[1], w)
	}
	if l.Limit() != 12 {
		t.Errorf("Limit %d, want 12", l.Limit())
	}
}

func TestLimiterRecordDoesNotAllocate(t *testing.T) {
	alg, _ := adaptive.New(adaptive.NameGradient2, adaptive.Bounds{})
	l, _ := adaptive.NewLimiter(alg, adaptive.Window{Samples: 5})
	i := 0
	if n := testing.AllocsPerRun(1000, func() {
		i++
		l.Record(t0.Add(time.Duration(i)*ms), 10*ms, 10, i%7 == 0)
	}); n != 0 {
		t.Fatalf("Record allocates %v times per call", n)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	alg, _ := adaptive.New(adaptive.NameAIMD, adaptive.Bounds{Min: 3, Max: 40})
	l, _ := adaptive.NewLimiter(alg, adaptive.Window{Samples: 4})
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 2000 {
				lim, _ := l.Record(t0.Add(time.Duration(i)*ms), time.Duration(i%50)*ms, 40, (i+g)%97 == 0)
				if lim < 3 || lim > 40 {
					t.Errorf("limit %d out of [3, 40]", lim)
					return
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}

func TestClockSteppingBackNeitherRewindsNorExpires(t *testing.T) {
	v, _ := adaptive.NewVegas(adaptive.VegasConfig{Bounds: adaptive.Bounds{Initial: 10}, BaselineTTL: time.Minute})
	run(t, v, []step{
		{10 * time.Minute, 100 * ms, 10, false, 10}, // baseline 100ms at 10m
		// The clock steps back 10 minutes: the sample counts at 10m, so the
		// baseline is neither expired (a negative age) nor relearned.
		{0, 300 * ms, 10, false, 9},
	})
	if v.Baseline() != 100*ms {
		t.Fatalf("baseline %v after the clock stepped back, want 100ms", v.Baseline())
	}
}
