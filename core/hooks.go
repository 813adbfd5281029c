package core

import (
	"context"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
)

// Hooks observes guards. Every field is optional, and a nil field costs
// nothing on the call path. Hooks run in the goroutine of the call that
// triggered them, never under a lock; they must be quick and must not
// block (queue slow work, as package notify does). A panicking hook is
// recovered and the guard carries on.
//
// Several sets of hooks compose: a registry calls every set it was given,
// in the order they were added.
type Hooks struct {
	// OnStateChange is called after a guard's breaker changes state, with
	// the context of the call that caused it (context.Background for timers
	// and manual changes). Changes of one guard arrive in order.
	OnStateChange func(ctx context.Context, e StateChange)
	// OnReject is called when a guard rejects a call.
	OnReject func(ctx context.Context, r Rejection)
	// OnDone is called when an admitted call finishes. Setting it makes the
	// guard measure each call's latency (two clock reads per call).
	OnDone func(ctx context.Context, c Completion)
	// OnRetry is called before each retry Do makes, with the attempt about
	// to run and the delay chosen.
	OnRetry func(ctx context.Context, a RetryAttempt)
	// OnHedge is called when Do starts a hedge of an idempotent call (see
	// HedgePolicy), in the hedge's goroutine, with the call's context.
	OnHedge func(ctx context.Context, e HedgeEvent)
	// OnMachineChange is called after a guard's custom state changes (see
	// MachinePolicy): by its conditions, by an operator
	// (Guard.SetMachineState) or by a reload that changes its machine.
	// The context is context.Background.
	OnMachineChange func(ctx context.Context, e MachineChange)
}

// RetryAttempt describes a retry about to happen.
type RetryAttempt struct {
	Guard string
	retry.Attempt
}

// StateChange is a guard's breaker transition.
type StateChange struct {
	Guard string
	breaker.Transition
}

// Rejection describes a rejected call.
type Rejection struct {
	Guard string
	// Err is the error returned to the caller; Err.Reason is the sentinel.
	Err *RejectedError
	// At is the explicit time of a rejection by Guard.AllowAt; zero for
	// Allow and Do, which read no wall clock for hooks.
	At time.Time
}

// Completion describes a finished call.
type Completion struct {
	Guard   string
	Result  breaker.Result
	Err     error
	Latency time.Duration
	// At is the explicit end time of a call reported by Permit.DoneAt or
	// ReportAt; zero for Done, Finish, Report and Do, which read no wall
	// clock for hooks.
	At time.Time
}

// composeHooks merges hook sets into one, or returns nil when no set has a
// hook.
func composeHooks(sets []Hooks) *Hooks {
	var sc []func(context.Context, StateChange)
	var rj []func(context.Context, Rejection)
	var dn []func(context.Context, Completion)
	var rt []func(context.Context, RetryAttempt)
	var hg []func(context.Context, HedgeEvent)
	var mc []func(context.Context, MachineChange)
	for _, h := range sets {
		if h.OnStateChange != nil {
			sc = append(sc, h.OnStateChange)
		}
		if h.OnReject != nil {
			rj = append(rj, h.OnReject)
		}
		if h.OnDone != nil {
			dn = append(dn, h.OnDone)
		}
		if h.OnRetry != nil {
			rt = append(rt, h.OnRetry)
		}
		if h.OnHedge != nil {
			hg = append(hg, h.OnHedge)
		}
		if h.OnMachineChange != nil {
			mc = append(mc, h.OnMachineChange)
		}
	}
	if len(sc)+len(rj)+len(dn)+len(rt)+len(hg)+len(mc) == 0 {
		return nil
	}
	return &Hooks{OnStateChange: fanout(sc), OnReject: fanout(rj), OnDone: fanout(dn), OnRetry: fanout(rt), OnHedge: fanout(hg), OnMachineChange: fanout(mc)}
}

// fanout returns a hook that calls each of fs in order, recovering from a
// panic in any of them; nil when fs is empty, so that the field costs
// nothing.
func fanout[E any](fs []func(context.Context, E)) func(context.Context, E) {
	if len(fs) == 0 {
		return nil
	}
	return func(ctx context.Context, e E) {
		for _, f := range fs {
			safe(func() { f(ctx, e) })
		}
	}
}

func safe(f func()) {
	defer func() { _ = recover() }()
	f()
}
