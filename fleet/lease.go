package fleet

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// One probe per fleet: a half-open guard probes only on the replica that
// holds the guard's lease (KindLease, created if absent with a TTL of the
// probe timeout and a margin). The holder settles the lease with the
// probe's outcome; the others follow it: a failed probe opens them again
// for as long as the holder, a successful one closes them. A lease that
// expires without an outcome (its holder died) is taken by the next
// replica that tries, with jitter.

// leaseTTL is how long a running lease lives without a refresh.
func (a *Agent) leaseTTL(gf *guardFleet) time.Duration {
	return gf.g.Breaker().Config().ProbeTimeout + 2*a.cfg.timeout + a.cfg.heartbeat
}

// retryEvery is how often a half-open replica that does not hold the
// lease looks at it again (jittered).
func (a *Agent) retryEvery(gf *guardFleet) time.Duration {
	return min(a.cfg.heartbeat, max(gf.g.Breaker().Config().ProbeTimeout/2, a.cfg.timeout))
}

// tryLease tries to take the lease of a half-open guard.
func (a *Agent) tryLease(ctx context.Context, gf *guardFleet) {
	b := gf.g.Breaker()
	if b.State() != breaker.HalfOpen || gf.held.Load() {
		return
	}
	if adopt, _, _ := gf.g.Policy().Fleet.Rule(); adopt == core.FleetAdoptLocal {
		return
	}
	if operatorHeld(b.Snapshot()) {
		return
	}
	if a.vetoed(gf) { // veto.go: no probe, so no lease; look again later
		gf.nextTry = time.Now().Add(jitter(a.retryEvery(gf)))
		return
	}
	l := Lease{Guard: gf.name, Holder: a.self.ID, Token: randomToken(8), Outcome: ProbeRunning}
	raw, err := encode(KindLease, l)
	if err != nil {
		return
	}
	ttl := a.leaseTTL(gf)
	var created bool
	var cur Entry
	if err := a.call(ctx, func(c context.Context) error {
		var err error
		created, cur, err = a.store.Create(c, KindLease, gf.name, raw, ttl)
		return err
	}); err != nil {
		// The gate admits while the store is down; look again later.
		gf.nextTry = time.Now().Add(jitter(a.retryEvery(gf)))
		return
	}
	if !created {
		lv, ok := a.decodeLease(cur)
		if ok && !(lv.Holder == a.self.ID && lv.Outcome == ProbeRunning) {
			a.applyLease(ctx, lv)
			if b.State() == breaker.HalfOpen {
				gf.nextTry = time.Now().Add(jitter(a.retryEvery(gf)))
			}
			return
		}
		// A value no replica can read (or a running lease of this
		// replica's former self) would block the fleet's probing until it
		// expires: replace it.
		if a.call(ctx, func(c context.Context) error {
			var err error
			created, err = a.store.CompareAndPut(c, KindLease, gf.name, cur.Value, raw, ttl)
			return err
		}) != nil || !created {
			gf.nextTry = time.Now().Add(jitter(a.retryEvery(gf)))
			return
		}
	}
	gf.lease, gf.leaseAt = raw, time.Now()
	gf.held.Store(true)
	gf.nextTry = time.Now().Add(ttl / 2) // refresh while no outcome
	a.mu.Lock()
	a.leases[gf.name] = leaseView{Lease: l, raw: raw}
	a.mu.Unlock()
	if b.State() != breaker.HalfOpen { // it moved on while we took the lease
		gf.held.Store(false)
		a.settleAs(ctx, gf, b.State())
	}
}

// settleAs settles a held lease by the state the guard left half-open for.
func (a *Agent) settleAs(ctx context.Context, gf *guardFleet, s breaker.State) {
	switch s {
	case breaker.Open:
		a.settle(ctx, gf, ProbeFailed)
	case breaker.Closed:
		a.settle(ctx, gf, ProbeSucceeded)
	default:
		a.settle(ctx, gf, "")
	}
}

// settle records the outcome of this replica's probe in its lease (or
// deletes the lease, for an empty outcome).
func (a *Agent) settle(ctx context.Context, gf *guardFleet, outcome ProbeOutcome) {
	gf.held.Store(false)
	raw := gf.lease
	if raw == nil {
		return
	}
	gf.lease, gf.nextTry = nil, time.Time{}
	if outcome == "" {
		if a.call(ctx, func(c context.Context) error {
			_, err := a.store.CompareAndDelete(c, KindLease, gf.name, raw)
			return err
		}) == nil {
			a.mu.Lock()
			delete(a.leases, gf.name)
			a.mu.Unlock()
		}
		return
	}
	var l Lease
	if decode(KindLease, raw, &l) != nil {
		return
	}
	l.Outcome = outcome
	ttl := 3 * a.cfg.heartbeat
	if outcome == ProbeFailed {
		b := gf.g.Breaker()
		ttl = b.RetryAfter()
		if ttl <= 0 {
			ttl = b.Config().OpenDuration
		}
		l.OpenForMS = max(ttl.Milliseconds(), 1)
	}
	nraw, err := encode(KindLease, l)
	if err != nil {
		return
	}
	var ok bool
	if a.call(ctx, func(c context.Context) error {
		var err error
		ok, err = a.store.CompareAndPut(c, KindLease, gf.name, raw, nraw, ttl)
		return err
	}) == nil && ok {
		a.mu.Lock()
		a.leases[gf.name] = leaseView{Lease: l, raw: nraw}
		a.mu.Unlock()
	}
}

// applyLease follows a lease another replica holds.
func (a *Agent) applyLease(ctx context.Context, lv leaseView) {
	a.mu.Lock()
	a.leases[lv.Guard] = lv
	a.mu.Unlock()
	gf := a.fleetOf(lv.Guard)
	if gf == nil {
		return
	}
	if lv.Holder == a.self.ID {
		if gf.lease != nil && !bytes.Equal(gf.lease, lv.raw) && lv.Outcome == ProbeRunning {
			gf.held.Store(false) // not our lease any more
			gf.lease = nil
		}
		return
	}
	if gf.lease != nil { // ours was replaced: someone else holds it now
		gf.held.Store(false)
		gf.lease = nil
	}
	if lv.rev != 0 && lv.rev == gf.appliedRev {
		return
	}
	b := gf.g.Breaker()
	s := b.Snapshot()
	if operatorHeld(s) {
		return
	}
	if a.vetoed(gf) { // veto.go: held by the veto's owner, not by the fleet's probes
		return
	}
	if adopt, _, _ := gf.g.Policy().Fleet.Rule(); adopt == core.FleetAdoptLocal {
		return
	}
	switch lv.Outcome {
	case ProbeFailed:
		if s.State == breaker.HalfOpen {
			d := time.Duration(lv.OpenForMS) * time.Millisecond
			if d <= 0 {
				d = b.Config().OpenDuration
			}
			gf.appliedRev = lv.rev
			b.OpenFor(d, breaker.Manual{Actor: ActorFleet, Reason: fmt.Sprintf("fleet: probe by %s failed", lv.Holder)})
			a.setAdopted(gf, true)
		}
	case ProbeSucceeded:
		if s.State == breaker.Open || s.State == breaker.HalfOpen {
			gf.appliedRev = lv.rev
			b.Reset(breaker.Manual{Actor: ActorFleet, Reason: fmt.Sprintf("fleet: probe by %s succeeded", lv.Holder)})
		}
	case ProbeRunning:
		if s.State == breaker.HalfOpen && gf.nextTry.IsZero() {
			gf.nextTry = time.Now().Add(jitter(a.retryEvery(gf)))
		}
	}
}

// leaseGone handles a guard's lease disappearing (deleted or expired).
func (a *Agent) leaseGone(ctx context.Context, guard string) {
	a.mu.Lock()
	delete(a.leases, guard)
	a.mu.Unlock()
	gf := a.fleetOf(guard)
	if gf == nil {
		return
	}
	if gf.lease != nil {
		gf.held.Store(false)
		gf.lease = nil
	}
	if gf.g.Breaker().State() == breaker.HalfOpen {
		// Try soon, spread so that the fleet does not race as one.
		gf.nextTry = time.Now().Add(time.Duration(rand.Int64N(int64(max(a.cfg.timeout, time.Millisecond)))))
	}
}

// leaseDue tries or refreshes the leases whose time has come.
func (a *Agent) leaseDue(ctx context.Context) {
	now := time.Now()
	a.gates.Range(func(_, v any) bool {
		gf := v.(*guardFleet)
		if gf.nextTry.IsZero() || now.Before(gf.nextTry) {
			return true
		}
		gf.nextTry = time.Time{}
		if gf.g.Breaker().State() != breaker.HalfOpen {
			if gf.lease != nil {
				a.settleAs(ctx, gf, gf.g.Breaker().State())
			}
			return true
		}
		if gf.lease != nil {
			a.refreshLease(ctx, gf)
			return true
		}
		a.tryLease(ctx, gf)
		return true
	})
}

// refreshLease extends the lease this replica holds while its probe has
// not reported.
func (a *Agent) refreshLease(ctx context.Context, gf *guardFleet) {
	raw := gf.lease
	ttl := a.leaseTTL(gf)
	var ok bool
	err := a.call(ctx, func(c context.Context) error {
		var err error
		ok, err = a.store.CompareAndPut(c, KindLease, gf.name, raw, raw, ttl)
		return err
	})
	switch {
	case err != nil:
		gf.nextTry = time.Now().Add(jitter(a.retryEvery(gf)))
	case ok:
		gf.nextTry = time.Now().Add(ttl / 2)
	default: // lost: expired and taken, or deleted
		gf.held.Store(false)
		gf.lease = nil
		a.tryLease(ctx, gf)
	}
}

// nextLeaseWake returns how long until the next lease is due.
func (a *Agent) nextLeaseWake() time.Duration {
	next := time.Hour
	now := time.Now()
	a.gates.Range(func(_, v any) bool {
		gf := v.(*guardFleet)
		if !gf.nextTry.IsZero() {
			next = min(next, max(gf.nextTry.Sub(now), 0))
		}
		return true
	})
	return next
}
