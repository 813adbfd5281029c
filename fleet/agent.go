package fleet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// ActorFleet is the actor of the state changes the agent makes on its own
// (an adopted open, a close after the fleet's probe succeeded). Operator
// actions applied from the store carry "fleet:" and the operator's actor.
const ActorFleet = "fleet"

// errStoreOpen is what a store call returns while the store's breaker
// rejects calls.
var errStoreOpen = errors.New("fleet: store breaker open")

// Agent is a registry's membership in a fleet, made by Join. It heartbeats,
// publishes the verdicts of the registry's guards, adopts the fleet's
// verdicts by each guard's rule, coordinates half-open probes with a lease,
// applies fleet-wide operator actions and serves global rate limits. Every
// store call runs in the agent's own goroutines (Act excepted), behind a
// timeout and a breaker of its own: no call of a guard ever waits for the
// store, and while the store is down the guards behave as if the registry
// had never joined.
//
// An Agent is safe for concurrent use. Close detaches it.
type Agent struct {
	// Set by Join, read-only afterwards.
	reg   *core.Registry
	store Store
	rates RateStore // nil when store is not a RateStore
	cfg   config
	self  Member
	log   *slog.Logger
	epoch time.Time
	sb    *breaker.Breaker // the store's own breaker

	// Atomic.
	up          atomic.Bool
	closed      atomic.Bool
	dropped     atomic.Uint64
	malformed   atomic.Uint64
	failureMode atomic.Uint64
	storeErrs   atomic.Uint64
	timeouts    atomic.Uint64
	skipped     atomic.Uint64

	fresh  atomic.Bool   // some guard's fresh flag is set
	queue  chan event    // state changes from the hook, bounded
	wake   chan struct{} // hints arrived (capacity 1)
	cancel context.CancelFunc
	wg     sync.WaitGroup
	unhook func()
	gates  sync.Map // guard name -> *guardFleet
	vetoes vetoes   // probe vetoes (veto.go)

	// Guarded by omu: overrides are applied one at a time, the newest
	// version of each target last.
	omu  sync.Mutex
	done map[string]uint64 // target -> version last applied here

	// Guarded by hmu: the store's health.
	hmu     sync.Mutex
	lastErr string
	since   time.Time

	// Guarded by mu: the agent's view of the fleet.
	mu        sync.Mutex
	members   map[string]Member
	verdicts  map[string]map[string]Verdict // guard -> replica -> verdict
	leases    map[string]leaseView          // guard -> lease
	overrides map[string]Override           // target -> latest action
	applied   map[string]uint64             // target -> version applied
	dirtyAll  bool
	dirty     map[Kind]map[string]bool
	logged    map[string]uint64 // kind/key -> revision of a bad value logged
	limiters  map[string]*GlobalLimiter
	policyV   uint64 // the registry's policy version at the last heartbeat
	closeOnce sync.Once
}

// leaseView is a lease as read from the store.
type leaseView struct {
	Lease
	raw []byte
	rev uint64
}

// guardFleet is the agent's state for one guard.
type guardFleet struct {
	name string
	g    *core.Guard

	// held is read by the probe gate: this replica holds the guard's lease.
	held atomic.Bool
	// fresh is set when the agent first sees the guard, until the loop
	// has applied the overrides in force to it.
	fresh atomic.Bool

	// Owned by the loop goroutine (read by Snapshot under Agent.mu).
	voting     bool   // this replica's open vote is published
	adopted    bool   // opened by the agent on the fleet's verdict
	lease      []byte // the lease value this replica holds
	leaseAt    time.Time
	nextTry    time.Time // when to try the lease again (half-open, not holder)
	appliedRev uint64    // lease revision whose outcome was applied
	published  int       // window calls last published (shared window)
	voteAt     time.Time // when the open vote was last written
}

// event is a state change of a guard, as the hook queued it.
type event struct {
	guard string
	t     breaker.Transition
}

// Join attaches reg to the fleet that shares store and returns its agent.
// It installs hooks on reg (through AddHooks) and a probe gate on each of
// its guards, starts the agent's goroutines and returns at once: the first
// heartbeat and reconcile happen in the background, so Join never waits for
// the store. It fails only on bad arguments (a nil registry or store, a
// period above MaxPeriod).
//
// The agent never closes store; close it after Agent.Close.
func Join(reg *core.Registry, store Store, opts ...Option) (*Agent, error) {
	if reg == nil {
		return nil, errors.New("fleet: Join: nil registry")
	}
	if store == nil {
		return nil, errors.New("fleet: Join: nil store")
	}
	cfg := newConfig(opts)
	if err := cfg.check(); err != nil {
		return nil, err
	}
	sb, err := breaker.New(breaker.Config{
		ConsecutiveFailures: 3,
		DisableFailureRate:  true,
		OpenDuration:        max(10*cfg.timeout, time.Second),
		OpenBackoff:         1,
		ProbeTimeout:        2 * cfg.timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("fleet: Join: store breaker: %w", err)
	}
	a := &Agent{
		reg: reg, store: store, cfg: cfg, log: cfg.logger, epoch: time.Now(), sb: sb,
		self:      Member{ID: cfg.replica, Region: cfg.region, Version: cfg.version},
		queue:     make(chan event, cfg.queue),
		wake:      make(chan struct{}, 1),
		members:   map[string]Member{},
		verdicts:  map[string]map[string]Verdict{},
		leases:    map[string]leaseView{},
		overrides: map[string]Override{},
		applied:   map[string]uint64{},
		done:      map[string]uint64{},
		dirty:     map[Kind]map[string]bool{},
		logged:    map[string]uint64{},
		limiters:  map[string]*GlobalLimiter{},
		dirtyAll:  true,
	}
	a.rates, _ = store.(RateStore)
	a.up.Store(true)
	a.since = a.epoch
	if gs, err := reg.Guards(core.All()); err == nil {
		for _, g := range gs {
			a.gate(g)
		}
	}
	a.unhook = reg.AddHooks(core.Hooks{OnStateChange: a.onStateChange})
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.wg.Add(2)
	go a.loop(ctx)
	go a.watch(ctx)
	return a, nil
}

// ---- the hook and the probe gate (call path: never blocks) ----

// onStateChange queues the change for the loop, or drops and counts it
// when the queue is full (the next heartbeat repairs what it would have
// done). It installs the probe gate of a guard it has not seen.
func (a *Agent) onStateChange(_ context.Context, e core.StateChange) {
	if a.closed.Load() {
		return
	}
	if e.From == breaker.HalfOpen {
		// The probe period is over: this replica's lease, if it held one,
		// admits no more probes (the loop settles it).
		if v, ok := a.gates.Load(e.Guard); ok {
			v.(*guardFleet).held.Store(false)
		}
	}
	if _, ok := a.gates.Load(e.Guard); !ok {
		if g, ok := a.reg.Lookup(e.Guard); ok {
			a.gate(g) // first sight: the loop applies the overrides in force
		}
	}
	select {
	case a.queue <- event{guard: e.Guard, t: e.Transition}:
	default:
		a.dropped.Add(1)
	}
}

// gate returns the agent's state of g, installing its probe gate on first
// sight.
func (a *Agent) gate(g *core.Guard) *guardFleet {
	if v, ok := a.gates.Load(g.Name()); ok {
		gf := v.(*guardFleet)
		if gf.g == g {
			return gf
		}
	}
	// The hook and the loop may meet a new guard at once: one state wins,
	// and only the winner's gate is installed.
	gf := &guardFleet{name: g.Name(), g: g}
	for {
		v, loaded := a.gates.LoadOrStore(g.Name(), gf)
		if !loaded {
			break
		}
		old := v.(*guardFleet)
		if old.g == g {
			return old
		}
		if a.gates.CompareAndSwap(g.Name(), old, gf) { // the name's guard was replaced
			break
		}
	}
	g.Breaker().SetProbeGate(func() bool { return a.admitProbe(gf) })
	// The overrides in force apply to a guard the agent sees for the
	// first time (the loop applies them).
	gf.fresh.Store(true)
	a.fresh.Store(true)
	return gf
}

// admitProbe is the probe gate: a half-open guard probes when no probe
// veto refuses it (veto.go) and this replica holds the fleet's lease, or
// its rule is local, or the store cannot be reached (losing the store
// changes nothing locally).
func (a *Agent) admitProbe(gf *guardFleet) bool {
	if a.vetoed(gf) {
		return false
	}
	if gf.held.Load() || !a.up.Load() || a.closed.Load() {
		return true
	}
	adopt, _, _ := gf.g.Policy().Fleet.Rule()
	return adopt == core.FleetAdoptLocal
}

// ---- store calls ----

// call runs fn against the store with the configured timeout, behind the
// store's breaker, and records the store's health.
func (a *Agent) call(ctx context.Context, fn func(context.Context) error) error {
	p, err := a.sb.Allow(ctx)
	if err != nil {
		a.skipped.Add(1)
		a.health(errStoreOpen)
		return errStoreOpen
	}
	cctx, cancel := context.WithTimeout(ctx, a.cfg.timeout)
	err = fn(cctx)
	cancel()
	if err != nil && ctx.Err() != nil {
		p.Done(context.Canceled) // the agent is closing: not the store's fault
		return err
	}
	p.Done(err)
	if err != nil {
		a.storeErrs.Add(1)
		if errors.Is(err, context.DeadlineExceeded) {
			a.timeouts.Add(1)
		}
	}
	a.health(err)
	return err
}

// health records the outcome of a store call.
func (a *Agent) health(err error) {
	ok := err == nil
	if a.up.Load() == ok && ok {
		return
	}
	a.hmu.Lock()
	defer a.hmu.Unlock()
	if ok != a.up.Load() {
		a.since = time.Now()
		a.up.Store(ok)
		if ok {
			a.log.Info("fleet: store reachable again", "replica", a.self.ID)
		} else {
			a.log.Warn("fleet: store unreachable; guards decide alone", "replica", a.self.ID, "err", err)
		}
	}
	if err != nil {
		a.lastErr = err.Error()
	}
}

// Health returns the store's health as this replica sees it, with the
// agent's counters.
func (a *Agent) Health() StoreHealth {
	a.hmu.Lock()
	h := StoreHealth{Up: a.up.Load(), LastError: a.lastErr, Since: a.since}
	a.hmu.Unlock()
	if h.Up && a.sb.State() != breaker.Closed {
		h.Up = false
	}
	h.Dropped, h.Malformed, h.AllowedByFailureMode = a.dropped.Load(), a.malformed.Load(), a.failureMode.Load()
	h.Errors, h.Timeouts, h.Skipped = a.storeErrs.Load(), a.timeouts.Load(), a.skipped.Load()
	return h
}

// bad counts a value that could not be read, and logs it once per key
// and revision.
func (a *Agent) bad(kind Kind, e Entry, err error) {
	a.malformed.Add(1)
	id := string(kind) + "/" + e.Key
	a.mu.Lock()
	seen := a.logged[id] == e.Revision && e.Revision != 0
	a.logged[id] = e.Revision
	a.mu.Unlock()
	if !seen {
		a.log.Warn("fleet: skipped a value", "kind", kind, "key", e.Key, "revision", e.Revision, "err", err)
	}
}

// ---- the loop ----

// watch runs Store.Watch, again after each loss, with backoff.
func (a *Agent) watch(ctx context.Context) {
	defer a.wg.Done()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := a.store.Watch(ctx, a.hint)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		a.log.Debug("fleet: watch lost", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter(backoff)):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// hint marks what a hint names for the loop to re-read.
func (a *Agent) hint(h Hint) {
	a.mu.Lock()
	if h.Resync {
		a.dirtyAll = true
	} else {
		if a.dirty[h.Kind] == nil {
			a.dirty[h.Kind] = map[string]bool{}
		}
		a.dirty[h.Kind][h.Key] = true
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// jitter returns d spread by up to a fifth either way.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

func (a *Agent) loop(ctx context.Context) {
	defer a.wg.Done()
	heartbeat := time.NewTicker(a.cfg.heartbeat)
	defer heartbeat.Stop()
	reconcile := time.NewTimer(jitter(a.cfg.reconcile))
	defer reconcile.Stop()
	lease := time.NewTimer(time.Hour)
	defer lease.Stop()
	a.beat(ctx)
	select { // the first reconcile (dirtyAll is set)
	case a.wake <- struct{}{}:
	default:
	}
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-a.queue:
			a.handle(ctx, e)
		case <-a.wake:
			a.reconcileDirty(ctx)
		case <-heartbeat.C:
			a.beat(ctx)
		case <-reconcile.C:
			a.reconcileAll(ctx)
			reconcile.Reset(jitter(a.cfg.reconcile))
		case <-lease.C:
		}
		if a.fresh.Swap(false) {
			a.applyToFresh()
		}
		a.leaseDue(ctx)
		lease.Reset(a.nextLeaseWake())
	}
}

// guards returns the agent's state of every guard of the registry.
func (a *Agent) guards() []*guardFleet {
	gs, _ := a.reg.Guards(core.All())
	out := make([]*guardFleet, 0, len(gs))
	for _, g := range gs {
		out = append(out, a.gate(g))
	}
	return out
}

// fleetOf returns the state of the guard called name, if it exists.
func (a *Agent) fleetOf(name string) *guardFleet {
	g, ok := a.reg.Lookup(name)
	if !ok {
		return nil
	}
	return a.gate(g)
}

// ---- state changes ----

// handle acts on one state change of a local guard.
func (a *Agent) handle(ctx context.Context, e event) {
	gf := a.fleetOf(e.guard)
	if gf == nil {
		return
	}
	t := e.t
	switch {
	case t.To == breaker.Open && t.Actor == "":
		// Opened on its own evidence (a trip, or its own probe failed).
		a.settle(ctx, gf, ProbeFailed)
		a.setAdopted(gf, false)
		a.vote(ctx, gf, t.Reason)
	case t.To == breaker.Open && t.Actor == ActorFleet:
		a.setAdopted(gf, true)
	case t.To == breaker.HalfOpen:
		gf.nextTry = time.Time{}
		a.tryLease(ctx, gf)
	case t.To == breaker.Closed:
		a.settle(ctx, gf, ProbeSucceeded)
		a.setAdopted(gf, false)
		a.withdraw(ctx, gf)
	default:
		// A manual state, or an operator's open: the operator wins; this
		// replica neither votes nor probes for the fleet.
		a.settle(ctx, gf, "")
		a.setAdopted(gf, false)
		a.withdraw(ctx, gf)
	}
}

func (a *Agent) setAdopted(gf *guardFleet, v bool) {
	a.mu.Lock()
	gf.adopted = v
	a.mu.Unlock()
}

// operatorHeld reports whether an operator holds the guard's state: a
// manual state, or an open made by OpenFor by someone other than the
// agent.
func operatorHeld(s breaker.Snapshot) bool {
	if s.State.Manual() {
		return true
	}
	return s.State == breaker.Open && s.Manual && s.LastTransition.Actor != ActorFleet
}

func verdictKey(guard, replica string) string { return guard + "@" + replica }

// voteTTL is how long a vote lives without a refresh.
func (a *Agent) voteTTL(gf *guardFleet) time.Duration {
	return gf.g.Breaker().Config().OpenDuration + 3*a.cfg.heartbeat
}

// vote publishes this replica's open vote on gf.
func (a *Agent) vote(ctx context.Context, gf *guardFleet, reason string) {
	a.mu.Lock()
	gf.voting = true
	a.mu.Unlock()
	a.publish(ctx, gf, true, reason)
}

// publish writes this replica's verdict on gf.
func (a *Agent) publish(ctx context.Context, gf *guardFleet, open bool, reason string) {
	v := Verdict{Guard: gf.name, Replica: a.self.ID, Open: open, Reason: reason}
	if fp := gf.g.Policy().Fleet; fp != nil && fp.SharedWindow {
		s := gf.g.Breaker().Snapshot()
		v.Calls, v.Failures, v.Slow = s.WindowCalls, s.WindowFailures, s.WindowSlow
		gf.published = v.Calls
	}
	raw, err := encode(KindVerdict, v)
	if err != nil {
		return
	}
	if a.call(ctx, func(c context.Context) error {
		return a.store.Put(c, KindVerdict, verdictKey(gf.name, a.self.ID), raw, a.voteTTL(gf))
	}) == nil {
		gf.voteAt = time.Now()
		a.mu.Lock()
		a.setVerdictLocked(v)
		a.mu.Unlock()
	}
}

func (a *Agent) setVerdictLocked(v Verdict) {
	if a.verdicts[v.Guard] == nil {
		a.verdicts[v.Guard] = map[string]Verdict{}
	}
	a.verdicts[v.Guard][v.Replica] = v
}

// withdraw deletes this replica's vote on gf, if it published one.
func (a *Agent) withdraw(ctx context.Context, gf *guardFleet) {
	a.mu.Lock()
	voting := gf.voting
	gf.voting = false
	a.mu.Unlock()
	if !voting && gf.published == 0 {
		return
	}
	gf.published = 0
	if a.call(ctx, func(c context.Context) error {
		return a.store.Delete(c, KindVerdict, verdictKey(gf.name, a.self.ID))
	}) == nil {
		a.mu.Lock()
		delete(a.verdicts[gf.name], a.self.ID)
		a.mu.Unlock()
	}
}

// ---- the heartbeat ----

// beat refreshes this replica's member record and votes, publishes
// shared-window counts, and repairs what dropped events left undone.
func (a *Agent) beat(ctx context.Context) {
	me := a.self
	me.Policy, _ = a.reg.PolicyVersion()
	a.mu.Lock()
	a.policyV = me.Policy
	a.mu.Unlock()
	raw, err := encode(KindMember, me)
	if err == nil {
		_ = a.call(ctx, func(c context.Context) error {
			return a.store.Put(c, KindMember, a.self.ID, raw, 3*a.cfg.heartbeat)
		})
	}
	for _, gf := range a.guards() {
		s := gf.g.Breaker().Snapshot()
		a.mu.Lock()
		voting := gf.voting
		a.mu.Unlock()
		live := (s.State == breaker.Open || s.State == breaker.HalfOpen) && !operatorHeld(s)
		switch {
		case voting && live:
			// Refresh a third of the TTL ahead (every heartbeat with a
			// shared window, whose counts change).
			if fp := gf.g.Policy().Fleet; fp != nil && fp.SharedWindow || time.Since(gf.voteAt) >= a.voteTTL(gf)/3 {
				a.publish(ctx, gf, true, s.LastTransition.Reason)
			}
		case voting:
			a.withdraw(ctx, gf)
		case s.State == breaker.Open && s.LastTransition.Actor == "":
			a.vote(ctx, gf, s.LastTransition.Reason) // its event was dropped
		default:
			if fp := gf.g.Policy().Fleet; fp != nil && fp.SharedWindow && (s.WindowCalls > 0 || gf.published > 0) {
				a.publish(ctx, gf, false, "")
			}
		}
		switch {
		case s.State == breaker.Closed:
			a.evaluate(gf)
		case s.State == breaker.HalfOpen && gf.lease == nil && gf.nextTry.IsZero():
			a.tryLease(ctx, gf) // its half-open event was dropped
		}
	}
}

// ---- adoption ----

// evaluate opens a closed guard when the fleet's verdicts meet its rule.
func (a *Agent) evaluate(gf *guardFleet) {
	pol := gf.g.Policy().Fleet
	adopt, minVotes, fraction := pol.Rule()
	shared := pol != nil && pol.SharedWindow
	if adopt == core.FleetAdoptLocal && !shared {
		return
	}
	b := gf.g.Breaker()
	if b.State() != breaker.Closed {
		return
	}
	a.mu.Lock()
	if lv, ok := a.leases[gf.name]; ok && lv.Outcome == ProbeSucceeded {
		a.mu.Unlock()
		return // the fleet just closed: the votes are being withdrawn
	}
	live := max(len(a.members), 1)
	if _, ok := a.members[a.self.ID]; !ok {
		live++
	}
	votes := 0
	var calls, fails, slows, counted int
	for id, v := range a.verdicts[gf.name] {
		if v.Open && id != a.self.ID {
			votes++
		}
		if shared && id != a.self.ID {
			calls, fails, slows, counted = calls+v.Calls, fails+v.Failures, slows+v.Slow, counted+1
		}
	}
	a.mu.Unlock()
	live = max(live, votes)
	var reason string
	switch {
	case adopt == core.FleetAdoptAny && votes >= 1,
		adopt == core.FleetAdoptQuorum && votes >= minVotes && (fraction <= 0 || float64(votes) >= fraction*float64(live)):
		reason = fmt.Sprintf("fleet: %d of %d replicas open", votes, live)
	case shared && counted > 0:
		s := b.Snapshot()
		calls, fails, slows = calls+s.WindowCalls, fails+s.WindowFailures, slows+s.WindowSlow
		cfg := b.Config()
		if calls < cfg.MinCalls || calls == 0 {
			return
		}
		switch {
		case cfg.FailureRate > 0 && fails > 0 && float64(fails)*100 >= cfg.FailureRate*float64(calls):
			reason = fmt.Sprintf("fleet: shared window: failure rate %.4g%% >= %g%% over %d calls of %d replicas", float64(fails)*100/float64(calls), cfg.FailureRate, calls, counted+1)
		case cfg.SlowCallRate > 0 && slows > 0 && float64(slows)*100 >= cfg.SlowCallRate*float64(calls):
			reason = fmt.Sprintf("fleet: shared window: slow-call rate %.4g%% >= %g%% over %d calls of %d replicas", float64(slows)*100/float64(calls), cfg.SlowCallRate, calls, counted+1)
		default:
			return
		}
	default:
		return
	}
	a.adoptOpen(gf, b.Config().OpenDuration, reason)
}

// adoptOpen opens gf for d on the fleet's verdict, unless an operator
// holds it or it is no longer closed.
func (a *Agent) adoptOpen(gf *guardFleet, d time.Duration, reason string) {
	b := gf.g.Breaker()
	if s := b.Snapshot(); operatorHeld(s) {
		return
	}
	b.OpenFor(d, breaker.Manual{Actor: ActorFleet, Reason: reason})
	a.setAdopted(gf, true)
}

// ---- reconcile ----

// reconcileDirty re-reads what hints named (everything after a Resync).
func (a *Agent) reconcileDirty(ctx context.Context) {
	a.mu.Lock()
	all, dirty := a.dirtyAll, a.dirty
	a.dirtyAll, a.dirty = false, map[Kind]map[string]bool{}
	a.mu.Unlock()
	if all {
		a.reconcileAll(ctx)
		return
	}
	// A member hint is mostly a heartbeat: only a replica not seen yet is
	// read (departures are seen at the next reconcile, as expiry sends no
	// hint anyway).
	a.mu.Lock()
	var newMembers []string
	for key := range dirty[KindMember] {
		if _, ok := a.members[key]; !ok {
			newMembers = append(newMembers, key)
		}
	}
	a.mu.Unlock()
	if len(newMembers) > 8 {
		a.readMembers(ctx)
	} else {
		for _, key := range newMembers {
			a.readMember(ctx, key)
		}
	}
	if n := len(dirty[KindVerdict]); n > 16 {
		a.readVerdicts(ctx)
	} else if n > 0 {
		for key := range dirty[KindVerdict] {
			a.readVerdict(ctx, key)
		}
	}
	for key := range dirty[KindLease] {
		a.readLease(ctx, key)
	}
	for key := range dirty[KindOverride] {
		a.readOverride(ctx, key)
	}
}

// reconcileAll re-reads everything and re-derives every guard's state.
func (a *Agent) reconcileAll(ctx context.Context) {
	a.readMembers(ctx)
	a.readVerdicts(ctx)
	a.readLeases(ctx)
	a.readOverrides(ctx)
}

func (a *Agent) list(ctx context.Context, kind Kind) ([]Entry, bool) {
	var es []Entry
	err := a.call(ctx, func(c context.Context) error {
		var err error
		es, err = a.store.List(c, kind)
		return err
	})
	return es, err == nil
}

func (a *Agent) readMembers(ctx context.Context) {
	es, ok := a.list(ctx, KindMember)
	if !ok {
		return
	}
	ms := make(map[string]Member, len(es))
	for _, e := range es {
		var m Member
		if err := decode(KindMember, e.Value, &m); err != nil || m.ID == "" || m.ID != e.Key {
			a.bad(KindMember, e, errOr(err, "member record does not match its key"))
			continue
		}
		ms[m.ID] = m
	}
	a.mu.Lock()
	a.members = ms
	a.mu.Unlock()
}

// get reads one key; found is false when it is absent, ok false when the
// store could not be read.
func (a *Agent) get(ctx context.Context, kind Kind, key string) (e Entry, found, ok bool) {
	err := a.call(ctx, func(c context.Context) error {
		var err error
		e, found, err = a.store.Get(c, kind, key)
		return err
	})
	return e, found, err == nil
}

func (a *Agent) readMember(ctx context.Context, key string) {
	e, found, ok := a.get(ctx, KindMember, key)
	if !ok || !found {
		return
	}
	var m Member
	if err := decode(KindMember, e.Value, &m); err != nil || m.ID != e.Key {
		a.bad(KindMember, e, errOr(err, "member record does not match its key"))
		return
	}
	a.mu.Lock()
	a.members[m.ID] = m
	a.mu.Unlock()
}

// readVerdict reads the verdict under key and re-evaluates its guard.
func (a *Agent) readVerdict(ctx context.Context, key string) {
	e, found, ok := a.get(ctx, KindVerdict, key)
	if !ok {
		return
	}
	guard := ""
	if found {
		var v Verdict
		if err := decode(KindVerdict, e.Value, &v); err != nil || v.Guard == "" || v.Replica == "" || e.Key != verdictKey(v.Guard, v.Replica) {
			a.bad(KindVerdict, e, errOr(err, "verdict does not match its key"))
			return
		}
		a.mu.Lock()
		a.setVerdictLocked(v)
		a.mu.Unlock()
		guard = v.Guard
	} else {
		a.mu.Lock()
		for g, vs := range a.verdicts {
			for id := range vs {
				if verdictKey(g, id) == key {
					delete(vs, id)
					guard = g
				}
			}
		}
		a.mu.Unlock()
	}
	if gf := a.fleetOf(guard); guard != "" && gf != nil {
		a.evaluate(gf)
	}
}

func (a *Agent) readVerdicts(ctx context.Context) {
	es, ok := a.list(ctx, KindVerdict)
	if !ok {
		return
	}
	vs := map[string]map[string]Verdict{}
	for _, e := range es {
		var v Verdict
		if err := decode(KindVerdict, e.Value, &v); err != nil || v.Guard == "" || v.Replica == "" || e.Key != verdictKey(v.Guard, v.Replica) {
			a.bad(KindVerdict, e, errOr(err, "verdict does not match its key"))
			continue
		}
		if vs[v.Guard] == nil {
			vs[v.Guard] = map[string]Verdict{}
		}
		vs[v.Guard][v.Replica] = v
	}
	a.mu.Lock()
	a.verdicts = vs
	a.mu.Unlock()
	for _, gf := range a.guards() {
		a.evaluate(gf)
	}
}

func (a *Agent) readLeases(ctx context.Context) {
	es, ok := a.list(ctx, KindLease)
	if !ok {
		return
	}
	seen := map[string]bool{}
	for _, e := range es {
		if lv, ok := a.decodeLease(e); ok {
			seen[lv.Guard] = true
			a.applyLease(ctx, lv)
		}
	}
	a.mu.Lock()
	var gone []string
	for g := range a.leases {
		if !seen[g] {
			gone = append(gone, g)
		}
	}
	a.mu.Unlock()
	for _, g := range gone {
		a.leaseGone(ctx, g)
	}
}

func (a *Agent) readLease(ctx context.Context, guard string) {
	var e Entry
	var found bool
	if a.call(ctx, func(c context.Context) error {
		var err error
		e, found, err = a.store.Get(c, KindLease, guard)
		return err
	}) != nil {
		return
	}
	if !found {
		a.leaseGone(ctx, guard)
		return
	}
	if lv, ok := a.decodeLease(e); ok {
		a.applyLease(ctx, lv)
	}
}

func (a *Agent) decodeLease(e Entry) (leaseView, bool) {
	var l Lease
	if err := decode(KindLease, e.Value, &l); err != nil || l.Guard != e.Key || l.Holder == "" {
		a.bad(KindLease, e, errOr(err, "lease does not match its key"))
		return leaseView{}, false
	}
	switch l.Outcome {
	case ProbeRunning, ProbeFailed, ProbeSucceeded:
	default:
		a.bad(KindLease, e, fmt.Errorf("lease outcome %q unknown", l.Outcome))
		return leaseView{}, false
	}
	return leaseView{Lease: l, raw: e.Value, rev: e.Revision}, true
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New("fleet: " + msg)
}

// ParseTarget reads an override's target: "all" selects every guard,
// "tag:<tag>" the guards carrying the tag, "name:<name>" or a bare name
// the guard of that name.
func ParseTarget(target string) (core.Selector, error) {
	switch {
	case target == "":
		return core.Selector{}, errors.New("fleet: target: must not be empty")
	case target == "all":
		return core.All(), nil
	case strings.HasPrefix(target, "tag:"):
		if t := strings.TrimPrefix(target, "tag:"); t != "" {
			return core.Tag(t), nil
		}
		return core.Selector{}, fmt.Errorf("fleet: target: %q names no tag", target)
	case strings.HasPrefix(target, "name:"):
		if n := strings.TrimPrefix(target, "name:"); n != "" {
			return core.Name(n), nil
		}
		return core.Selector{}, fmt.Errorf("fleet: target: %q names no guard", target)
	}
	return core.Name(target), nil
}

// ---- Snapshot and Close ----

// Snapshot returns what the replica knows of its fleet now: itself, the
// live members, the fleet's view of each guard with votes, a lease or an
// override, the overrides in force and the store's health. It reads only
// the agent's memory, never the store.
func (a *Agent) Snapshot() Snapshot {
	s := Snapshot{Self: a.self, Store: a.Health()}
	a.mu.Lock()
	s.Self.Policy = a.policyV
	for _, m := range a.members {
		s.Members = append(s.Members, m)
	}
	if _, ok := a.members[a.self.ID]; !ok {
		s.Members = append(s.Members, s.Self)
	}
	views := map[string]*GuardView{}
	view := func(g string) *GuardView {
		if v, ok := views[g]; ok {
			return v
		}
		v := &GuardView{Guard: g, OpenVotes: []string{}}
		views[g] = v
		return v
	}
	for g, vs := range a.verdicts {
		for id, v := range vs {
			if v.Open {
				gv := view(g)
				gv.OpenVotes = append(gv.OpenVotes, id)
			}
		}
	}
	for g, lv := range a.leases {
		l := lv.Lease
		view(g).Lease = &l
	}
	for _, o := range a.overrides {
		if o.Action != ActionRelease {
			s.Overrides = append(s.Overrides, o)
		}
	}
	a.mu.Unlock()
	a.gates.Range(func(k, v any) bool {
		gf := v.(*guardFleet)
		a.mu.Lock()
		adopted := gf.adopted
		a.mu.Unlock()
		if adopted && gf.g.Breaker().State() == breaker.Open {
			view(gf.name).Adopted = true
		}
		return true
	})
	for g, v := range views {
		if gd, ok := a.reg.Lookup(g); ok {
			v.Rule, _, _ = gd.Policy().Fleet.Rule()
		}
		slices.Sort(v.OpenVotes)
		s.Guards = append(s.Guards, *v)
	}
	slices.SortFunc(s.Members, func(x, y Member) int { return strings.Compare(x.ID, y.ID) })
	slices.SortFunc(s.Guards, func(x, y GuardView) int { return strings.Compare(x.Guard, y.Guard) })
	slices.SortFunc(s.Overrides, func(x, y Override) int { return cmpUint(x.Version, y.Version) })
	return s
}

func cmpUint(x, y uint64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// Close detaches the agent: it removes its hooks and probe gates, stops
// its goroutines and deletes this replica's member record, votes and
// leases (with the store timeout; what it cannot reach expires on its
// own). The registry's guards keep their states. Close is idempotent and
// always returns nil.
func (a *Agent) Close() error {
	a.closeOnce.Do(func() {
		a.closed.Store(true)
		a.unhook()
		a.cancel()
		a.wg.Wait()
		ctx := context.Background()
		a.gates.Range(func(_, v any) bool {
			gf := v.(*guardFleet)
			gf.g.Breaker().SetProbeGate(nil)
			if gf.voting || gf.published > 0 {
				_ = a.call(ctx, func(c context.Context) error {
					return a.store.Delete(c, KindVerdict, verdictKey(gf.name, a.self.ID))
				})
			}
			if gf.lease != nil {
				raw := gf.lease
				_ = a.call(ctx, func(c context.Context) error {
					_, err := a.store.CompareAndDelete(c, KindLease, gf.name, raw)
					return err
				})
			}
			return true
		})
		_ = a.call(ctx, func(c context.Context) error { return a.store.Delete(c, KindMember, a.self.ID) })
		a.mu.Lock()
		ls := make([]*GlobalLimiter, 0, len(a.limiters))
		for _, l := range a.limiters {
			ls = append(ls, l)
		}
		a.mu.Unlock()
		for _, l := range ls {
			l.stop() // its refill takes a.mu
		}
	})
	return nil
}
