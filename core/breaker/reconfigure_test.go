package breaker

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Issue 19: a reloaded policy reconfigures a live breaker in place.

func reconfigure(t *testing.T, b *Breaker, cfg Config) {
	t.Helper()
	if err := b.Reconfigure(cfg); err != nil {
		t.Fatal(err)
	}
}

func calls(t *testing.T, b *Breaker, at time.Time, n, failures int) {
	t.Helper()
	for i := range n {
		p, err := b.AllowAt(context.Background(), at)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		var e error
		if i < failures {
			e = errors.New("boom")
		}
		p.DoneAt(at, e)
	}
}

func TestReconfigureKeepsTheCountWindowOfTheSameShape(t *testing.T) {
	b, _ := New(Config{WindowSize: 10, MinCalls: 10, FailureRate: 50})
	now := time.Now()
	calls(t, b, now, 8, 4)
	reconfigure(t, b, Config{WindowSize: 10, MinCalls: 10, FailureRate: 40})
	if s := b.Snapshot(); s.WindowCalls != 8 || s.WindowFailures != 4 || s.Admitted != 8 {
		t.Fatalf("%+v", s)
	}
	calls(t, b, now, 2, 0)
	if b.State() != Open {
		t.Fatalf("state %v; want open at 40%%", b.State())
	}
}

func TestReconfigureRestartsAWindowOfANewShapeKeepingTheState(t *testing.T) {
	b, _ := New(Config{WindowSize: 10, MinCalls: 10, ConsecutiveFailures: 5})
	now := time.Now()
	calls(t, b, now, 6, 3)
	reconfigure(t, b, Config{Window: TimeWindow, WindowDuration: time.Minute, Buckets: 6, MinCalls: 4, ConsecutiveFailures: 5})
	if s := b.Snapshot(); s.WindowCalls != 0 || s.State != Closed || s.Admitted != 6 || s.Failed != 3 {
		t.Fatalf("%+v", s)
	}
	calls(t, b, now, 4, 4) // the time window trips at 4 calls
	if b.State() != Open {
		t.Fatalf("state %v", b.State())
	}
	// Open: a new shape keeps it open, until the time it was given.
	until := b.Snapshot().OpenUntil
	reconfigure(t, b, Config{WindowSize: 20, OpenDuration: time.Hour})
	if s := b.Snapshot(); s.State != Open || !s.OpenUntil.Equal(until) || s.Transitions != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestReconfigureKeepsATimeWindowOfTheSameShape(t *testing.T) {
	cfg := Config{Window: TimeWindow, WindowDuration: time.Minute, Buckets: 6, MinCalls: 10, FailureRate: 50}
	b, _ := New(cfg)
	now := time.Now()
	calls(t, b, now, 6, 3)
	cfg.FailureRate = 90
	cfg.SlowCallDuration = time.Second
	reconfigure(t, b, cfg)
	if s := b.Snapshot(); s.WindowCalls != 6 || s.WindowFailures != 3 {
		t.Fatalf("%+v", s)
	}
	if !b.measure.Load() {
		t.Error("a slow-call rule added by a reload measures no latency")
	}
}

func TestReconfigureRefusesAnInvalidConfigAndChangesNothing(t *testing.T) {
	b, _ := New(Config{WindowSize: 10})
	if err := b.Reconfigure(Config{FailureRate: 150}); err == nil {
		t.Fatal("accepted")
	}
	if c := b.Config(); c.WindowSize != 10 || c.FailureRate != 50 {
		t.Fatalf("%+v", c)
	}
}
