package core

import (
	"reflect"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// This file reconfigures live guards when Registry.Apply makes a new
// document live. A reload is planned for every guard first (everything
// that can fail is built and checked), then committed (nothing fails), so
// that a document is applied to every guard or to none.
//
// What a guard keeps across a reload:
//
//   - its breaker, always (the same object, reconfigured in place by
//     breaker.Reconfigure): its state, timers, probes in flight and
//     cumulative counters; its window's contents when the window keeps its
//     shape;
//   - its bulkhead, when the new policy has one too: the limits change in
//     place (bulkhead.Reconfigure), slots held stay counted;
//   - its rate limiter, when the new policy has one with the same
//     algorithm: the limit changes in place (SetLimit), what was spent
//     stays spent;
//   - its retrier (and retry budget), when the retry section is unchanged.
//
// Everything else (adding or removing a bulkhead or a rate limit, retry,
// timeouts, fallbacks, tags, critical) is swapped atomically as one parts
// value. A call holds the parts that admitted it until it reports, so it
// gives its bulkhead slot back to the bulkhead it took it from.

// reloadPlan is one guard's reload, built by planReload and made live by
// commit.
type reloadPlan struct {
	g       *Guard
	old, pt *parts
	// What changes in place, when its flag is set: the breaker's
	// configuration and mode, the reused bulkhead's limits, the reused rate
	// limiter's limit.
	br, bh, rl bool
	brCfg      breaker.Config
	oldMode    breaker.State
	newMode    breaker.State
	bhCfg      bulkhead.Config
	rlCfg      ratelimit.Config
}

// planReload plans giving g the resolved policy p. It returns nil when g
// runs p already: the guard is left untouched.
func (g *Guard) planReload(p Policy, fallbacks map[string]fallback.Func) (*reloadPlan, error) {
	old := g.cur.Load()
	if samePolicyValue(&old.policy, &p) {
		return nil, nil
	}
	pl := &reloadPlan{g: g, old: old}
	if !sameValue(old.policy.Breaker, p.Breaker) {
		cfg, err := g.breakerConfig(p)
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			return nil, &PolicyError{Policy: p.Name, Err: err}
		}
		pl.br, pl.brCfg = true, cfg
		if pl.oldMode, err = old.policy.Breaker.mode(); err != nil {
			return nil, &PolicyError{Policy: old.policy.Name, Err: err}
		}
		if pl.newMode, err = p.Breaker.mode(); err != nil {
			return nil, &PolicyError{Policy: p.Name, Err: err}
		}
	}
	pt, err := g.buildParts(p, old, fallbacks)
	if err != nil {
		return nil, err
	}
	pt.formerFull, pt.formerLimited = old.formerFull, old.formerLimited
	pt.formerMach = old.formerMach
	if old.bh != nil && pt.bh == old.bh && !sameValue(old.policy.Bulkhead, p.Bulkhead) {
		pl.bh, pl.bhCfg = true, p.Bulkhead.BulkheadConfig()
	}
	if old.rl != nil && pt.rl == old.rl && !sameValue(old.policy.RateLimit, p.RateLimit) {
		pl.rl = true
		pl.rlCfg, _ = p.RateLimit.RateLimitConfig() // checked by buildParts
	}
	pl.pt = pt
	return pl, nil
}

// commit makes the plan live. It cannot fail: every configuration was
// checked by planReload.
func (pl *reloadPlan) commit() {
	g, old, pt := pl.g, pl.old, pl.pt
	if pl.br {
		_ = g.br.Reconfigure(pl.brCfg)
		if pl.newMode != pl.oldMode {
			switch {
			case pl.newMode.Manual():
				g.setMode(pt.policy.Name, pl.newMode)
			case g.br.State() == pl.oldMode:
				// The policy set the manual state, and no longer does.
				g.br.Release(breaker.Manual{Actor: "policy", Reason: "policy " + quote(pt.policy.Name) + " sets mode auto"})
			}
		}
	}
	if pl.bh {
		_ = pt.bh.Reconfigure(pl.bhCfg)
	}
	if pt.adapt != nil && pt.bh == old.bh {
		// A kept bulkhead runs at the adaptive limit, not the policy's
		// starting one.
		_ = pt.bh.SetLimit(pt.adapt.lim.Limit())
	}
	if pl.rl {
		_ = pt.rl.SetLimit(pl.rlCfg)
	}
	// Rejections counted by a bulkhead or rate limiter that goes away stay
	// in the guard's counters.
	if old.bh != nil && pt.bh != old.bh {
		s := old.bh.Snapshot()
		pt.formerFull += s.Rejected + s.TimedOut
	}
	if old.rl != nil && pt.rl != old.rl {
		pt.formerLimited += old.rl.Snapshot().Rejected
	}
	if old.mach != nil && pt.mach != old.mach {
		pt.formerMach.add(old.mach.m.Status())
	}
	g.cur.Store(pt)
	pl.machineReloaded() // custom states: machine.go
}

// sameValue reports whether two policy sections are equal, nil and empty
// lists alike.
func sameValue[T any](a, b *T) bool {
	return equalValues(reflect.ValueOf(a), reflect.ValueOf(b))
}

// samePolicyValue reports whether two resolved policies are equal, nil and
// empty lists alike.
func samePolicyValue(a, b *Policy) bool {
	return equalValues(reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem())
}

// equalValues compares two values of a policy type field by field, as
// their JSON encodings would compare: a nil list equals an empty one.
func equalValues(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValues(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !equalValues(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalValues(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return a.Uint() == b.Uint()
	case reflect.Float32, reflect.Float64:
		return a.Float() == b.Float()
	case reflect.Bool:
		return a.Bool() == b.Bool()
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
