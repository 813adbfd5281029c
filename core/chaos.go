package core

import (
	"context"
	"errors"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/internal/reject"
)

// This file is the core's side of fault injection (package chaos holds the
// experiments). A registry can inject faults only if it was built with
// WithChaos: a guard then asks its registry's injector about each call in
// Allow and Do. Without WithChaos no guard has an injector, no API gives it
// one, and the call path pays one nil check.

// ChaosInjector decides which faults to inject into a registry's calls.
// Package chaos provides the implementation (chaos.Injector); a registry
// takes one with WithChaos.
type ChaosInjector interface {
	// AttachRegistry is called once, by NewRegistry, with the registry the
	// injector serves. An injector serves one registry; it returns an
	// error if it serves another already.
	AttachRegistry(r *Registry) error
	// Inject returns the fault to inject into a call to g about to pass
	// its gates; the zero ChaosFault injects nothing. It is called on
	// every call of every guard of the registry, concurrently, so it must
	// be cheap when no experiment runs.
	Inject(ctx context.Context, g *Guard) ChaosFault
}

// ChaosFault is a fault injected into one call. The delay comes first;
// then the call is rejected (Reject), or admitted by the gates and failed
// with Err without running (the breaker counts a failure), or admitted as
// usual.
type ChaosFault struct {
	// Delay is latency added before the call reaches the gates; the wait
	// ends early, with ctx's error, if ctx ends.
	Delay time.Duration
	// Reject rejects the call with a *RejectedError whose Reason is
	// ErrChaos.
	Reject bool
	// Err, when not nil, fails the call with Err once the gates admit it.
	Err error
}

// ErrChaos is the Reason of a rejection that a chaos experiment injected.
// It matches ErrRejected under errors.Is; its ErrorType is
// "chaos_injected".
var ErrChaos = reject.New("chaos: rejection injected", "chaos_injected")

// WithChaos lets inj inject faults into the registry's guards (see
// package chaos). A registry built without it cannot inject faults at all.
func WithChaos(inj ChaosInjector) Option {
	return optionFunc(func(r *Registry) error {
		if inj == nil {
			return errors.New("core: WithChaos: the injector must not be nil")
		}
		if err := inj.AttachRegistry(r); err != nil {
			return err
		}
		r.chaos = inj
		return nil
	})
}

// Chaos returns the injector the registry was built with (WithChaos), or
// nil when it was built without one.
func (r *Registry) Chaos() ChaosInjector { return r.chaos }

// admitChaos runs the fault f on a call to g: the delay, then a rejection,
// or the gates and a failure. It returns nil when the call goes on to the
// gates as usual (done is false).
func (g *Guard) admitChaos(ctx context.Context, p *Permit, pt *parts, f ChaosFault) (done bool, err error) {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return true, ctx.Err()
		}
	}
	if f.Reject {
		return true, g.rejected(ctx, newRejectedError(g.name, ErrChaos, nil))
	}
	if f.Err == nil {
		return false, nil
	}
	if err := g.gates(ctx, p, pt, false); err != nil {
		return true, err
	}
	p.Report(breaker.Failure, f.Err)
	*p = Permit{}
	return true, f.Err
}
