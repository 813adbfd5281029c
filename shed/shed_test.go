package shed_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/shed"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func newShedder(t testing.TB, cfg shed.Config) *shed.Shedder {
	t.Helper()
	s, err := shed.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// overloadInterval feeds one interval [start, start+100ms) whose smallest
// delay is delay, and closes it with a call at its end.
func overloadInterval(s *shed.Shedder, start time.Time, delay time.Duration) {
	s.ObserveAt(start.Add(ms(10)), delay+ms(30))
	s.ObserveAt(start.Add(ms(50)), delay)
}

// count returns how many of n requests of c at now are shed.
func count(t *testing.T, s *shed.Shedder, now time.Time, c shed.Criticality, n int) int {
	t.Helper()
	k := 0
	for range n {
		if err := s.AllowAt(now, c); err != nil {
			if !errors.Is(err, shed.ErrShed) || !errors.Is(err, core.ErrRejected) {
				t.Fatalf("AllowAt: %v does not match ErrShed and core.ErrRejected", err)
			}
			k++
		}
	}
	return k
}

func TestPressureLadderHandComputed(t *testing.T) {
	s := newShedder(t, shed.Config{}) // target 5ms, interval 100ms, step 0.25
	if err := s.AllowAt(t0, shed.Sheddable); err != nil {
		t.Fatalf("first call: %v", err)
	}
	// Interval 1: smallest delay 8ms > 5ms: overloaded, pressure 0.25.
	overloadInterval(s, t0, ms(8))
	now := t0.Add(ms(100))
	if got := count(t, s, now, shed.Sheddable, 8); got != 2 {
		t.Errorf("pressure 0.25: %d of 8 sheddable shed, want 2", got)
	}
	if got := count(t, s, now, shed.Default, 8); got != 0 {
		t.Errorf("pressure 0.25: %d of 8 default shed, want 0", got)
	}
	if p := s.Pressure(); p != 0.25 {
		t.Fatalf("pressure %v, want 0.25", p)
	}
	// Four more overloaded intervals: 0.5, 0.75, 1, 1.25.
	for i := 1; i <= 4; i++ {
		overloadInterval(s, t0.Add(time.Duration(i)*ms(100)), ms(6))
	}
	now = t0.Add(ms(500))
	if got := count(t, s, now, shed.Sheddable, 8); got != 8 {
		t.Errorf("pressure 1.25: %d of 8 sheddable shed, want 8", got)
	}
	if got := count(t, s, now, shed.Default, 8); got != 2 {
		t.Errorf("pressure 1.25: %d of 8 default shed, want 2", got)
	}
	if got := count(t, s, now, shed.Critical, 8); got != 0 {
		t.Errorf("pressure 1.25: %d of 8 critical shed, want 0", got)
	}
	if p := s.Pressure(); p != 1.25 {
		t.Fatalf("pressure %v, want 1.25", p)
	}
	// A calm interval (a request that did not wait) lowers it by one step.
	s.ObserveAt(t0.Add(ms(550)), 0)
	if got := count(t, s, t0.Add(ms(600)), shed.Default, 8); got != 0 {
		t.Errorf("pressure 1.0: %d of 8 default shed, want 0", got)
	}
	if p := s.Pressure(); p != 1 {
		t.Fatalf("pressure %v after a calm interval, want 1", p)
	}
	// Intervals without any call are calm: 2s later the pressure is 0.
	if got := count(t, s, t0.Add(ms(2600)), shed.Sheddable, 8); got != 0 {
		t.Errorf("after 2s idle: %d of 8 sheddable shed, want 0", got)
	}
	snap := s.Snapshot()
	if snap.Pressure != 0 || snap.Overloaded != 5 {
		t.Errorf("snapshot: pressure %v, overloaded %d; want 0, 5", snap.Pressure, snap.Overloaded)
	}
	if snap.Shed[shed.Sheddable] != 10 || snap.Shed[shed.Default] != 2 || snap.Shed[shed.Critical] != 0 {
		t.Errorf("snapshot shed counts %v", snap.Shed)
	}
}

func TestBurstThatDrainsWithinIntervalIsNoOverload(t *testing.T) {
	s := newShedder(t, shed.Config{})
	s.ObserveAt(t0, 0)
	for i := range 10 {
		// Long waits, but one request in each interval went straight through.
		s.ObserveAt(t0.Add(time.Duration(i)*ms(100)+ms(1)), ms(80))
		s.ObserveAt(t0.Add(time.Duration(i)*ms(100)+ms(2)), ms(1))
	}
	if p := s.Pressure(); p != 0 {
		t.Errorf("pressure %v after bursts that drained, want 0", p)
	}
}

func TestCriticalShedLastWhenEverythingIsCritical(t *testing.T) {
	s := newShedder(t, shed.Config{Step: 1})
	s.ObserveAt(t0, ms(50))
	for i := 1; i <= 3; i++ {
		s.ObserveAt(t0.Add(time.Duration(i)*ms(100)), ms(50))
	}
	if p := s.Pressure(); p != 3 {
		t.Fatalf("pressure %v, want the cap 3", p)
	}
	s.ObserveAt(t0.Add(ms(450)), ms(50))
	if got := count(t, s, t0.Add(ms(450)), shed.Critical, 4); got != 4 {
		t.Errorf("pressure 3: %d of 4 critical shed, want 4", got)
	}
}

func TestCPUSignal(t *testing.T) {
	var cpu time.Duration
	s := newShedder(t, shed.Config{CPULimit: 0.8, CPUs: 2, CPU: func() time.Duration { return cpu }})
	s.AllowAt(t0, shed.Default)
	cpu += ms(150) // 150ms of 200ms available: 75%
	s.AllowAt(t0.Add(ms(100)), shed.Default)
	if p := s.Pressure(); p != 0 {
		t.Fatalf("pressure %v at 75%% CPU, want 0", p)
	}
	cpu += ms(190) // 95%
	s.AllowAt(t0.Add(ms(200)), shed.Default)
	if p := s.Pressure(); p != 0.25 {
		t.Fatalf("pressure %v at 95%% CPU, want 0.25", p)
	}
}

func TestRejectionCarriesRetryAfterAndType(t *testing.T) {
	s := newShedder(t, shed.Config{Step: 1, RetryAfter: 3 * time.Second})
	s.ObserveAt(t0, ms(50))
	s.ObserveAt(t0.Add(ms(100)), ms(50))
	err := s.AllowAt(t0.Add(ms(100)), shed.Sheddable)
	var rej *shed.Rejection
	if !errors.As(err, &rej) || rej.Criticality != shed.Sheddable || rej.Reason != shed.ReasonOverload {
		t.Fatalf("AllowAt: %v, want a sheddable overload *Rejection", err)
	}
	if d, ok := core.RetryAfter(err); !ok || d != 3*time.Second {
		t.Errorf("core.RetryAfter: %v %v, want 3s", d, ok)
	}
	if typ := core.ErrorType(err); typ != "load_shed" {
		t.Errorf("core.ErrorType: %q, want load_shed", typ)
	}
	if allocs := testing.AllocsPerRun(100, func() { _ = s.AllowAt(t0.Add(ms(150)), shed.Sheddable) }); allocs != 0 {
		t.Errorf("shedding allocates %v times, want 0", allocs)
	}
}

func TestConfigErrorsNameFieldAndValue(t *testing.T) {
	_, err := shed.New(shed.Config{Target: -1, Step: 2, CPULimit: 1.5, MaxInFlight: -3, MaxQueue: 5, Interval: 48 * time.Hour})
	if err == nil {
		t.Fatal("New accepted a bad config")
	}
	for _, want := range []string{"target: -1ns", "step: 2", "cpuLimit: 1.5", "maxInFlight: -3", "maxQueue: 5 needs maxInFlight", "interval: 48h0m0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestParseCriticality(t *testing.T) {
	for in, want := range map[string]shed.Criticality{
		"": shed.Default, "critical": shed.Critical, " CRITICAL_PLUS ": shed.Critical,
		"Sheddable": shed.Sheddable, "sheddable_plus": shed.Default, "default": shed.Default,
	} {
		if got, ok := shed.ParseCriticality(in); !ok || got != want {
			t.Errorf("ParseCriticality(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if got, ok := shed.ParseCriticality("urgent"); ok || got != shed.Default {
		t.Errorf("ParseCriticality(urgent) = %v, %v; want default, false", got, ok)
	}
}

func TestAcquireServesCriticalFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newShedder(t, shed.Config{MaxInFlight: 1, MaxQueue: 3, MaxWait: time.Second})
		first, err := s.Acquire(context.Background(), shed.Default)
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var order []shed.Criticality
		var wg sync.WaitGroup
		for _, c := range []shed.Criticality{shed.Sheddable, shed.Default, shed.Critical} {
			wg.Go(func() {
				tk, err := s.Acquire(context.Background(), c)
				if err != nil {
					t.Errorf("Acquire(%v): %v", c, err)
					return
				}
				mu.Lock()
				order = append(order, c)
				mu.Unlock()
				time.Sleep(ms(10))
				tk.Done()
			})
			synctest.Wait() // queued in this order
		}
		// The queue is full: one more is shed at once.
		_, err = s.Acquire(context.Background(), shed.Critical)
		var rej *shed.Rejection
		if !errors.As(err, &rej) || rej.Reason != shed.ReasonQueueFull {
			t.Errorf("Acquire on a full queue: %v, want queue_full", err)
		}
		time.Sleep(ms(20))
		first.Done()
		wg.Wait()
		want := []shed.Criticality{shed.Critical, shed.Default, shed.Sheddable}
		if len(order) != 3 || order[0] != want[0] || order[1] != want[1] || order[2] != want[2] {
			t.Errorf("served %v, want %v", order, want)
		}
		if snap := s.Snapshot(); snap.InFlight != 0 || snap.Queued != 0 {
			t.Errorf("after all done: in flight %d, queued %d", snap.InFlight, snap.Queued)
		}
	})
}

func TestAcquireQueueTimeoutAndCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newShedder(t, shed.Config{MaxInFlight: 1, MaxQueue: 2, MaxWait: ms(50)})
		held, _ := s.Acquire(context.Background(), shed.Default)
		_, err := s.Acquire(context.Background(), shed.Sheddable)
		var rej *shed.Rejection
		if !errors.As(err, &rej) || rej.Reason != shed.ReasonQueueTimeout {
			t.Errorf("after MaxWait: %v, want queue_timeout", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), ms(10))
		defer cancel()
		if _, err := s.Acquire(ctx, shed.Critical); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("with a context ending first: %v, want context.DeadlineExceeded", err)
		}
		held.Done()
		snap := s.Snapshot()
		if snap.InFlight != 0 || snap.Queued != 0 || snap.Shed[shed.Sheddable] != 1 || snap.Shed[shed.Critical] != 0 {
			t.Errorf("snapshot %+v", snap)
		}
	})
}

// TestQueueDelayFromAcquireRaisesPressure: requests that wait in Acquire's
// queue longer than the target, interval after interval, raise the pressure
// until sheddable requests are shed.
func TestQueueDelayFromAcquireRaisesPressure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newShedder(t, shed.Config{MaxInFlight: 1, MaxQueue: 100, MaxWait: time.Second})
		ctx := context.Background()
		var wg sync.WaitGroup
		// Every 10ms a request that runs 20ms: twice the capacity.
		for range 60 {
			wg.Go(func() {
				tk, err := s.Acquire(ctx, shed.Critical)
				if err != nil {
					return
				}
				time.Sleep(ms(20))
				tk.Done()
			})
			time.Sleep(ms(10))
		}
		if p := s.Pressure(); p < 1 {
			t.Errorf("pressure %v after 600ms at twice the capacity, want at least 1", p)
		}
		if err := s.AllowAt(time.Now(), shed.Sheddable); !errors.Is(err, shed.ErrShed) {
			t.Errorf("a sheddable request was admitted under pressure %v", s.Pressure())
		}
		wg.Wait()
	})
}

func FuzzShedderStaysInBounds(f *testing.F) {
	f.Add([]byte{1, 200, 3, 0, 255, 9, 128, 7})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var cpu time.Duration
		s := newShedder(t, shed.Config{Step: 0.5, CPULimit: 0.5, CPUs: 1, CPU: func() time.Duration { return cpu }})
		now := t0
		for i := 0; i+1 < len(ops); i += 2 {
			op, v := ops[i], int64(ops[i+1])
			switch op % 5 {
			case 0: // the clock moves, possibly backwards, possibly far
				now = now.Add(time.Duration((v - 100) * int64(ms(37))))
			case 1:
				s.ObserveAt(now, time.Duration(v-128)*ms(1))
			case 2:
				_ = s.AllowAt(now, shed.Criticality(v%4))
			case 3:
				cpu += time.Duration(v-100) * ms(5) // even backwards
			case 4:
				now = now.Add(time.Duration(v) * time.Hour * 1000)
			}
			if p := s.Pressure(); !(p >= 0 && p <= 3) {
				t.Fatalf("pressure %v out of [0, 3]", p)
			}
		}
	})
}
