package breaker

import (
	"context"
	"fmt"
	"time"
)

// AdvanceTo makes the changes that the breaker's timers make by the
// explicit time t, at the times they fall due, for breakers driven by
// AllowAt and DoneAt (which set no timers): an open breaker whose open
// duration has elapsed half-opens at the end of that duration, and a
// half-open breaker whose probe ran for ProbeTimeout without reporting
// reopens at the moment the probe timed out (and may half-open again, if
// that open duration has elapsed by t too). Probe slots of earlier periods
// that timed out by t are freed.
//
// Without AdvanceTo, an explicit-time breaker makes these changes lazily,
// at the next AllowAt, and timestamps them then; a replay or simulation
// calls AdvanceTo before each event so that its transitions fall where a
// breaker running on the real clock would have made them. A breaker
// opened on the real clock (its timer running) is left to its timer. t
// earlier than a time the breaker has seen changes nothing.
func (b *Breaker) AdvanceTo(t time.Time) {
	now := int64(t.Sub(b.epoch))
	b.mu.Lock()
	for range 1 << 10 { // each pass moves time forward; bounded all the same
		w := b.word.Load()
		if s := stateOf(w); s == Open {
			until := b.openUntil.Load()
			if w&flagTimer != 0 || until > now {
				break
			}
			b.toHalfOpenLocked(context.Background(), w, until, "open duration elapsed")
			continue
		} else if s != HalfOpen {
			break
		}
		timeout := int64(b.conf().ProbeTimeout)
		lost, found := int64(0), false // times before the epoch are negative
		for i, st := range b.probes {
			if st != 0 && b.probeWord[i] == w {
				if exp := addSat(st-1, timeout); exp <= now && (!found || exp < lost) {
					lost, found = exp, true
				}
			}
		}
		if !found {
			break
		}
		b.sweepProbesLocked(w, lost)
		b.reopenLocked(context.Background(), w, lost, true, fmt.Sprintf("probe gave no answer within %s", b.conf().ProbeTimeout))
	}
	b.sweepProbesLocked(b.word.Load(), now)
	b.mu.Unlock()
	b.dispatch()
}

// OverrideAt makes a manual change at the explicit time t, for replays of
// recorded overrides: to ForcedOpen, Disabled or MetricsOnly as ForceOpen,
// Disable and MetricsOnly do, or to Closed, which ends a manual state as
// Release does and closes an automatic breaker as Reset does (the change
// an operator's release or reset records). A manual open for a duration
// (OpenFor) is made with OpenFor; OverrideAt refuses Open and HalfOpen.
func (b *Breaker) OverrideAt(t time.Time, to State, m Manual) (Transition, error) {
	now := int64(t.Sub(b.epoch))
	if now == -1 {
		now = -2 // -1 tells manualAt to read the clock
	}
	switch to {
	case ForcedOpen, Disabled, MetricsOnly:
		return b.manualAt(now, func(w uint64, _ int64) uint64 { return nextWord(w, to, 0) }, m), nil
	case Closed:
		return b.manualAt(now, func(w uint64, _ int64) uint64 {
			b.opens = 0
			return nextWord(w, Closed, 0)
		}, m), nil
	}
	return Transition{}, fmt.Errorf("breaker: OverrideAt: %v is not a state an override sets (forced-open, disabled, metrics-only, closed)", to)
}
