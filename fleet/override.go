package fleet

import (
	"context"
	"errors"
	"fmt"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Act takes a fleet-wide operator action: it takes a version from the
// store (NextVersion), stores the override under its target, applies it
// to this replica's guards with o.Actor and o.Reason, and returns it with
// its Version and By set. Every other replica applies it (with actor
// "fleet:" + o.Actor) on the store's hint or at its next reconcile, those
// that join later included. ActionRelease ends the manual state the
// target's previous action set, on every replica; it stays in the store
// for a day (DefaultReleaseTTL) so that replicas partitioned meanwhile
// see it when they heal.
//
// Act calls the store, so it waits (up to the store timeout for each of
// its two calls); it fails when the store cannot be reached, without
// applying anything, or when o is invalid (an empty Actor, an unknown
// Action, a Target that ParseTarget refuses). Audit the action once, where
// Act is called.
func (a *Agent) Act(ctx context.Context, o Override) (Override, error) {
	if a.closed.Load() {
		return Override{}, errors.New("fleet: Act: agent closed")
	}
	if o.Actor == "" {
		return Override{}, errors.New("fleet: Act: actor: must not be empty")
	}
	switch o.Action {
	case ActionForceOpen, ActionClose, ActionDisable, ActionMetricsOnly, ActionRelease:
	default:
		return Override{}, fmt.Errorf("fleet: Act: action: %q is not one of force-open, close, disable, metrics-only, release", o.Action)
	}
	if _, err := ParseTarget(o.Target); err != nil {
		return Override{}, fmt.Errorf("fleet: Act: %w", err)
	}
	var v uint64
	if err := a.call(ctx, func(c context.Context) error {
		var err error
		v, err = a.store.NextVersion(c)
		return err
	}); err != nil {
		return Override{}, fmt.Errorf("fleet: Act: store: %w", err)
	}
	o.Version, o.By = v, a.self.ID
	raw, err := encode(KindOverride, o)
	if err != nil {
		return Override{}, fmt.Errorf("fleet: Act: %w", err)
	}
	var ttl = a.cfg.releaseTTL
	if o.Action != ActionRelease {
		ttl = 0
	}
	// Claim the version before writing, so that the hint of our own write
	// does not apply it a second time.
	a.mu.Lock()
	prev, prevO := a.applied[o.Target], a.overrides[o.Target]
	a.applied[o.Target], a.overrides[o.Target] = v, o
	a.mu.Unlock()
	if err := a.call(ctx, func(c context.Context) error {
		return a.store.Put(c, KindOverride, o.Target, raw, ttl)
	}); err != nil {
		a.mu.Lock()
		if a.applied[o.Target] == v {
			a.applied[o.Target], a.overrides[o.Target] = prev, prevO
		}
		a.mu.Unlock()
		return Override{}, fmt.Errorf("fleet: Act: store: %w", err)
	}
	a.applyOverride(o, o.Actor)
	return o, nil
}

// readOverrides reads every override and applies those not applied yet.
func (a *Agent) readOverrides(ctx context.Context) {
	es, ok := a.list(ctx, KindOverride)
	if !ok {
		return
	}
	seen := map[string]bool{}
	for _, e := range es {
		if o, ok := a.decodeOverride(e); ok {
			seen[o.Target] = true
			a.consider(o)
		}
	}
	a.mu.Lock()
	for t := range a.overrides {
		if !seen[t] {
			delete(a.overrides, t)
		}
	}
	a.mu.Unlock()
}

// readOverride reads the override of one target.
func (a *Agent) readOverride(ctx context.Context, target string) {
	var e Entry
	var found bool
	if a.call(ctx, func(c context.Context) error {
		var err error
		e, found, err = a.store.Get(c, KindOverride, target)
		return err
	}) != nil {
		return
	}
	if !found {
		a.mu.Lock()
		delete(a.overrides, target)
		a.mu.Unlock()
		return
	}
	if o, ok := a.decodeOverride(e); ok {
		a.consider(o)
	}
}

func (a *Agent) decodeOverride(e Entry) (Override, bool) {
	var o Override
	err := decode(KindOverride, e.Value, &o)
	if err == nil && (o.Target != e.Key || o.Version == 0 || o.Actor == "") {
		err = errors.New("fleet: override does not match its key, or has no version or actor")
	}
	if err == nil {
		switch o.Action {
		case ActionForceOpen, ActionClose, ActionDisable, ActionMetricsOnly, ActionRelease:
		default:
			err = fmt.Errorf("fleet: override action %q unknown", o.Action)
		}
	}
	if err == nil {
		_, err = ParseTarget(o.Target)
	}
	if err != nil {
		a.bad(KindOverride, e, err)
		return Override{}, false
	}
	return o, true
}

// consider applies o if this replica has not applied its version (or a
// newer one) for its target.
func (a *Agent) consider(o Override) {
	a.mu.Lock()
	if o.Version <= a.applied[o.Target] {
		if o.Version == a.applied[o.Target] {
			a.overrides[o.Target] = o
		}
		a.mu.Unlock()
		return
	}
	a.applied[o.Target], a.overrides[o.Target] = o.Version, o
	a.mu.Unlock()
	a.applyOverride(o, "fleet:"+o.Actor)
}

// applyOverride applies o to this replica's guards as actor.
func (a *Agent) applyOverride(o Override, actor string) {
	sel, err := ParseTarget(o.Target)
	if err != nil {
		return
	}
	reason := o.Reason
	if reason == "" {
		reason = fmt.Sprintf("fleet %s (v%d by %s)", o.Action, o.Version, o.Actor)
	}
	m := breaker.Manual{Actor: actor, Reason: reason}
	switch o.Action {
	case ActionForceOpen:
		_, err = a.reg.ForceOpen(sel, m)
	case ActionDisable:
		_, err = a.reg.Disable(sel, m)
	case ActionMetricsOnly:
		_, err = a.reg.MetricsOnly(sel, m)
	case ActionRelease:
		_, err = a.reg.Release(sel, m)
	case ActionClose:
		if _, err = a.reg.Release(sel, m); err == nil {
			_, err = a.reg.Reset(sel, m)
		}
	}
	if err != nil && !errors.Is(err, core.ErrUnknownGuard) {
		a.log.Warn("fleet: override not applied", "target", o.Target, "action", o.Action, "version", o.Version, "err", err)
	}
}
