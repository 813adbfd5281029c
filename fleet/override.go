package fleet

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// MaxReasonLength is the longest Override.Reason Act stores, in bytes (as
// the admin API's limit): every replica keeps the override, and every
// Snapshot carries it.
const MaxReasonLength = 1024

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
// The override is written with a compare-and-swap on the target's
// current value, so that of two Acts racing on one target the newer
// version stays in the store whatever the order of their writes; if a
// newer version is there already, Act writes nothing, applies the newer
// one and still returns o with its Version. Overrides are applied one at
// a time on each replica, and never an older version of a target after a
// newer one. The overrides in force also apply to guards created later
// (when the agent first sees them: their first state change, or its scan
// of the registry every heartbeat).
//
// Act calls the store, so it waits (up to the store timeout for each of
// its calls: a version, a read and a write, more if another Act on the
// same target writes meanwhile); it fails when the store cannot be
// reached, without applying anything, or when o is invalid (an empty
// Actor, an unknown Action, a Reason longer than MaxReasonLength, a
// Target that ParseTarget refuses). Audit the action once, where Act is
// called.
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
	if len(o.Reason) > MaxReasonLength {
		return Override{}, fmt.Errorf("fleet: Act: reason: %d bytes is longer than the limit of %d", len(o.Reason), MaxReasonLength)
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
	// does not apply it a second time (never lowering a newer claim).
	a.mu.Lock()
	prev, prevO := a.applied[o.Target], a.overrides[o.Target]
	claimed := v > prev
	if claimed {
		a.applied[o.Target], a.overrides[o.Target] = v, o
	}
	a.mu.Unlock()
	newer, err := a.storeOverride(ctx, o, raw, ttl)
	if err != nil {
		a.mu.Lock()
		if claimed && a.applied[o.Target] == v {
			a.applied[o.Target], a.overrides[o.Target] = prev, prevO
		}
		a.mu.Unlock()
		return Override{}, fmt.Errorf("fleet: Act: store: %w", err)
	}
	if newer != nil {
		// Another operator's newer action on the target is in the store
		// already: it wins, here as everywhere.
		a.consider(*newer)
		return o, nil
	}
	a.applyNewest(o, o.Actor)
	return o, nil
}

// storeOverride writes o (encoded as raw) under its target unless the
// store holds a newer version of the target, which it then returns: a
// compare-and-swap on the value read, so that two Acts racing on one
// target leave the newer in the store, whatever the order of their
// writes.
func (a *Agent) storeOverride(ctx context.Context, o Override, raw []byte, ttl time.Duration) (*Override, error) {
	const attempts = 8
	for range attempts {
		var e Entry
		var found bool
		if err := a.call(ctx, func(c context.Context) error {
			var err error
			e, found, err = a.store.Get(c, KindOverride, o.Target)
			return err
		}); err != nil {
			return nil, err
		}
		if found {
			// A newer version wins; an older one, or a value no replica
			// can read, is replaced.
			if cur, ok := a.decodeOverride(e); ok && cur.Version > o.Version {
				return &cur, nil
			}
		}
		var written bool
		if err := a.call(ctx, func(c context.Context) error {
			var err error
			if !found {
				written, _, err = a.store.Create(c, KindOverride, o.Target, raw, ttl)
				return err
			}
			written, err = a.store.CompareAndPut(c, KindOverride, o.Target, e.Value, raw, ttl)
			return err
		}); err != nil {
			return nil, err
		}
		if written {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("override %q changed %d times while being written", o.Target, attempts)
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
	a.applyNewest(o, "fleet:"+o.Actor)
}

// applyNewest applies o as actor unless a newer version of its target has
// been claimed (by Act or consider) or applied meanwhile: Act and the loop
// may hold two versions of one target at once, and the older must never
// be applied last. Applications are serialized (omu); the newer version's
// own application follows (or a reconcile restores it, if its Act failed
// to store it).
func (a *Agent) applyNewest(o Override, actor string) {
	a.omu.Lock()
	defer a.omu.Unlock()
	a.mu.Lock()
	claimed := a.applied[o.Target]
	a.mu.Unlock()
	if o.Version < claimed || o.Version <= a.done[o.Target] {
		return
	}
	a.done[o.Target] = o.Version
	a.applyOverride(o, actor)
}

// applyToFresh applies the overrides in force to the guards the agent has
// just seen for the first time (created after the overrides arrived): the
// overrides whose target selects the guard, in version order, folded into
// the manual state they leave (force-open, disable or metrics-only; none
// after a release or a close).
func (a *Agent) applyToFresh() {
	var fresh []*guardFleet
	a.gates.Range(func(_, v any) bool {
		if gf := v.(*guardFleet); gf.fresh.CompareAndSwap(true, false) {
			fresh = append(fresh, gf)
		}
		return true
	})
	if len(fresh) == 0 {
		return
	}
	a.omu.Lock()
	defer a.omu.Unlock()
	a.mu.Lock()
	ins := make([]Override, 0, len(a.overrides))
	for _, o := range a.overrides {
		if o.Version <= a.done[o.Target] {
			ins = append(ins, o) // applied here: in force for the others
		}
	}
	a.mu.Unlock()
	slices.SortFunc(ins, func(x, y Override) int { return cmpUint(x.Version, y.Version) })
	for _, gf := range fresh {
		var last *Override
		for i := range ins {
			if selects(ins[i].Target, gf.g) {
				last = &ins[i]
			}
		}
		if last == nil {
			continue
		}
		// The newest override selecting the guard decides: a release
		// or a close leaves a new guard as it is.
		var want breaker.State
		switch last.Action {
		case ActionForceOpen:
			want = breaker.ForcedOpen
		case ActionDisable:
			want = breaker.Disabled
		case ActionMetricsOnly:
			want = breaker.MetricsOnly
		default:
			continue
		}
		if gf.g.Breaker().State() == want {
			continue
		}
		m := breaker.Manual{Actor: "fleet:" + last.Actor, Reason: overrideReason(*last)}
		switch want {
		case breaker.ForcedOpen:
			gf.g.ForceOpen(m)
		case breaker.Disabled:
			gf.g.Disable(m)
		case breaker.MetricsOnly:
			gf.g.MetricsOnly(m)
		}
	}
}

// selects reports whether target (as ParseTarget reads it) selects g.
func selects(target string, g *core.Guard) bool {
	switch {
	case target == "all":
		return true
	case strings.HasPrefix(target, "tag:"):
		return g.HasTag(strings.TrimPrefix(target, "tag:"))
	case strings.HasPrefix(target, "name:"):
		return g.Name() == strings.TrimPrefix(target, "name:")
	}
	return g.Name() == target
}

func overrideReason(o Override) string {
	if o.Reason != "" {
		return o.Reason
	}
	return fmt.Sprintf("fleet %s (v%d by %s)", o.Action, o.Version, o.Actor)
}

// applyOverride applies o to this replica's guards as actor.
func (a *Agent) applyOverride(o Override, actor string) {
	sel, err := ParseTarget(o.Target)
	if err != nil {
		return
	}
	m := breaker.Manual{Actor: actor, Reason: overrideReason(o)}
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
