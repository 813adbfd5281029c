package breaker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// Regression tests for the defects the first acceptance run found
// (issue 15): each one weakened protection when a service was under stress.

// A probe admitted in one half-open period still runs against the
// dependency after a failed probe reopens the breaker; the next half-open
// period must count it, so the dependency never sees more than
// HalfOpenProbes probes at once.
func TestProbeLimitHoldsAcrossReopen(t *testing.T) {
	s := newSim(t, Config{WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second, OpenBackoff: 1,
		HalfOpenProbes: 3, ProbeTimeout: time.Hour})
	s.call(boom)
	s.advance(10 * time.Second)
	var running []Permit
	for range 3 {
		p, err := s.b.AllowAt(bg, s.now)
		if err != nil {
			t.Fatal(err)
		}
		running = append(running, p)
	}
	running[0].DoneAt(s.now, boom) // reopens; probes 1 and 2 still run
	running = running[1:]
	s.want(Open)
	if got := s.b.Snapshot().ProbesInFlight; got != 2 {
		t.Fatalf("ProbesInFlight = %d after the reopen, want the 2 still running", got)
	}
	s.advance(10 * time.Second)
	admitted := 0
	for range 5 {
		if p, err := s.b.AllowAt(bg, s.now); err == nil {
			admitted++
			running = append(running, p)
		}
	}
	if admitted != 1 || len(running) != 3 {
		t.Fatalf("second half-open period admitted %d probes while 2 older ones run; want 1 (at most 3 at once)", admitted)
	}
	// The older probes report late: they free their slots but do not judge
	// the new period.
	running[0].DoneAt(s.now, nil)
	running[1].DoneAt(s.now, nil)
	s.want(HalfOpen)
	if got := s.b.Snapshot().ProbesInFlight; got != 1 {
		t.Fatalf("ProbesInFlight = %d, want 1", got)
	}
	for range 2 {
		if _, err := s.b.AllowAt(bg, s.now); err != nil {
			t.Fatalf("a freed slot was not reused: %v", err)
		}
	}
	if _, err := s.b.AllowAt(bg, s.now); !errors.Is(err, ErrOpen) {
		t.Fatal("a fourth probe was admitted")
	}
}

// Under churn (probes reopening the breaker while others still run), the
// number of probes running at once never exceeds the limit.
func TestProbeLimitUnderChurn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 3
		b, err := New(Config{WindowSize: 1, MinCalls: 1, OpenDuration: time.Millisecond, OpenBackoff: 1,
			HalfOpenProbes: limit, ProbeTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		inFlight, peak := 0, 0
		var wg sync.WaitGroup
		for g := range 50 {
			wg.Go(func() {
				for i := range 200 {
					p, err := b.Allow(bg)
					if err != nil {
						time.Sleep(time.Millisecond)
						continue
					}
					probe := p.kind == kindProbe
					if probe {
						mu.Lock()
						inFlight++
						peak = max(peak, inFlight)
						mu.Unlock()
					}
					time.Sleep(time.Duration(1+(g+i)%5) * time.Millisecond)
					if probe {
						mu.Lock()
						inFlight--
						mu.Unlock()
					}
					if (g+i)%3 == 0 {
						p.Done(boom)
					} else {
						p.Done(nil)
					}
				}
			})
		}
		wg.Wait()
		if peak > limit {
			t.Fatalf("%d probes ran at once; the limit is %d", peak, limit)
		}
		if peak == 0 {
			t.Fatal("no probe ran: the test exercised nothing")
		}
	})
}

// A probe that never reports must not hold the breaker half-open when no
// other call arrives: the probe timeout takes effect on its own.
func TestLostProbeTimesOutWithoutTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen []string
		b, err := New(Config{WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second, OpenBackoff: 1,
			ProbeTimeout: 5 * time.Second, OnStateChange: func(_ context.Context, tr Transition) { seen = append(seen, tr.To.String()) }})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := b.Allow(bg)
		p.Done(boom)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if _, err := b.Allow(bg); err != nil { // the probe, lost
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		snap := b.Snapshot()
		if snap.State != Open || snap.ProbesInFlight != 0 {
			t.Fatalf("after the probe timeout with no traffic: state %v, %d probes in flight; want open, 0", snap.State, snap.ProbesInFlight)
		}
		if !strings.Contains(snap.LastTransition.Reason, "no answer") {
			t.Fatalf("reason %q", snap.LastTransition.Reason)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		if b.State() != HalfOpen {
			t.Fatalf("state %v; want half-open again after the open duration", b.State())
		}
		p, err = b.Allow(bg)
		if err != nil {
			t.Fatal(err)
		}
		p.Done(nil)
		if b.State() != Closed {
			t.Fatal(b.State())
		}
		if strings.Join(seen, ",") != "open,half-open,open,half-open,closed" {
			t.Fatalf("transitions %v", seen)
		}
		time.Sleep(time.Hour) // no timer left to fire
		synctest.Wait()
		if b.State() != Closed {
			t.Fatal(b.State())
		}
	})
}

// A probe that outlives a reopen and is then lost frees its slot at its
// timeout, without reopening a later half-open period it does not belong to.
func TestStaleLostProbeFreesItsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := New(Config{WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second, OpenBackoff: 1,
			HalfOpenProbes: 2, ProbeTimeout: 15 * time.Second})
		p, _ := b.Allow(bg)
		p.Done(boom)
		time.Sleep(10 * time.Second)
		synctest.Wait()
		lost, _ := b.Allow(bg)
		_ = lost
		failing, _ := b.Allow(bg)
		failing.Done(boom) // reopen at 10s; the lost probe keeps its slot
		time.Sleep(10 * time.Second)
		synctest.Wait() // half-open at 20s: one slot free
		if got := b.Snapshot().ProbesInFlight; got != 1 {
			t.Fatalf("ProbesInFlight = %d, want 1", got)
		}
		p1, err := b.Allow(bg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Allow(bg); !errors.Is(err, ErrOpen) {
			t.Fatal("admitted a third probe")
		}
		time.Sleep(5 * time.Second) // 25s: the lost probe times out
		synctest.Wait()
		if s := b.Snapshot(); s.State != HalfOpen || s.ProbesInFlight != 1 {
			t.Fatalf("state %v with %d probes; want half-open with 1 (the stale probe's timeout must not reopen this period)", s.State, s.ProbesInFlight)
		}
		p2, err := b.Allow(bg)
		if err != nil {
			t.Fatalf("the timed-out probe's slot was not freed: %v", err)
		}
		p1.Done(nil)
		p2.Done(nil)
		if b.State() != Closed {
			t.Fatal(b.State())
		}
	})
}

// Once every permit has reported, no probe is in flight, whatever state the
// breaker is in.
func TestSnapshotCountsNoStaleProbes(t *testing.T) {
	s := newSim(t, Config{WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second, OpenBackoff: 1, ProbeTimeout: 5 * time.Second})
	s.call(boom)
	s.advance(10 * time.Second)
	lost, err := s.b.AllowAt(bg, s.now)
	if err != nil {
		t.Fatal(err)
	}
	s.advance(5 * time.Second)
	if s.call(nil) { // finds the lost probe timed out: reopens
		t.Fatal("admitted")
	}
	s.want(Open)
	lost.DoneAt(s.now, nil)
	if got := s.b.Snapshot().ProbesInFlight; got != 0 {
		t.Fatalf("open breaker with every permit reported shows %d probes in flight", got)
	}
}

// Durations near the limits of time.Duration must not overflow into the
// past: a breaker that trips stays open.
func TestHugeDurationsDoNotOverflow(t *testing.T) {
	const century = 100 * 365 * 24 * time.Hour
	for _, d := range []time.Duration{30 * 365 * 24 * time.Hour, century, MaxDuration} {
		synctest.Test(t, func(t *testing.T) {
			b, err := New(Config{WindowSize: 1, MinCalls: 1, OpenDuration: d, OpenJitter: 0.5})
			if err != nil {
				t.Fatalf("OpenDuration %v: %v", d, err)
			}
			cfg := b.Config()
			if cfg.MaxOpenDuration < cfg.OpenDuration || cfg.MaxOpenDuration > MaxDuration {
				t.Fatalf("OpenDuration %v: derived MaxOpenDuration %v", d, cfg.MaxOpenDuration)
			}
			p, _ := b.Allow(bg)
			p.Done(boom)
			time.Sleep(20 * time.Millisecond)
			synctest.Wait()
			if _, err := b.Allow(bg); !errors.Is(err, ErrOpen) {
				t.Fatalf("OpenDuration %v: admitted 20ms after tripping", d)
			}
			if until := b.Snapshot().OpenUntil; !until.After(time.Now().Add(d / 4)) {
				t.Fatalf("OpenDuration %v: open until %v", d, until)
			}
		})
	}
	for _, c := range []struct {
		cfg   Config
		field string
	}{
		{Config{OpenDuration: MaxDuration + 1}, "openDuration"},
		{Config{MaxOpenDuration: 1<<63 - 1}, "maxOpenDuration"},
		{Config{ProbeTimeout: 1<<63 - 1}, "probeTimeout"},
		{Config{Window: TimeWindow, WindowDuration: 1<<63 - 1}, "windowDuration"},
		{Config{SlowCallDuration: 1<<63 - 1}, "slowCallDuration"},
		{Config{RampSteps: []float64{50}, RampStepDuration: 1<<63 - 1}, "rampStepDuration"},
	} {
		var ce *ConfigError
		if err := c.cfg.Validate(); !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("Validate(%+v) = %v; want an error naming %s", c.cfg, err, c.field)
		}
	}
}

func TestOpenForAHundredYearsAndUntilYear9999(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := New(Config{})
		b.OpenFor(100*365*24*time.Hour, Manual{Actor: "ops"})
		time.Sleep(time.Second)
		synctest.Wait()
		if _, err := b.Allow(bg); !errors.Is(err, ErrOpen) || b.State() != Open {
			t.Fatalf("OpenFor(100y): state %v", b.State())
		}
		b.OpenUntil(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), Manual{Actor: "ops"})
		time.Sleep(time.Second)
		synctest.Wait()
		s := b.Snapshot()
		if _, err := b.Allow(bg); !errors.Is(err, ErrOpen) || s.State != Open || !s.OpenUntil.After(time.Now().Add(100*365*24*time.Hour)) {
			t.Fatalf("OpenUntil(9999): state %v, open until %v", s.State, s.OpenUntil)
		}
		if ra := b.RetryAfter(); ra <= 0 {
			t.Fatalf("RetryAfter = %v", ra)
		}
	})
}

// A time window younger than its span must not read its empty buckets as
// buckets inside the window: a trip, a recovery and a Reset each start a
// new, empty window.
func TestYoungTimeWindowForgetsOnStateChange(t *testing.T) {
	s := newSim(t, Config{Window: TimeWindow, OpenDuration: 30 * time.Second, ProbeTimeout: time.Minute})
	s.now = s.b.epoch // the breaker is as young as its window can be
	s.calls(20, boom)
	s.want(Open)
	s.advance(31 * time.Second)
	s.call(nil) // the probe closes it
	s.want(Closed)
	s.calls(9, nil)
	s.call(boom)
	s.want(Closed)
	if tr := s.b.Snapshot().LastTransition; tr.To != Closed {
		t.Fatalf("re-tripped: %v", tr)
	}
	// Reset and metrics-only clear the window too.
	s.calls(10, boom)
	s.b.Reset(Manual{Actor: "t"})
	if c, _, _ := s.window(); c != 0 {
		t.Fatalf("window holds %d calls after Reset", c)
	}
	s.calls(10, boom)
	s.b.MetricsOnly(Manual{Actor: "t"})
	if c, _, _ := s.window(); c != 0 {
		t.Fatalf("window holds %d calls after MetricsOnly", c)
	}
}

// window reads the time window at the simulation's time.
func (s *sim) window() (calls, fails, slows int) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	c, f, sl, _, _ := s.b.windowLocked(int64(s.now.Sub(s.b.epoch)))
	return c, f, sl
}

// In a time window, the success that brings the window to MinCalls trips
// the breaker when the failures already there reach the rate, as in a
// count window.
func TestTimeWindowSuccessReachingMinCallsTrips(t *testing.T) {
	for _, w := range []WindowKind{CountWindow, TimeWindow} {
		s := newSim(t, Config{Window: w, WindowSize: 10, MinCalls: 5, FailureRate: 60})
		s.calls(3, boom)
		s.calls(1, nil)
		s.want(Closed)
		s.call(nil) // 3 of 5: 60%
		s.want(Open)
	}
}

// A rate that rises only because older successes left a time window is
// acted on at the window's next outcome, success or failure: with no call
// there is nothing to protect, and the first call after sees the window as
// it is.
func TestTimeWindowRateRisingByExpiryTripsOnNextOutcome(t *testing.T) {
	for _, next := range []error{nil, boom} {
		s := newSim(t, Config{Window: TimeWindow, WindowDuration: 10 * time.Second, Buckets: 10, MinCalls: 4, FailureRate: 50})
		s.now = s.b.epoch
		s.calls(10, nil)
		s.advance(5 * time.Second)
		s.calls(4, boom) // 4 of 14
		s.want(Closed)
		s.advance(6 * time.Second) // the successes leave: 4 failures of 4
		if c, f, _ := s.window(); c != 4 || f != 4 {
			t.Fatalf("window %d/%d", c, f)
		}
		s.want(Closed)
		s.call(next)
		s.want(Open)
	}
}

// An idle breaker keeps its counters in one shard and becomes striped once
// busy; calls admitted before the change report after it without losing a
// count.
func TestStripesMadeWhenBusyKeepEveryCount(t *testing.T) {
	b, _ := New(Config{})
	if b.striped.Load() != nil {
		t.Fatal("a new breaker is striped")
	}
	var held []Permit
	for range 10 {
		p, _ := b.Allow(bg)
		held = append(held, p)
	}
	for range stripeAfter {
		p, _ := b.Allow(bg)
		p.Done(nil)
	}
	if b.striped.Load() == nil {
		t.Fatal("a busy breaker is not striped")
	}
	for i, p := range held {
		if i%2 == 0 {
			p.Done(nil)
		} else {
			p.Done(boom)
		}
	}
	s := b.Snapshot()
	if s.Admitted != stripeAfter+10 || s.Succeeded != stripeAfter+5 || s.Failed != 5 || s.WindowCalls != 100 || s.WindowFailures != 5 {
		t.Fatalf("snapshot %+v", s)
	}
	// Rejections make an open breaker striped too.
	o, _ := New(Config{})
	o.ForceOpen(Manual{Actor: "t"})
	for range 2 * stripeAfter {
		_, _ = o.Allow(bg)
	}
	if o.striped.Load() == nil || o.Snapshot().Rejected != 2*stripeAfter {
		t.Fatalf("rejecting breaker: striped %v, %d rejected", o.striped.Load() != nil, o.Snapshot().Rejected)
	}
}
