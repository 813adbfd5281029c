package breaker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

var (
	bg   = context.Background()
	boom = errors.New("boom")
	t0   = time.Unix(2_000_000_000, 0)
)

// sim drives a breaker in explicit time.
type sim struct {
	t   *testing.T
	b   *Breaker
	now time.Time
}

func newSim(t *testing.T, cfg Config) *sim {
	t.Helper()
	b, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &sim{t: t, b: b, now: t0}
}

func (s *sim) advance(d time.Duration) { s.now = s.now.Add(d) }

// call runs one call with the given error; it reports whether it was admitted.
func (s *sim) call(err error) bool {
	p, aerr := s.b.AllowAt(bg, s.now)
	if aerr != nil {
		if !errors.Is(aerr, ErrOpen) {
			s.t.Fatalf("Allow: unexpected error %v", aerr)
		}
		return false
	}
	p.DoneAt(s.now, err)
	return true
}

func (s *sim) calls(n int, err error) (admitted int) {
	for range n {
		if s.call(err) {
			admitted++
		}
	}
	return admitted
}

func (s *sim) want(st State) {
	s.t.Helper()
	if got := s.b.State(); got != st {
		s.t.Fatalf("state = %v, want %v (last transition: %v)", got, st, s.b.Snapshot().LastTransition)
	}
}

func TestFailureRateTrips(t *testing.T) {
	tests := []struct {
		name      string
		cfg       Config
		outcomes  string // s = success, f = failure, i = ignored (canceled)
		wantState State
	}{
		{"below min calls", Config{WindowSize: 10, MinCalls: 5}, "ffff", Closed},
		{"at min calls", Config{WindowSize: 10, MinCalls: 5}, "fffff", Open},
		{"rate below threshold", Config{WindowSize: 10, MinCalls: 4, FailureRate: 50}, "sssfsssf", Closed},
		{"rate at threshold", Config{WindowSize: 4, MinCalls: 4, FailureRate: 50}, "ssff", Open},
		{"old failures slide out", Config{WindowSize: 4, MinCalls: 4, FailureRate: 75}, "ffsssf", Closed},
		{"success reaching min calls trips", Config{WindowSize: 10, MinCalls: 5, FailureRate: 60}, "fffss", Open},
		{"ignored calls do not count", Config{WindowSize: 10, MinCalls: 4}, "ffiiii", Closed},
		{"disabled rate rule", Config{WindowSize: 4, MinCalls: 1, DisableFailureRate: true, ConsecutiveFailures: 9}, "ffff", Closed},
		{"consecutive failures", Config{WindowSize: 100, MinCalls: 100, ConsecutiveFailures: 3}, "sffsfff", Open},
		{"consecutive broken by success", Config{WindowSize: 100, MinCalls: 100, ConsecutiveFailures: 3}, "ffsffsff", Closed},
		{"consecutive not broken by ignored", Config{WindowSize: 100, MinCalls: 100, ConsecutiveFailures: 3}, "ffif", Open},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSim(t, tt.cfg)
			for _, o := range tt.outcomes {
				switch o {
				case 's':
					s.call(nil)
				case 'f':
					s.call(boom)
				case 'i':
					s.call(context.Canceled)
				}
			}
			s.want(tt.wantState)
		})
	}
}

func TestConsecutiveFailuresDoNotDecay(t *testing.T) {
	// A low-traffic outage: one failure a day still trips the breaker.
	s := newSim(t, Config{Window: TimeWindow, WindowDuration: time.Minute, ConsecutiveFailures: 3})
	for range 3 {
		s.call(boom)
		s.advance(24 * time.Hour)
	}
	s.want(Open)
}

func TestSlowCallRate(t *testing.T) {
	s := newSim(t, Config{WindowSize: 4, MinCalls: 4, SlowCallDuration: time.Second, SlowCallRate: 50})
	slow := func() {
		p, err := s.b.AllowAt(bg, s.now)
		if err != nil {
			t.Fatal(err)
		}
		s.advance(2 * time.Second)
		p.DoneAt(s.now, nil)
	}
	s.call(nil)
	s.call(nil)
	slow()
	s.want(Closed)
	slow()
	s.want(Open)
	if tr := s.b.Snapshot().LastTransition; !strings.Contains(tr.Reason, "slow-call rate") ||
		tr.WindowCalls != 4 || tr.WindowSlow != 2 || tr.SlowCallRate != 50 || tr.FailureRate != 0 {
		t.Fatalf("transition %+v", tr)
	}
}

func TestTimeWindow(t *testing.T) {
	s := newSim(t, Config{Window: TimeWindow, WindowDuration: 10 * time.Second, Buckets: 10, MinCalls: 4, FailureRate: 50})
	s.calls(3, boom)
	s.advance(11 * time.Second) // those failures leave the window
	s.calls(4, nil)
	s.call(boom)
	s.want(Closed)
	if got := s.b.Snapshot(); got.WindowCalls != 5 && got.WindowCalls != 0 {
		// The snapshot reads the real clock; only the explicit-time path is checked below.
		t.Logf("snapshot window (real clock) = %d", got.WindowCalls)
	}
	s.calls(3, boom) // 4 failures of 8 in the window
	s.want(Open)
}

func TestTimeWindowNegativeTimesDoNotPanic(t *testing.T) {
	s := newSim(t, Config{Window: TimeWindow, MinCalls: 2})
	s.now = time.Unix(-5_000_000_000, 0)
	s.calls(2, boom)
	s.want(Open)
}

func TestOpenHalfOpenClose(t *testing.T) {
	s := newSim(t, Config{WindowSize: 2, MinCalls: 2, OpenDuration: 10 * time.Second, HalfOpenProbes: 2, SuccessThreshold: 2})
	s.calls(2, boom)
	s.want(Open)
	if s.call(nil) {
		t.Fatal("open breaker admitted a call")
	}
	s.advance(10*time.Second - 1)
	if s.call(nil) {
		t.Fatal("admitted before the open duration passed")
	}
	s.advance(1)
	// Two probes in flight, a third is refused.
	p1, err1 := s.b.AllowAt(bg, s.now)
	p2, err2 := s.b.AllowAt(bg, s.now)
	_, err3 := s.b.AllowAt(bg, s.now)
	if err1 != nil || err2 != nil || !errors.Is(err3, ErrOpen) {
		t.Fatalf("probes: %v %v %v", err1, err2, err3)
	}
	s.want(HalfOpen)
	p1.DoneAt(s.now, nil)
	s.want(HalfOpen)
	p2.DoneAt(s.now, nil)
	s.want(Closed)
	snap := s.b.Snapshot()
	if snap.RejectedProbe != 1 || snap.Transitions != 3 {
		t.Fatalf("snapshot %+v", snap)
	}
}

func TestFailedProbeReopensWithBackoff(t *testing.T) {
	s := newSim(t, Config{WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second, OpenBackoff: 2, MaxOpenDuration: 30 * time.Second})
	s.call(boom)
	wantOpenFor := func(d time.Duration) {
		t.Helper()
		s.want(Open)
		s.advance(d - 1)
		if s.call(nil) {
			t.Fatalf("admitted before %v", d)
		}
		s.advance(1)
	}
	wantOpenFor(10 * time.Second)
	s.call(boom) // failed probe
	wantOpenFor(20 * time.Second)
	s.call(boom)
	wantOpenFor(30 * time.Second) // capped
	s.call(boom)
	wantOpenFor(30 * time.Second)
	s.call(nil) // probe succeeds: closes and resets the backoff
	s.want(Closed)
	s.call(boom)
	wantOpenFor(10 * time.Second)
}

func TestProbeTimeout(t *testing.T) {
	s := newSim(t, Config{WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second, ProbeTimeout: 5 * time.Second})
	s.call(boom)
	s.advance(10 * time.Second)
	lost, err := s.b.AllowAt(bg, s.now) // a probe that never reports
	if err != nil {
		t.Fatal(err)
	}
	s.advance(4 * time.Second)
	if s.call(nil) {
		t.Fatal("second probe admitted while the first is in flight")
	}
	s.want(HalfOpen)
	s.advance(time.Second)
	if s.call(nil) {
		t.Fatal("admitted when the lost probe timed out")
	}
	s.want(Open)
	if r := s.b.Snapshot().LastTransition.Reason; !strings.Contains(r, "no answer") {
		t.Fatalf("reason %q", r)
	}
	lost.DoneAt(s.now, nil) // a late answer changes nothing
	s.want(Open)
}

func TestRampRecovery(t *testing.T) {
	s := newSim(t, Config{WindowSize: 1, MinCalls: 1, OpenDuration: time.Second,
		RampSteps: []float64{25, 50}, RampStepDuration: 10 * time.Second, RampMinCalls: 4, FailureRate: 50})
	s.call(boom)
	s.advance(time.Second)
	if got := s.calls(100, nil); got != 25 {
		t.Fatalf("step 1 admitted %d of 100, want 25", got)
	}
	s.want(HalfOpen)
	s.advance(10 * time.Second)
	if got := s.calls(100, nil); got != 50 {
		t.Fatalf("step 2 admitted %d of 100, want 50", got)
	}
	s.advance(10 * time.Second)
	s.call(nil)
	s.want(Closed)

	// A failing step reopens.
	s.call(boom)
	s.advance(2 * time.Second)
	s.call(boom) // half-opens; not admitted (first quarter)
	s.want(HalfOpen)
	for i := 0; i < 100 && s.b.State() == HalfOpen; i++ {
		s.call(boom)
	}
	s.want(Open)
	if r := s.b.Snapshot().LastTransition.Reason; !strings.Contains(r, "ramp step 25%") {
		t.Fatalf("reason %q", r)
	}
}

func TestGraceCalls(t *testing.T) {
	s := newSim(t, Config{WindowSize: 1, MinCalls: 1, GraceCalls: 2})
	s.call(boom)
	s.want(Open)
	if got := s.calls(5, boom); got != 2 {
		t.Fatalf("admitted %d in grace, want 2", got)
	}
	s.want(Open)
}

func TestGraceDuration(t *testing.T) {
	s := newSim(t, Config{WindowSize: 1, MinCalls: 1, GraceDuration: time.Second, OpenDuration: 10 * time.Second})
	s.call(boom)
	if !s.call(nil) {
		t.Fatal("rejected during grace")
	}
	s.advance(time.Second)
	if s.call(nil) {
		t.Fatal("admitted after grace")
	}
}

func TestManualStates(t *testing.T) {
	s := newSim(t, Config{WindowSize: 2, MinCalls: 2})
	m := Manual{Actor: "alice", Reason: "maintenance"}

	tr := s.b.ForceOpen(m)
	if tr.From != Closed || tr.To != ForcedOpen || tr.Actor != "alice" || tr.Reason != "maintenance" {
		t.Fatalf("transition %+v", tr)
	}
	s.advance(time.Hour)
	if s.call(nil) {
		t.Fatal("forced-open breaker admitted a call")
	}
	s.b.Disable(m)
	if s.calls(10, boom) != 10 {
		t.Fatal("disabled breaker rejected")
	}
	s.want(Disabled)

	s.b.MetricsOnly(m)
	if s.calls(10, boom) != 10 {
		t.Fatal("metrics-only breaker rejected")
	}
	s.want(MetricsOnly)
	if snap := s.b.Snapshot(); snap.ShadowTrips != 5 {
		t.Fatalf("shadow trips = %d, want 5", snap.ShadowTrips)
	}

	s.b.Reset(m) // keeps the manual state
	s.want(MetricsOnly)
	s.b.Release(m)
	s.want(Closed)
	if tr := s.b.Release(m); tr.From != Closed || tr.To != Closed {
		t.Fatalf("release on an automatic state: %+v", tr)
	}

	s.calls(2, boom)
	s.want(Open)
	s.b.Reset(m)
	s.want(Closed)
}

func TestStalePermitsDoNotSteer(t *testing.T) {
	s := newSim(t, Config{WindowSize: 4, MinCalls: 2})
	held := make([]Permit, 3)
	for i := range held {
		held[i], _ = s.b.AllowAt(bg, s.now)
	}
	s.calls(2, boom)
	s.want(Open)
	s.b.Reset(Manual{Actor: "t"})
	for i := range held {
		held[i].DoneAt(s.now, boom) // admitted before the reset
	}
	s.want(Closed)
	if snap := s.b.Snapshot(); snap.WindowCalls != 0 || snap.WindowFailures != 0 || snap.Failed != 5 {
		t.Fatalf("snapshot %+v", snap)
	}
}

func TestClassifier(t *testing.T) {
	s := newSim(t, Config{WindowSize: 4, MinCalls: 4, Classifier: func(o Outcome) Result {
		switch {
		case o.HasCode && o.Code >= 500:
			return Failure
		case o.HasCode && o.Code == 499:
			panic("classifier bug")
		}
		return Success
	}})
	for _, code := range []int{200, 404, 503} {
		p, _ := s.b.AllowAt(bg, s.now)
		p.FinishAt(s.now, Outcome{Code: code, HasCode: true})
	}
	s.want(Closed)
	p, _ := s.b.AllowAt(bg, s.now)
	p.FinishAt(s.now, Outcome{Code: 499, HasCode: true}) // panics inside: counts as failure
	s.want(Open)
}

func TestReport(t *testing.T) {
	s := newSim(t, Config{WindowSize: 2, MinCalls: 2})
	for range 2 {
		p, _ := s.b.AllowAt(bg, s.now)
		p.ReportAt(s.now, Failure)
	}
	s.want(Open)
}

func TestZeroPermitIsInert(t *testing.T) {
	var p Permit
	p.Done(nil)
	p.DoneAt(t0, boom)
	p.Finish(Outcome{})
	p.Report(Failure)
}

func TestOnStateChange(t *testing.T) {
	type key struct{}
	var got []string
	var ctxs []any
	cfg := Config{WindowSize: 1, MinCalls: 1, OpenDuration: time.Second, OnStateChange: func(ctx context.Context, tr Transition) {
		got = append(got, tr.From.String()+">"+tr.To.String())
		ctxs = append(ctxs, ctx.Value(key{}))
		panic("a broken hook must not break the breaker")
	}}
	s := newSim(t, cfg)
	ctx := context.WithValue(bg, key{}, "caller")
	p, _ := s.b.AllowAt(ctx, s.now)
	p.DoneAt(s.now, boom)
	s.advance(time.Second)
	s.call(nil)
	s.b.ForceOpen(Manual{Actor: "bob"})
	want := []string{"closed>open", "open>half-open", "half-open>closed", "closed>forced-open"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
	if ctxs[0] != "caller" || ctxs[3] != nil {
		t.Fatalf("contexts %v", ctxs)
	}
}

// TestOrderedHooksUnderConcurrency checks that transitions reach the hook in
// the order they happened even when many goroutines cause them.
func TestOrderedHooksUnderConcurrency(t *testing.T) {
	var mu sync.Mutex
	var seq []Transition
	b, _ := New(Config{WindowSize: 1, MinCalls: 1, OnStateChange: func(_ context.Context, tr Transition) {
		mu.Lock()
		seq = append(seq, tr)
		mu.Unlock()
	}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				if (g+i)%7 == 0 {
					b.Reset(Manual{Actor: "t"})
				}
				if p, err := b.Allow(bg); err == nil {
					p.Done(boom)
				}
			}
		})
	}
	wg.Wait()
	for i := 1; i < len(seq); i++ {
		if seq[i].From != seq[i-1].To {
			t.Fatalf("transition %d (%v) does not follow %v", i, seq[i], seq[i-1])
		}
	}
	if len(seq) == 0 {
		t.Fatal("no transitions")
	}
}

func TestRealTimeRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var changes []string
		b, _ := New(Config{WindowSize: 1, MinCalls: 1, OpenDuration: 30 * time.Second, OnStateChange: func(_ context.Context, tr Transition) {
			changes = append(changes, tr.To.String())
		}})
		p, _ := b.Allow(bg)
		p.Done(boom)
		if !b.Rejecting() {
			t.Fatal("Rejecting() = false for an open breaker")
		}
		if d := b.RetryAfter(); d != 30*time.Second {
			t.Fatalf("RetryAfter = %v", d)
		}
		time.Sleep(29 * time.Second)
		if _, err := b.Allow(bg); !errors.Is(err, ErrOpen) {
			t.Fatal("admitted while open")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if b.State() != HalfOpen {
			t.Fatalf("state %v after the open duration", b.State())
		}
		p, err := b.Allow(bg)
		if err != nil {
			t.Fatal(err)
		}
		p.Done(nil)
		if fmt.Sprint(changes) != "[open half-open closed]" {
			t.Fatalf("changes %v", changes)
		}
	})
}

func TestOpenForAndUntil(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b, _ := New(Config{})
		b.OpenFor(time.Minute, Manual{Actor: "ops", Reason: "deploy"})
		if b.State() != Open {
			t.Fatal(b.State())
		}
		snap := b.Snapshot()
		if snap.LastTransition.Actor != "ops" || !snap.OpenUntil.Equal(time.Now().Add(time.Minute)) {
			t.Fatalf("snapshot %+v", snap)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if b.State() != HalfOpen {
			t.Fatal(b.State())
		}
		b.OpenUntil(time.Now().Add(time.Hour), Manual{Actor: "ops"})
		time.Sleep(time.Hour - time.Second)
		if b.State() != Open {
			t.Fatal(b.State())
		}
		b.Release(Manual{Actor: "ops"}) // not manual: no change
		b.Reset(Manual{Actor: "ops"})
		if b.State() != Closed {
			t.Fatal(b.State())
		}
		time.Sleep(time.Hour) // the stopped timer must not fire
		synctest.Wait()
		if b.State() != Closed {
			t.Fatal(b.State())
		}
	})
}

func TestRetryAfterOutsideOpen(t *testing.T) {
	b, _ := New(Config{})
	if b.RetryAfter() != 0 {
		t.Fatal("closed breaker has a retry-after")
	}
	b.ForceOpen(Manual{})
	if b.RetryAfter() != 0 || !b.Rejecting() {
		t.Fatal("forced open")
	}
}

func TestStateText(t *testing.T) {
	for s := Closed; s < numStates; s++ {
		b, _ := s.MarshalText()
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Fatalf("%v: %v %v", s, back, err)
		}
	}
	if State(42).String() != "State(42)" {
		t.Fatal(State(42).String())
	}
	var s State
	if err := s.UnmarshalText([]byte("ajar")); err == nil {
		t.Fatal("parsed an unknown state")
	}
	if !ForcedOpen.Manual() || Open.Manual() {
		t.Fatal("Manual()")
	}
}
