package core

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// This file measures, on a small sample of calls, the time a guard itself
// adds to a call: its gates on the way in (chaos delays excluded) and its
// report on the way out (breaker, bulkhead, adaptive limits, completion
// hooks). The breaker picks one admitted call in breaker.SampleEvery from
// the count it keeps anyway (no counter of our own, no random draw); that
// pick arms the guard, and the next call on the guard is timed, with four
// clock reads. Every other call pays one atomic load (shared with the
// chaos check) and two predictable branches.

// The bits of Guard.special: a call takes the special path when any is
// set.
const (
	specialChaos uint32 = 1 << iota // the registry injects faults (chaos.go)
	specialArmed                    // time the next call
)

// overhead holds a guard's overhead samples.
type overhead struct {
	gateSamples, gateNanos         atomic.Uint64
	doneSamples, doneNanos, maxRun atomic.Uint64
}

// OverheadSnapshot is what a guard measured of its own cost: the mean time
// its gates (Allow) and its report (Done, hooks included) took on the
// sampled calls, about one in SampleEvery. Gates include the time a call
// waited in the bulkhead's queue, if it has one; a rejected call's gates
// are sampled too.
type OverheadSnapshot struct {
	SampleEvery              int
	GateSamples, DoneSamples uint64
	// Gates and Done are the means; PerCall is their sum, what a call
	// pays for its protection.
	Gates, Done, PerCall time.Duration
	// Max is the longest gates or report sampled.
	Max time.Duration
}

// nanos reads the monotonic clock, in nanoseconds since clockEpoch.
func nanos() int64 { return int64(time.Since(clockEpoch)) }

// admitSpecial runs a chaos fault, if the registry injects one, then the
// gates of a call the guard is armed to time. It returns done with the
// call's admission, or not done when the call goes on to the gates as
// usual.
func (g *Guard) admitSpecial(ctx context.Context, p *Permit, pt *parts) (done bool, err error) {
	if g.chaos != nil {
		if done, err := g.admitChaos(ctx, p, pt, g.chaos.Inject(ctx, g)); done {
			return true, err
		}
	}
	for {
		f := g.special.Load()
		if f&specialArmed == 0 {
			return false, nil // not armed, or another call took the sample
		}
		if g.special.CompareAndSwap(f, f&^specialArmed) {
			break
		}
	}
	t0 := nanos()
	err = g.gates(ctx, p, pt, false)
	d := uint64(max(nanos()-t0, 0))
	g.ov.gateSamples.Add(1)
	g.ov.gateNanos.Add(d)
	g.ov.noteMax(d)
	if err == nil {
		p.timed = true
	}
	return true, err
}

// arm arms the guard when the breaker sampled bp.
func (g *Guard) arm(bp *breaker.Permit) {
	if bp.Sampled() {
		g.special.Or(specialArmed)
	}
}

// doneTimed, finishTimed and reportTimedResult are Done, Finish and
// Report for a timed call, kept out of those so that the calls not timed
// pay one branch.
func (p *Permit) doneTimed(err error) {
	p.reportTimed(func() {
		p.bp.Done(err)
		p.after(breaker.Outcome{Err: err}, 0, false)
	})
}

func (p *Permit) finishTimed(o breaker.Outcome) {
	p.reportTimed(func() {
		p.bp.Finish(o)
		p.after(o, 0, false)
	})
}

func (p *Permit) reportTimedResult(r breaker.Result, err error) {
	p.reportTimed(func() {
		p.bp.Report(r)
		p.after(breaker.Outcome{Err: err}, r, true)
	})
}

// reportTimed runs report, a timed call's report, and records its time.
func (p *Permit) reportTimed(report func()) {
	t0 := nanos()
	report()
	o := &p.pt.g.ov
	d := uint64(max(nanos()-t0, 0))
	o.doneSamples.Add(1)
	o.doneNanos.Add(d)
	o.noteMax(d)
}

func (o *overhead) noteMax(d uint64) {
	for {
		m := o.maxRun.Load()
		if d <= m || o.maxRun.CompareAndSwap(m, d) {
			return
		}
	}
}

// snapshot returns the measurements, nil before the first sample.
func (o *overhead) snapshot() *OverheadSnapshot {
	gs, ds := o.gateSamples.Load(), o.doneSamples.Load()
	if gs == 0 && ds == 0 {
		return nil
	}
	s := &OverheadSnapshot{SampleEvery: breaker.SampleEvery, GateSamples: gs, DoneSamples: ds, Max: time.Duration(o.maxRun.Load())}
	if gs > 0 {
		s.Gates = time.Duration(o.gateNanos.Load() / gs)
	}
	if ds > 0 {
		s.Done = time.Duration(o.doneNanos.Load() / ds)
	}
	s.PerCall = s.Gates + s.Done
	return s
}
