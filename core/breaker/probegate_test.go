package breaker_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

func TestProbeGate(t *testing.T) {
	for _, ramp := range []bool{false, true} {
		cfg := breaker.Config{ConsecutiveFailures: 1, OpenDuration: time.Minute}
		if ramp {
			cfg.RampSteps = []float64{50}
		}
		b, err := breaker.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var open atomic.Bool
		var asked atomic.Int32
		b.SetProbeGate(func() bool { asked.Add(1); return open.Load() })
		ctx := context.Background()
		t0 := time.Now()
		// The closed path does not consult the gate.
		p, err := b.AllowAt(ctx, t0)
		if err != nil {
			t.Fatal(err)
		}
		p.DoneAt(t0, errors.New("boom"))
		if b.State() != breaker.Open || asked.Load() != 0 {
			t.Fatalf("ramp %v: state %s, gate asked %d times; want open, 0", ramp, b.State(), asked.Load())
		}
		later := t0.Add(2 * time.Minute)
		if _, err := b.AllowAt(ctx, later); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("ramp %v: gate shut, half-open: %v, want ErrOpen", ramp, err)
		}
		if b.State() != breaker.HalfOpen || asked.Load() == 0 {
			t.Fatalf("ramp %v: state %s, gate asked %d times", ramp, b.State(), asked.Load())
		}
		if s := b.Snapshot(); s.RejectedProbe+s.Rejected == 0 {
			t.Fatalf("ramp %v: the gate's rejection was not counted: %+v", ramp, s)
		}
		open.Store(true)
		p, err = b.AllowAt(ctx, later)
		if ramp && err != nil { // the first call of a 50% step falls outside its share
			p, err = b.AllowAt(ctx, later)
		}
		if err != nil {
			t.Fatalf("ramp %v: gate open: %v", ramp, err)
		}
		p.DoneAt(later, nil)
		// A panicking gate admits; nil removes it.
		b.SetProbeGate(func() bool { panic("gate") })
		b.SetProbeGate(nil)
	}
}

func TestProbeGatePanicAdmits(t *testing.T) {
	b, _ := breaker.New(breaker.Config{ConsecutiveFailures: 1, OpenDuration: time.Minute})
	b.SetProbeGate(func() bool { panic("gate") })
	ctx := context.Background()
	t0 := time.Now()
	p, _ := b.AllowAt(ctx, t0)
	p.DoneAt(t0, errors.New("boom"))
	if _, err := b.AllowAt(ctx, t0.Add(2*time.Minute)); err != nil {
		t.Fatalf("panicking gate: %v, want the probe admitted", err)
	}
}
