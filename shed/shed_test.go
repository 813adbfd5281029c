package shed_test

import (
	"context"
	"errors"
	"math"
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

// interval plays one 100ms interval from start: arrivals of each
// criticality (AllowAt), then served requests leaving the queue, the
// smallest of them after waiting minDelay (ObserveAt). It returns how many
// of each criticality were shed.
func interval(t *testing.T, s *shed.Shedder, start time.Time, sheddable, critical, served int, minDelay time.Duration) (shedS, shedC int) {
	t.Helper()
	shedS = count(t, s, start, shed.Sheddable, sheddable)
	shedC = count(t, s, start.Add(ms(1)), shed.Critical, critical)
	for i := range served {
		s.ObserveAt(start.Add(ms(2+i%90)), minDelay+time.Duration(i)*time.Microsecond)
	}
	return shedS, shedC
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestDropShareFromServedRateHandComputed(t *testing.T) {
	s := newShedder(t, shed.Config{}) // target 5ms, interval 100ms, gain 0.02
	// Interval 1: 10 default arrivals; 4 left the queue, the quickest after
	// 15ms: a standing queue 10ms over the target.
	count(t, s, t0, shed.Default, 10)
	for i, d := range []int{30, 25, 20, 15} {
		s.ObserveAt(t0.Add(ms(10*(i+1))), ms(d))
	}
	// excess = 4·10ms/100ms = 0.4; admit = 4 − 0.4/2 = 3.8; D = 1 − 3.8/10.
	now := t0.Add(ms(100))
	if got := count(t, s, now, shed.Default, 50); got != 31 {
		t.Errorf("D 0.62: %d of 50 default requests shed, want 31", got)
	}
	if d := s.DropShare(); !near(d, 0.62) {
		t.Fatalf("D = %v, want 0.62", d)
	}
	// Interval 2 has no observation: D falls by the gain.
	count(t, s, t0.Add(ms(200)), shed.Default, 1)
	if d := s.DropShare(); !near(d, 0.60) {
		t.Fatalf("D = %v after a calm interval, want 0.60", d)
	}
	// Intervals without any call are calm: 10s later nothing is shed.
	if got := count(t, s, t0.Add(10*time.Second), shed.Default, 20); got != 0 {
		t.Errorf("after 10s idle: %d of 20 shed, want 0", got)
	}
	snap := s.Snapshot()
	if snap.DropShare != 0 || snap.Overloaded != 1 || snap.Shed[shed.Default] != 31 {
		t.Errorf("snapshot: D %v, overloaded %d, shed %v; want 0, 1, 31 default", snap.DropShare, snap.Overloaded, snap.Shed)
	}
}

func TestSheddableFirstCriticalLastHandComputed(t *testing.T) {
	s := newShedder(t, shed.Config{})
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * ms(100)) }
	// Interval 0: 70 sheddable, 30 critical; 40 served, quickest after 10ms.
	// D = 1 − (40 − 2/2)/100 = 0.61: 61 of the 70 sheddable.
	interval(t, s, at(0), 70, 30, 40, ms(10))
	// Interval 1: the service slows down: 20 served, quickest after 40ms.
	// excess = 20·35/100 = 7, D = 1 − 16.5/100 = 0.835: more than every
	// sheddable request. But the sheddable rank was not wholly shed during
	// interval 1, so critical requests are not shed in interval 2.
	if s1, c1 := interval(t, s, at(1), 70, 30, 20, ms(40)); s1 != 61 || c1 != 0 {
		t.Errorf("interval 1: shed %d sheddable, %d critical; want 61, 0", s1, c1)
	}
	if s2, c2 := interval(t, s, at(2), 70, 30, 20, ms(40)); s2 != 70 || c2 != 0 {
		t.Errorf("interval 2: shed %d sheddable, %d critical; want 70, 0", s2, c2)
	}
	// Interval 3: sheddable was wholly shed during interval 2 and the queue
	// stands at 40ms > 3 targets: default (absent) climbs first, then
	// critical in interval 4, with what is left of D: (83.5 − 70)/30.
	if s3, c3 := interval(t, s, at(3), 70, 30, 20, ms(40)); s3 != 70 || c3 != 0 {
		t.Errorf("interval 3: shed %d sheddable, %d critical; want 70, 0", s3, c3)
	}
	s4, c4 := interval(t, s, at(4), 70, 30, 0, 0)
	if want := int(math.Floor(30 * 13.5 / 30)); s4 != 70 || c4 != want {
		t.Errorf("interval 4: shed %d sheddable, %d critical; want 70, %d", s4, c4, want)
	}
	// Interval 4 saw no standing queue (no observation): the partly shed
	// critical rank stops being shed at once; D falls by the gain.
	if s5, c5 := interval(t, s, at(5), 70, 30, 0, 0); s5 != 70 || c5 != 0 {
		t.Errorf("interval 5: shed %d sheddable, %d critical; want 70, 0", s5, c5)
	}
	if d := s.DropShare(); !near(d, 0.815) {
		t.Errorf("D = %v, want 0.835 − 0.02", d)
	}
}

func TestCriticalShedWhenItIsAllThereIs(t *testing.T) {
	s := newShedder(t, shed.Config{})
	// 100 critical; 50 served, quickest after 10ms: D = 1 − 48.75/100.
	count(t, s, t0, shed.Critical, 100)
	for i := range 50 {
		s.ObserveAt(t0.Add(ms(1+i)), ms(10))
	}
	if got := count(t, s, t0.Add(ms(100)), shed.Critical, 100); got != 51 {
		t.Errorf("%d of 100 critical shed, want floor(100·0.5125) = 51", got)
	}
}

func TestBurstThatDrainsWithinIntervalIsNoOverload(t *testing.T) {
	s := newShedder(t, shed.Config{})
	count(t, s, t0, shed.Default, 1)
	for i := range 10 {
		// Long waits, but one request in each interval went straight through.
		s.ObserveAt(t0.Add(time.Duration(i)*ms(100)+ms(1)), ms(80))
		s.ObserveAt(t0.Add(time.Duration(i)*ms(100)+ms(2)), ms(1))
		count(t, s, t0.Add(time.Duration(i)*ms(100)+ms(3)), shed.Sheddable, 10)
	}
	if d := s.DropShare(); d != 0 {
		t.Errorf("D = %v after bursts that drained, want 0", d)
	}
}

func TestCPUSignal(t *testing.T) {
	var cpu time.Duration
	s := newShedder(t, shed.Config{CPULimit: 0.8, CPUs: 2, CPU: func() time.Duration { return cpu }})
	s.AllowAt(t0, shed.Default)
	cpu += ms(150) // 150ms of 200ms available: 75%
	s.AllowAt(t0.Add(ms(100)), shed.Default)
	if d := s.DropShare(); d != 0 {
		t.Fatalf("D = %v at 75%% CPU, want 0", d)
	}
	cpu += ms(190) // 95%
	s.AllowAt(t0.Add(ms(200)), shed.Default)
	if d := s.DropShare(); !near(d, 0.02) {
		t.Fatalf("D = %v at 95%% CPU, want the gain 0.02", d)
	}
	if snap := s.Snapshot(); snap.Overloaded != 1 {
		t.Errorf("overloaded intervals %d, want 1", snap.Overloaded)
	}
}

func TestRejectionCarriesRetryAfterAndType(t *testing.T) {
	s := newShedder(t, shed.Config{RetryAfter: 3 * time.Second})
	count(t, s, t0, shed.Sheddable, 10)
	s.ObserveAt(t0.Add(ms(50)), ms(50)) // one served of 10: D = 1 − 0.775/10
	var err error
	for range 3 { // a share of 0.9225: the second is shed
		if err = s.AllowAt(t0.Add(ms(100)), shed.Sheddable); err != nil {
			break
		}
	}
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
	_, err := shed.New(shed.Config{Target: -1, Gain: 2, CPULimit: 1.5, MaxInFlight: -3, Interval: 48 * time.Hour})
	if err == nil {
		t.Fatal("New accepted a bad config")
	}
	for _, want := range []string{"target: -1ns", "gain: 2", "cpuLimit: 1.5", "maxInFlight: -3", "interval: 48h0m0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := shed.New(shed.Config{MaxQueue: 5}); err == nil || !strings.Contains(err.Error(), "maxQueue: 5 needs maxInFlight") {
		t.Errorf("MaxQueue without MaxInFlight: %v", err)
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
		if d := s.DropShare(); d < 0.3 {
			t.Errorf("D = %v after 600ms at twice the capacity, want at least 0.3", d)
		}
		if snap := s.Snapshot(); snap.Shed[shed.Critical] == 0 {
			t.Errorf("no request was shed at twice the capacity: %+v", snap)
		}
		wg.Wait()
	})
}

func FuzzShedderStaysInBounds(f *testing.F) {
	f.Add([]byte{1, 200, 3, 0, 255, 9, 128, 7})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var cpu time.Duration
		s := newShedder(t, shed.Config{Gain: 0.5, CPULimit: 0.5, CPUs: 1, CPU: func() time.Duration { return cpu }})
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
			if d := s.DropShare(); !(d >= 0 && d <= 1) {
				t.Fatalf("D = %v out of [0, 1]", d)
			}
			for _, c := range []shed.Criticality{shed.Sheddable, shed.Default, shed.Critical} {
				if f := s.ShedShare(c); !(f >= 0 && f <= 1) {
					t.Fatalf("share of %v = %v out of [0, 1]", c, f)
				}
			}
		}
	})
}

// TestCPUOverloadClimbsTheLadder: with the CPU over its limit and no
// standing queue, the shedder sheds default requests once every sheddable
// one is shed; the upper rungs' rules must count the CPU signal as well as
// the queue's.
func TestCPUOverloadClimbsTheLadder(t *testing.T) {
	var cpu time.Duration
	s := newShedder(t, shed.Config{Gain: 0.25, CPULimit: 0.5, CPUs: 1, CPU: func() time.Duration { return cpu }})
	var shedDefault int
	for i := range 4 {
		at := t0.Add(time.Duration(i) * ms(100))
		cpu += ms(100) // 100% of the one CPU
		count(t, s, at, shed.Sheddable, 50)
		shedDefault = count(t, s, at, shed.Default, 50)
	}
	// D: 0.25, 0.5, 0.75 after the first three intervals: in the fourth,
	// every sheddable request and half the default ones are shed.
	if d := s.DropShare(); !near(d, 0.75) {
		t.Fatalf("D = %v, want 0.75", d)
	}
	if shedDefault != 25 {
		t.Errorf("%d of 50 default requests shed in the fourth interval, want 25", shedDefault)
	}
}
