package core_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

func explicitGuard(t *testing.T, p core.Policy, h core.Hooks) *core.Guard {
	t.Helper()
	reg, err := core.NewRegistry(core.WithDefaultPolicy(p), core.WithHooks(h))
	if err != nil {
		t.Fatal(err)
	}
	return reg.MustGuard("dep")
}

// TestGuardExplicitTimeTransitionsAtTheGivenTimes drives a whole guard on a
// clock of its own: trips, half-opens when AdvanceAt passes the open
// duration (at its end, not at the next call), closes on a probe.
func TestGuardExplicitTimeTransitionsAtTheGivenTimes(t *testing.T) {
	var got []core.StateChange
	var lat []time.Duration
	g := explicitGuard(t, core.Policy{Name: "p", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 2, OpenDuration: core.Duration(10 * time.Second)}},
		core.Hooks{OnStateChange: func(_ context.Context, e core.StateChange) { got = append(got, e) },
			OnDone: func(_ context.Context, c core.Completion) { lat = append(lat, c.Latency) }})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for i := range 2 {
		p, err := g.AllowAt(ctx, t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		p.DoneAt(t0.Add(time.Duration(i)*time.Second+250*time.Millisecond), errBoom)
	}
	if _, err := g.AllowAt(ctx, t0.Add(5*time.Second)); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("AllowAt while open = %v, want ErrOpen", err)
	}
	g.AdvanceAt(t0.Add(30 * time.Second))
	p, err := g.AllowAt(ctx, t0.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	p.DoneAt(t0.Add(31*time.Second), nil)
	want := []struct {
		from, to breaker.State
		at       time.Time
	}{
		{breaker.Closed, breaker.Open, t0.Add(1250 * time.Millisecond)},
		{breaker.Open, breaker.HalfOpen, t0.Add(11250 * time.Millisecond)},
		{breaker.HalfOpen, breaker.Closed, t0.Add(31 * time.Second)},
	}
	if len(got) != len(want) {
		t.Fatalf("transitions = %v, want %d", got, len(want))
	}
	for i, w := range want {
		if got[i].From != w.from || got[i].To != w.to || !got[i].At.Equal(w.at) {
			t.Errorf("transition %d = %v at %v, want %v -> %v at %v", i, got[i].Transition, got[i].At, w.from, w.to, w.at)
		}
	}
	if len(lat) != 3 || lat[0] != 250*time.Millisecond || lat[2] != time.Second {
		t.Errorf("OnDone latencies = %v, want [250ms 250ms 1s]", lat)
	}
}

// TestGuardAdvanceAtReopensOnALostProbe: a probe that never reports reopens
// the breaker when its probe timeout ends, as the probe timer would.
func TestGuardAdvanceAtReopensOnALostProbe(t *testing.T) {
	var got []core.StateChange
	g := explicitGuard(t, core.Policy{Name: "p", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1, OpenDuration: core.Duration(time.Second), ProbeTimeout: core.Duration(5 * time.Second)}},
		core.Hooks{OnStateChange: func(_ context.Context, e core.StateChange) { got = append(got, e) }})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p, _ := g.AllowAt(context.Background(), t0)
	p.DoneAt(t0, errBoom)
	g.AdvanceAt(t0.Add(2 * time.Second))
	if _, err := g.AllowAt(context.Background(), t0.Add(2*time.Second)); err != nil { // the probe, never reported
		t.Fatal(err)
	}
	g.AdvanceAt(t0.Add(time.Minute))
	if len(got) < 3 || got[2].To != breaker.Open || !got[2].At.Equal(t0.Add(7*time.Second)) {
		t.Fatalf("transitions = %v, want the third to reopen at +7s", got)
	}
	// The reopened breaker's (backed-off) open duration has elapsed by +1m
	// too: AdvanceAt half-opens it again at its end.
	if last := got[len(got)-1]; last.To != breaker.HalfOpen || !last.At.After(t0.Add(7*time.Second)) {
		t.Fatalf("last transition = %v at %v, want half-open after +7s", last.Transition, last.At)
	}
}

// TestGuardAllowAtGates: the rate limit is asked at the explicit time and a
// full bulkhead rejects without waiting.
func TestGuardAllowAtGates(t *testing.T) {
	g := explicitGuard(t, core.Policy{Name: "p",
		RateLimit: &core.RateLimitPolicy{Limit: 1, Per: core.Duration(time.Second), Burst: 1},
		Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 1, MaxQueue: 10, MaxWait: core.Duration(time.Hour)}}, core.Hooks{})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	p, err := g.AllowAt(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.AllowAt(ctx, t0); !errors.Is(err, core.ErrRejected) {
		t.Fatalf("second call in the same instant = %v, want rate limited", err)
	}
	if _, err := g.AllowAt(ctx, t0.Add(time.Second)); !errors.Is(err, core.ErrRejected) {
		t.Fatalf("call while the bulkhead is full = %v, want rejected at once", err)
	}
	p.DoneAt(t0.Add(1500*time.Millisecond), nil)
	q, err := g.AllowAt(ctx, t0.Add(2*time.Second))
	if err != nil {
		t.Fatalf("after the slot is back and a token refilled: %v", err)
	}
	q.ReportAt(t0.Add(3*time.Second), breaker.Success, nil)
	s := g.Snapshot()
	if s.Rejected.Limited != 1 || s.Rejected.Full != 1 || s.Breaker.Succeeded != 2 {
		t.Fatalf("rejections %+v, succeeded %d; want 1 limited, 1 full, 2 succeeded", s.Rejected, s.Breaker.Succeeded)
	}
}

func TestGuardAllowAtDoneAtAllocatesNothing(t *testing.T) {
	g := explicitGuard(t, core.Policy{Name: "p"}, core.Hooks{})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() {
		p, _ := g.AllowAt(ctx, t0)
		p.DoneAt(t0, nil)
		g.AdvanceAt(t0)
	}); n != 0 {
		t.Fatalf("AllowAt+DoneAt+AdvanceAt allocate %v times per call, want 0", n)
	}
}
