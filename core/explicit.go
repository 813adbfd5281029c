package core

import (
	"context"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// Explicit time. AllowAt, DoneAt, ReportAt and AdvanceAt drive a guard on a
// clock the caller keeps (a replay of a recording, a simulation, a test),
// as breaker.Breaker's AllowAt and DoneAt drive a breaker: they read no
// clock and set no timer. They are separate methods, so the normal call
// path (Allow, Done, Do) pays nothing for them.

// AllowAt is Allow at the explicit time t: the throttle and the rate limit
// are asked at t, the breaker with AllowAt(t). A bulkhead is asked without
// waiting (a full bulkhead rejects at once: a queue needs the real clock).
// Report the call's outcome with DoneAt or ReportAt, not Done: the
// latency a completion hook sees is measured between the two explicit
// times.
func (g *Guard) AllowAt(ctx context.Context, t time.Time) (Permit, error) {
	var p Permit
	pt := g.cur.Load()
	if pt.thr != nil && !pt.thr.Allow(t) {
		return p, g.rejectedAt(ctx, pt.errThrottled, t)
	}
	if pt.rl != nil && !pt.rl.AllowN(t, 1) {
		return p, g.rejectedAt(ctx, pt.errLimited, t)
	}
	if pt.mach != nil {
		if e := pt.admitMachineAt(ctx, &p, t); e != nil {
			return Permit{}, g.rejectedAt(ctx, e, t)
		}
	}
	bulk := false
	if pt.bh != nil && !g.br.Rejecting() {
		if !pt.bh.TryAcquireHint(p.hint) {
			return p, g.rejectedAt(ctx, pt.errFull, t)
		}
		bulk = true
	}
	var err error
	if p.bp, err = g.br.AllowAt(ctx, t); err != nil {
		if bulk {
			pt.bh.ReleaseHint(p.hint)
		}
		return Permit{}, g.rejectedAt(ctx, g.errOpen, t)
	}
	p.pt, p.bulk = pt, bulk
	if h := g.hooks.Load(); (h != nil && h.OnDone != nil) || pt.adapt != nil {
		p.start = guardClock(t)
	}
	return p, nil
}

// rejectedAt is rejected at the explicit time t.
func (g *Guard) rejectedAt(ctx context.Context, e *RejectedError, t time.Time) error {
	if h := g.hooks.Load(); h != nil && h.OnReject != nil {
		h.OnReject(ctx, Rejection{Guard: g.name, Err: e, At: t})
	}
	return e
}

// guardClock is t on the guard clock (see sinceEpoch): nanoseconds since
// clockEpoch plus one, negative for earlier times, never 0 (which means
// "not taken").
func guardClock(t time.Time) int64 {
	if d := int64(t.Sub(clockEpoch)) + 1; d != 0 {
		return d
	}
	return 1
}

// DoneAt is Done at the explicit time t, for a permit from AllowAt. It does
// nothing if the call was already reported.
func (p *Permit) DoneAt(t time.Time, err error) {
	if p.pt == nil || p.reported {
		return
	}
	p.reported = true
	p.bp.DoneAt(t, err)
	p.afterAt(t, breaker.Outcome{Err: err}, 0, false)
}

// ReportAt is Report at the explicit time t, for a permit from AllowAt: r
// is the caller's own verdict, err is passed to completion hooks only. It
// does nothing if the call was already reported.
func (p *Permit) ReportAt(t time.Time, r breaker.Result, err error) {
	if p.pt == nil || p.reported {
		return
	}
	p.reported = true
	p.bp.ReportAt(t, r)
	p.afterAt(t, breaker.Outcome{Err: err}, r, true)
}

// afterAt is after at the explicit time t.
func (p *Permit) afterAt(t time.Time, o breaker.Outcome, r breaker.Result, classified bool) {
	g := p.pt.g
	if p.bulk {
		p.pt.bh.ReleaseHint(p.hint)
	}
	end := guardClock(t)
	if p.start != 0 {
		o.Latency = time.Duration(max(end-p.start, 0))
	}
	if p.pt.post {
		g.postDone(p, o, r, classified, end)
	}
	if h := g.hooks.Load(); h != nil && h.OnDone != nil {
		if !classified {
			r = g.br.Classify(o)
		}
		h.OnDone(p.bp.Context(), Completion{Guard: g.name, Result: r, Err: o.Err, Latency: o.Latency, At: t})
	}
}

// AdvanceAt makes the changes the guard's timers make by the explicit time
// t (see breaker.Breaker.AdvanceTo): an open breaker half-opens when its
// open duration ends, a lost probe reopens it when its probe timeout ends.
// Explicit-time drivers call it before each event and at the end, so that
// transitions fall where the real clock would have put them.
func (g *Guard) AdvanceAt(t time.Time) {
	g.br.AdvanceTo(t)
	g.AdvanceMachineAt(t) // custom states: machine.go
}
