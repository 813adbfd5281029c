package core

import "time"

// Registry-wide explicit time, for replays and simulations that drive every
// guard of a registry on a clock of their own (see explicit.go). These are
// separate methods: Snapshot and the call path pay nothing for them.

// AdvanceAt calls Guard.AdvanceAt(t) on every guard of the registry, in
// name order: each breaker makes the changes its timers would have made by
// t (half-open at the end of an open duration, reopen on a lost probe).
func (r *Registry) AdvanceAt(t time.Time) {
	gs, _ := r.Guards(All())
	for _, g := range gs {
		g.AdvanceAt(t)
	}
}

// SnapshotAt is Snapshot at the explicit time t: every guard's
// GuardSnapshot with its window figures (failure rate, calls in the
// window), rate limit tokens and throttle probability taken at t rather
// than on the real clock, sorted by name. Like Snapshot, it observes the
// guards for Prune, at t.
func (r *Registry) SnapshotAt(t time.Time) []GuardSnapshot {
	gs, _ := r.Guards(All())
	out := make([]GuardSnapshot, len(gs))
	for i, g := range gs {
		out[i] = g.SnapshotAt(t)
		observe(g, &out[i], t)
	}
	return out
}

// SnapshotAt is Snapshot at the explicit time t, for guards driven by
// AllowAt and DoneAt: the breaker's window figures, the rate limit's state
// and the throttle's probability are those at t. A zero t means now.
//
// It takes Snapshot and replaces what depends on the time, so it reads the
// guard twice: meant for explicit-time drivers, which call the guard from
// one goroutine, it is exact there; under concurrent calls its counters
// may be a few calls apart, as Snapshot's are.
func (g *Guard) SnapshotAt(t time.Time) GuardSnapshot {
	s := g.Snapshot()
	if t.IsZero() {
		return s
	}
	pt := g.cur.Load()
	s.Breaker = g.br.SnapshotAt(t)
	s.Rejected.Open, s.Rejected.HalfOpen = s.Breaker.Rejected, s.Breaker.RejectedProbe
	if pt.rl != nil && s.RateLimit != nil {
		rs := pt.rl.SnapshotAt(t)
		s.RateLimit = &rs
	}
	if pt.thr != nil && s.Throttle != nil {
		ts := pt.thr.Snapshot(t)
		s.Throttle = &ts
		s.Rejected.Throttled = ts.Rejected
	}
	return s
}
