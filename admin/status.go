package admin

import (
	"slices"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// overrideOf returns the manual state a breaker snapshot shows, or nil: a
// manual state, or an open made by OpenFor or OpenUntil (the breaker says
// which with Snapshot.Manual). The actor and reason are those of the last
// transition, which is the one that set the state.
func overrideOf(b *breaker.Snapshot) *Override {
	if !b.Manual {
		return nil
	}
	lt := b.LastTransition
	o := &Override{State: b.State, Actor: lt.Actor, Reason: lt.Reason, At: lt.At}
	if b.State == breaker.Open {
		u := b.OpenUntil
		o.Until = &u
	}
	return o
}

func openUntil(b *breaker.Snapshot) *time.Time {
	if b.State != breaker.Open || b.OpenUntil.IsZero() {
		return nil
	}
	u := b.OpenUntil
	return &u
}

// statusOf converts a core snapshot to the API's view, at now.
func statusOf(s *core.GuardSnapshot, now time.Time) GuardStatus {
	b := &s.Breaker
	st := GuardStatus{
		Name:      s.Name,
		Policy:    s.Policy,
		Tags:      slices.Clone(s.Tags),
		Critical:  s.Critical,
		State:     b.State,
		Since:     b.Since,
		OpenUntil: openUntil(b),
		Override:  overrideOf(b),
		Counters: Counters{
			Admitted:          b.Admitted,
			Succeeded:         b.Succeeded,
			Failed:            b.Failed,
			Ignored:           b.Ignored,
			Slow:              b.Slow,
			Rejected:          s.Rejected.Total(),
			RejectedOpen:      s.Rejected.Open,
			RejectedProbe:     s.Rejected.HalfOpen,
			RejectedFull:      s.Rejected.Full,
			RejectedLimited:   s.Rejected.Limited,
			RejectedThrottled: s.Rejected.Throttled,
			RejectedState:     s.Rejected.State,
			ShadowTrips:       b.ShadowTrips,
			Transitions:       b.Transitions,
		},
		Window: Window{
			Calls:               b.WindowCalls,
			Failures:            b.WindowFailures,
			Slow:                b.WindowSlow,
			FailureRate:         b.FailureRate,
			SlowCallRate:        b.SlowCallRate,
			ConsecutiveFailures: b.ConsecutiveFailures,
			ProbesInFlight:      b.ProbesInFlight,
			RampShare:           b.RampShare,
		},
	}
	if st.Tags == nil {
		st.Tags = []string{}
	}
	if st.OpenUntil != nil {
		st.RetryAfter = core.Duration(max(st.OpenUntil.Sub(now), 0))
	}
	if !b.LastTransition.At.IsZero() {
		t := transitionOf(b.LastTransition)
		st.LastTransition = &t
	}
	if bh := s.Bulkhead; bh != nil {
		st.Bulkhead = &BulkheadStatus{
			MaxConcurrent: bh.MaxConcurrent,
			MaxQueue:      bh.MaxQueue,
			InUse:         bh.InUse,
			Queued:        bh.Queued,
			Rejected:      bh.Rejected,
			TimedOut:      bh.TimedOut,
			Canceled:      bh.Canceled,
			Waited:        bh.Waited,
			WaitTime:      core.Duration(bh.WaitTime),
		}
	}
	if o := s.Overhead; o != nil { // self-measured overhead (issue 23)
		st.Overhead = &OverheadStatus{SampleEvery: o.SampleEvery, Samples: o.GateSamples, Gates: core.Duration(o.Gates), Report: core.Duration(o.Done), PerCall: core.Duration(o.PerCall), Max: core.Duration(o.Max)}
	}
	if a := s.Adaptive; a != nil {
		st.Adaptive = &AdaptiveStatus{Algorithm: a.Algorithm, Limit: a.Limit, MinLimit: a.MinLimit, MaxLimit: a.MaxLimit}
	}
	if th := s.Throttle; th != nil {
		st.Throttle = &ThrottleStatus{Requests: th.Requests, Accepts: th.Accepts, Probability: round2(th.Probability), Rejected: th.Rejected}
	}
	if rl := s.RateLimit; rl != nil {
		st.RateLimit = &RateLimitStatus{
			RateLimitInfo: *rateLimitInfo(rl.Config),
			Available:     round2(rl.Available),
			RetryAfter:    core.Duration(rl.RetryAfter),
			Allowed:       rl.Allowed,
			Rejected:      rl.Rejected,
		}
	}
	if h := s.Hedge; h != nil {
		st.Hedge = &HedgeStatus{Delay: core.Duration(h.Delay), Calls: h.Calls, Started: h.Started, Won: h.Won,
			Cancelled: h.Cancelled, BudgetStopped: h.BudgetStopped, GateStopped: h.GateStopped}
	}
	st.Machine = machineStatusOf(s.Machine) // custom states: machines.go
	if c := s.Cache; c != nil {
		st.Cache = &CacheStatus{Entries: c.Entries, Bytes: c.Bytes, Hits: c.Hits, Shared: c.Shared, Fills: c.Fills,
			StaleServed: c.StaleServed, StaleMissing: c.StaleMissing, Evictions: c.Evictions}
	}
	return st
}

func transitionOf(t breaker.Transition) Transition {
	return Transition{From: t.From, To: t.To, Reason: t.Reason, Actor: t.Actor, At: t.At}
}

// stateOf returns a guard's state for an audit record.
func stateOf(g *core.Guard) GuardState {
	b := g.Breaker().Snapshot()
	return GuardState{Guard: g.Name(), State: b.State, OpenUntil: openUntil(&b), Override: overrideOf(&b)}
}

func statesOf(gs []*core.Guard) []GuardState {
	out := make([]GuardState, len(gs))
	for i, g := range gs {
		out[i] = stateOf(g)
	}
	return out
}

func snapshotGuardOf(s *core.GuardSnapshot) SnapshotGuard {
	b := &s.Breaker
	return SnapshotGuard{
		Name:      s.Name,
		Policy:    s.Policy,
		Tags:      slices.Clone(s.Tags),
		Critical:  s.Critical,
		State:     b.State,
		Since:     b.Since,
		OpenUntil: openUntil(b),
		Override:  overrideOf(b),
	}
}
