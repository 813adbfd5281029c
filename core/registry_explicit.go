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
		out[i] = g.snapshotAt(t)
		observe(g, &out[i], t)
	}
	return out
}

// SnapshotAt is Snapshot at the explicit time t, for guards driven by
// AllowAt and DoneAt: the breaker's window figures, the rate limit's state
// and the throttle's probability are those at t. A zero t means now.
func (g *Guard) SnapshotAt(t time.Time) GuardSnapshot { return g.snapshotAt(t) }
