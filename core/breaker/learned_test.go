package breaker_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

var errDep = errors.New("dependency failed")

// drive makes calls at 100 per second from start for d, failing the calls
// fail says fail, and returns the time after the last call and the first
// state change, if any.
func drive(t *testing.T, b *breaker.Breaker, start time.Time, d time.Duration, fail func(i int) bool, latency func(i int) time.Duration) (time.Time, breaker.State) {
	t.Helper()
	now := start
	for i := 0; now.Before(start.Add(d)); i++ {
		p, err := b.AllowAt(context.Background(), now)
		if err != nil {
			return now, b.State()
		}
		var e error
		if fail(i) {
			e = errDep
		}
		done := now
		if latency != nil {
			done = now.Add(latency(i))
		}
		p.DoneAt(done, e)
		if s := b.State(); s != breaker.Closed {
			return now, s
		}
		now = now.Add(10 * time.Millisecond)
	}
	return now, b.State()
}

func every(n int) func(int) bool { return func(i int) bool { return i%n == 0 } }

func TestLearnedRuleToleratesASteadyFewPercentAndTripsOnAJump(t *testing.T) {
	b, err := breaker.New(breaker.Config{
		Learned: &breaker.LearnedConfig{Interval: time.Second},
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	// Ten minutes of a dependency that always fails 3% of calls (every 33rd),
	// 100 calls a second: a fixed 5% failure rate would do, but a dependency
	// at 3% cannot be told from one at 20% by the default 50%.
	now, s := drive(t, b, start, 10*time.Minute, every(33), nil)
	if s != breaker.Closed {
		t.Fatalf("a steady 3%% failure rate tripped the breaker at %v", now.Sub(start))
	}
	base, ok := b.LearnedBaseline()
	if !ok || base.Periods < 500 || base.FailureRate < 2.5 || base.FailureRate > 3.5 {
		t.Fatalf("baseline %+v (ok %v), want about 3%% over about 600 periods", base, ok)
	}
	// The failure rate jumps to 20% (every 5th call): the rule trips within
	// a period, long before the 50% rule would.
	tripAt, s := drive(t, b, now, 10*time.Second, every(5), nil)
	if s != breaker.Open {
		t.Fatalf("20%% failures: state %v, want open", s)
	}
	if d := tripAt.Sub(now); d > time.Second {
		t.Fatalf("tripped %v after the jump, want within one period (1s)", d)
	}
	if r := b.Snapshot().LastTransition.Reason; !strings.Contains(r, "departs from the learned") {
		t.Fatalf("trip reason %q", r)
	}
}

func TestLearnedRuleWaitsForWarmup(t *testing.T) {
	b, _ := breaker.New(breaker.Config{
		Learned: &breaker.LearnedConfig{Interval: time.Second, Warmup: 5},
	})
	start := time.Now()
	// 20% from the first call: nothing learned yet, and 20% is under the
	// default 50% rule, so the breaker stays closed while it learns.
	now, s := drive(t, b, start, 5*time.Second+500*time.Millisecond, every(5), nil)
	if s != breaker.Closed {
		t.Fatalf("tripped during warm-up at %v", now.Sub(start))
	}
}

func TestLearnedRuleFloorKeepsAFlawlessDependencyFromTrippingOnAFewFailures(t *testing.T) {
	b, _ := breaker.New(breaker.Config{
		Learned: &breaker.LearnedConfig{Interval: time.Second, Warmup: 3},
	})
	start := time.Now()
	now, _ := drive(t, b, start, 10*time.Second, func(int) bool { return false }, nil)
	// σ is 0; the floor (5 points) still lets 4% through…
	now, s := drive(t, b, now, 10*time.Second, every(25), nil)
	if s != breaker.Closed {
		t.Fatalf("4%% failures after a flawless baseline tripped the breaker")
	}
	// …but not 17%.
	if _, s = drive(t, b, now, 2*time.Second, every(6), nil); s != breaker.Open {
		t.Fatalf("17%% failures after a ~0%% baseline: state %v, want open", s)
	}
}

func TestLearnedRuleLatency(t *testing.T) {
	b, _ := breaker.New(breaker.Config{
		Learned: &breaker.LearnedConfig{Interval: time.Second, Warmup: 3, LatencyFloor: 20 * time.Millisecond},
	})
	start := time.Now()
	never := func(int) bool { return false }
	// Latency alternates 40ms and 60ms: the baseline is 50ms.
	now, s := drive(t, b, start, 30*time.Second, never, func(i int) time.Duration { return time.Duration(40+20*(i%2)) * time.Millisecond })
	if s != breaker.Closed {
		t.Fatal("steady latency tripped the breaker")
	}
	base, _ := b.LearnedBaseline()
	if base.Latency < 49*time.Millisecond || base.Latency > 51*time.Millisecond {
		t.Fatalf("latency baseline %v, want 50ms", base.Latency)
	}
	// 65ms is within the 20ms floor; 80ms is not.
	now, s = drive(t, b, now, 5*time.Second, never, func(int) time.Duration { return 65 * time.Millisecond })
	if s != breaker.Closed {
		t.Fatal("65ms against a 50ms baseline and a 20ms floor tripped the breaker")
	}
	if _, s = drive(t, b, now, 5*time.Second, never, func(int) time.Duration { return 80 * time.Millisecond }); s != breaker.Open {
		t.Fatalf("80ms: state %v, want open", s)
	}
}

func TestLearnedConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		l    breaker.LearnedConfig
		want string
	}{
		{breaker.LearnedConfig{Interval: -1}, "learned.interval"},
		{breaker.LearnedConfig{MinCalls: -1}, "learned.minCalls: -1"},
		{breaker.LearnedConfig{FailureFloor: 101}, "learned.failureFloor: 101"},
		{breaker.LearnedConfig{Deviations: -2}, "learned.deviations: -2"},
	} {
		l := tc.l
		if _, err := breaker.New(breaker.Config{Learned: &l}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.l, err, tc.want)
		}
	}
	// The learned rule alone is a rule: disableFailureRate is allowed.
	if _, err := breaker.New(breaker.Config{DisableFailureRate: true, Learned: &breaker.LearnedConfig{}}); err != nil {
		t.Fatal(err)
	}
	b, _ := breaker.New(breaker.Config{})
	if _, ok := b.LearnedBaseline(); ok {
		t.Fatal("a breaker without the rule reports a baseline")
	}
}
