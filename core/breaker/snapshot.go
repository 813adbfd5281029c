package breaker

import (
	"time"
)

// Snapshot is a copy of a breaker's state and counters. Counters are
// cumulative since the breaker was created and never reset; window figures
// describe the current window.
type Snapshot struct {
	State State
	// Since is when the current state began.
	Since time.Time
	// OpenUntil is when an open breaker half-opens; zero in other states.
	OpenUntil time.Time
	// LastTransition is the most recent state change (zero if none).
	LastTransition Transition
	// Transitions counts state changes.
	Transitions uint64

	Admitted  uint64 // calls admitted
	Succeeded uint64 // admitted calls classified as successes
	Failed    uint64 // admitted calls classified as failures
	Ignored   uint64 // admitted calls classified as ignored
	Slow      uint64 // calls at or above SlowCallDuration
	// Rejected counts calls rejected because the breaker was open, forced
	// open, or ramping and the call fell outside the admitted share.
	Rejected uint64
	// RejectedProbe counts calls rejected in half-open because every probe
	// slot was taken.
	RejectedProbe uint64
	// ShadowTrips counts the trips a metrics-only breaker would have made.
	ShadowTrips uint64
	// Manual reports that an operator set the current state: a manual
	// state, or an open made by OpenFor or OpenUntil.
	Manual bool

	WindowCalls         int     // calls in the current window
	WindowFailures      int     // failures in the current window
	WindowSlow          int     // slow calls in the current window
	FailureRate         float64 // percentage of WindowCalls that failed
	SlowCallRate        float64 // percentage of WindowCalls that were slow
	ConsecutiveFailures int
	ProbesInFlight      int
	// RampShare is the percentage of calls a ramping breaker admits now;
	// zero when not ramping.
	RampShare float64
}

// Snapshot returns a copy of the breaker's state and counters. It takes the
// breaker's lock briefly and is meant for exporters, not for every call.
func (b *Breaker) Snapshot() Snapshot { return b.snapshot(int64(time.Since(b.epoch))) }

// SnapshotAt is Snapshot at the explicit time t, for breakers driven by
// AllowAt and DoneAt: the window figures are those of the window at t.
func (b *Breaker) SnapshotAt(t time.Time) Snapshot { return b.snapshot(int64(t.Sub(b.epoch))) }

// snapshot is Snapshot at now, in nanoseconds since the epoch.
func (b *Breaker) snapshot(now int64) Snapshot {
	var s Snapshot
	b.eachShard(func(sh *shard) {
		s.Admitted += sh.admitted.Load()
		s.Succeeded += sh.succeeded.Load() + sh.staleSucceeded.Load()
		s.Failed += sh.failed.Load() + sh.staleFailed.Load()
		s.Ignored += sh.ignored.Load()
		s.Slow += sh.slow.Load()
		s.Rejected += sh.rejected.Load()
		s.RejectedProbe += sh.rejectedProbe.Load()
	})
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.word.Load()
	s.State = stateOf(w)
	s.Since = b.since
	s.LastTransition = b.last
	s.Transitions = b.trans
	s.ShadowTrips = b.shadow
	s.Manual = s.State.Manual() || b.manOpen
	if s.State == Open {
		s.OpenUntil = b.timeAt(b.openUntil.Load())
	}
	s.WindowCalls, s.WindowFailures, s.WindowSlow, s.FailureRate, s.SlowCallRate = b.windowLocked(now)
	s.ConsecutiveFailures = int(b.consecutive.Load())
	for _, st := range b.probes {
		if st != 0 {
			s.ProbesInFlight++
		}
	}
	if steps := b.conf().RampSteps; s.State == HalfOpen && len(steps) > 0 {
		s.RampShare = steps[min(b.rampStep, len(steps)-1)]
	}
	return s
}
