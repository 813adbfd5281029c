package region

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// Agent is one replica's part in a multi-region deployment, made by Join
// next to the replica's fleet.Agent. It competes for its region's summary
// lease and, while it holds it, publishes the region's Summary; it reads
// every region's summary from its own region's store; it answers failover
// questions (RegionState, Regions) from memory; and it opens the guards
// scoped global while enough regions report them open.
//
// Every store call runs in the agent's goroutine with a timeout (default
// 100ms): no call of a guard ever waits for a store, and a store that is
// down only leaves the summaries to expire, which releases global opens.
// An Agent is safe for concurrent use. Close detaches it.
type Agent struct {
	// Set by Join, read-only afterwards.
	fa     *fleet.Agent
	reg    *core.Registry
	store  fleet.Store
	self   fleet.Member
	cfg    config
	log    *slog.Logger
	token  string
	cancel context.CancelFunc
	unveto func() // removes the probe veto
	wg     sync.WaitGroup
	once   sync.Once

	link *link // the region store's calls (health.go)

	// Atomic.
	malformed   atomic.Uint64
	globalOpens atomic.Uint64

	wake chan struct{} // hints arrived (capacity 1)

	// Owned by the loop goroutine.
	leaseRaw []byte // the lease value this replica holds; nil when not leader
	lastSig  string // the open guards of the last summary published
	pubArmed bool

	// Guarded by mu.
	mu             sync.Mutex
	tick           int // read periods so far
	regions        map[string]*seen
	adopted        map[string]bool // guard -> held open by ActorGlobal
	holds          sync.Map        // guard -> struct{}: adopted, read lock-free by the probe veto
	leader         bool
	dirtySummaries bool
	dirtyVerdicts  bool
}

// seen is a region's summary as this replica last read it.
type seen struct {
	sum     Summary
	changed int       // the tick in which its Seq last advanced
	at      time.Time // when a read last found it (this process's clock)
}

// lease is the summary lease's value.
type lease struct {
	Holder string `json:"holder"`
	Token  string `json:"token"`
}

// Join starts the region agent of the replica whose fleet agent is fa: it
// uses fa's registry, store, replica ID and region label (fleet.WithRegion,
// which must not be empty). It adds a probe veto to fa
// (fleet.Agent.AddProbeVeto): a guard this replica holds open because
// enough regions report it open admits no probe while they do. It returns
// at once; the first lease attempt and read happen in the background.
func Join(fa *fleet.Agent, opts ...Option) (*Agent, error) {
	if fa == nil {
		return nil, errors.New("region: Join: nil fleet agent")
	}
	self := fa.Self()
	if self.Region == "" {
		return nil, errors.New("region: Join: region: the fleet agent has no region label (fleet.WithRegion)")
	}
	if strings.ContainsAny(self.Region, " /\t\n") {
		return nil, fmt.Errorf("region: Join: region: %q must not hold spaces or slashes", self.Region)
	}
	cfg := newConfig(opts)
	l, err := newLink(self.Region, cfg.timeout)
	if err != nil {
		return nil, err
	}
	var tok [8]byte
	_, _ = rand.Read(tok[:])
	a := &Agent{
		fa: fa, reg: fa.Registry(), store: fa.Store(), self: self, cfg: cfg, log: cfg.logger, link: l,
		token:   hex.EncodeToString(tok[:]),
		wake:    make(chan struct{}, 1),
		regions: map[string]*seen{},
		adopted: map[string]bool{},
	}
	a.unveto = fa.AddProbeVeto(a.vetoProbe)
	ctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	a.wg.Add(2)
	go a.loop(ctx)
	go a.watch(ctx)
	return a, nil
}

// Region returns this replica's region.
func (a *Agent) Region() string { return a.self.Region }

// Close stops the agent, removes its probe veto and gives up its summary
// lease (so that another replica of the region takes over at once). Global
// opens it made stay until they half-open, and then probe as any open
// guard; the region's summary expires on its own. Close is
// idempotent and returns nil.
func (a *Agent) Close() error {
	a.once.Do(func() {
		a.unveto()
		a.cancel()
		a.wg.Wait()
		if a.leaseRaw != nil {
			_ = a.call(context.Background(), func(c context.Context) error {
				_, err := a.store.CompareAndDelete(c, KindSummaryLease, LeaseKey, a.leaseRaw)
				return err
			})
			a.leaseRaw = nil
		}
		a.mu.Lock()
		a.leader = false
		a.mu.Unlock()
	})
	return nil
}

// call runs fn with the store timeout, behind the store's breaker, and
// records the store's health.
func (a *Agent) call(ctx context.Context, fn func(context.Context) error) error {
	return a.link.call(ctx, fn)
}

// Health returns the region store's health as this replica sees it, the
// relay's with WithRelay, and the agent's counters. It reads memory only.
func (a *Agent) Health() Health {
	h := Health{Store: a.link.health(), Malformed: a.malformed.Load(), GlobalOpens: a.globalOpens.Load()}
	if a.cfg.relay != nil {
		rh := a.cfg.relay.Health()
		h.Relay = &rh
	}
	a.mu.Lock()
	h.Held = len(a.adopted)
	a.mu.Unlock()
	return h
}

// jitter returns d spread by up to a fifth either way.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((mrand.Float64()*0.4-0.2)*float64(d))
}

// minGap is the least time between two summaries made early.
func (a *Agent) minGap() time.Duration { return max(a.cfg.period/10, 50*time.Millisecond) }

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
		a.log.Debug("region: watch lost", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter(backoff)):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (a *Agent) hint(h fleet.Hint) {
	a.mu.Lock()
	switch {
	case h.Resync:
		a.dirtySummaries, a.dirtyVerdicts = true, true
	case h.Kind == KindSummary:
		a.dirtySummaries = true
	case h.Kind == fleet.KindVerdict:
		a.dirtyVerdicts = true
	default:
		a.mu.Unlock()
		return
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *Agent) loop(ctx context.Context) {
	defer a.wg.Done()
	round := time.NewTimer(0)
	defer round.Stop()
	pub := time.NewTimer(time.Hour)
	pub.Stop()
	defer pub.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-round.C:
			a.mu.Lock()
			a.tick++
			a.mu.Unlock()
			a.lead(ctx)
			if a.leaseRaw != nil {
				a.publish(ctx, true)
			}
			a.readAll(ctx)
			a.forget(time.Now())
			a.evaluate()
			round.Reset(jitter(a.cfg.period))
		case <-a.wake:
			a.mu.Lock()
			sums, verdicts := a.dirtySummaries, a.dirtyVerdicts
			a.dirtySummaries, a.dirtyVerdicts = false, false
			a.mu.Unlock()
			if verdicts && a.leaseRaw != nil && !a.pubArmed {
				a.pubArmed = true
				pub.Reset(a.minGap())
			}
			if sums {
				a.readAll(ctx)
				a.evaluate()
			}
		case <-pub.C:
			a.pubArmed = false
			if a.leaseRaw != nil && a.publish(ctx, false) {
				a.readAll(ctx)
				a.evaluate()
			}
		}
	}
}

// ---- the summary lease ----

// lead takes the region's summary lease, or refreshes it when held.
func (a *Agent) lead(ctx context.Context) {
	ttl := 2 * a.cfg.period
	if a.leaseRaw != nil {
		var ok bool
		err := a.call(ctx, func(c context.Context) error {
			var err error
			ok, err = a.store.CompareAndPut(c, KindSummaryLease, LeaseKey, a.leaseRaw, a.leaseRaw, ttl)
			return err
		})
		if err != nil || ok {
			return // a store error keeps the lease until it expires
		}
		a.leaseRaw = nil
		a.setLeader(false)
	}
	raw, err := fleet.Encode(KindSummaryLease, lease{Holder: a.self.ID, Token: a.token})
	if err != nil {
		return
	}
	var created bool
	if a.call(ctx, func(c context.Context) error {
		var err error
		created, _, err = a.store.Create(c, KindSummaryLease, LeaseKey, raw, ttl)
		return err
	}) != nil || !created {
		return
	}
	a.leaseRaw, a.lastSig = raw, ""
	a.setLeader(true)
}

func (a *Agent) setLeader(v bool) {
	a.mu.Lock()
	changed := a.leader != v
	a.leader = v
	a.mu.Unlock()
	if changed {
		a.log.Info("region: summary lease", "region", a.self.Region, "replica", a.self.ID, "leader", v)
	}
}

// ---- publishing ----

// publish makes and stores the region's summary. Unless force, it stores
// it only when the set of guards the region reports open changed since
// the last one. It reports whether it stored one.
func (a *Agent) publish(ctx context.Context, force bool) bool {
	s, ok := a.summarize(ctx)
	if !ok {
		return false
	}
	var sig strings.Builder
	for _, g := range s.Guards {
		if g.Open {
			sig.WriteString(g.Guard)
			sig.WriteByte(0)
		}
	}
	if !force && sig.String() == a.lastSig {
		return false
	}
	if a.call(ctx, func(c context.Context) error {
		var err error
		s.Seq, err = a.store.NextVersion(c)
		return err
	}) != nil {
		return false
	}
	raw, err := fleet.Encode(KindSummary, s)
	if err != nil {
		return false
	}
	if a.call(ctx, func(c context.Context) error {
		return a.store.Put(c, KindSummary, s.Region, raw, time.Duration(s.TTLMS)*time.Millisecond)
	}) != nil {
		return false
	}
	a.lastSig = sig.String()
	return true
}

// summarize reads the region's members and verdicts and makes a summary
// (without its Seq).
func (a *Agent) summarize(ctx context.Context) (Summary, bool) {
	var members, verdicts []fleet.Entry
	if a.call(ctx, func(c context.Context) error {
		var err error
		members, err = a.store.List(c, fleet.KindMember)
		return err
	}) != nil {
		return Summary{}, false
	}
	if a.call(ctx, func(c context.Context) error {
		var err error
		verdicts, err = a.store.List(c, fleet.KindVerdict)
		return err
	}) != nil {
		return Summary{}, false
	}
	live := 0
	for _, e := range members {
		var m fleet.Member
		if fleet.Decode(fleet.KindMember, e.Value, &m) == nil && m.ID == e.Key {
			live++
		}
	}
	type tally struct{ votes, calls, fails int }
	tallies := map[string]*tally{}
	get := func(g string) *tally {
		t := tallies[g]
		if t == nil {
			t = &tally{}
			tallies[g] = t
		}
		return t
	}
	for _, e := range verdicts {
		var v fleet.Verdict
		if fleet.Decode(fleet.KindVerdict, e.Value, &v) != nil || v.Guard == "" || v.Replica == "" {
			continue // the fleet agent counts and logs these
		}
		t := get(v.Guard)
		if v.Open {
			t.votes++
		}
		if v.Replica != a.self.ID {
			t.calls += v.Calls
			t.fails += v.Failures
		}
	}
	live = max(live, 1)
	s := Summary{
		Region: a.self.Region, By: a.self.ID, Members: live,
		TTLMS:    (4 * a.cfg.period).Milliseconds(),
		PeriodMS: a.cfg.period.Milliseconds(),
	}
	guards := map[string]*core.Guard{}
	if gs, err := a.reg.Guards(core.All()); err == nil {
		for _, g := range gs {
			guards[g.Name()] = g
			get(g.Name())
		}
	}
	for name, t := range tallies {
		gs := GuardSummary{Guard: name, OpenReplicas: t.votes, Share: float64(t.votes) / float64(max(live, t.votes))}
		var pol *core.FleetPolicy
		calls, fails := t.calls, t.fails
		if g := guards[name]; g != nil {
			pol = g.Policy().Fleet
			gs.Global, _ = pol.GlobalRule()
			snap := g.Snapshot()
			gs.State = snap.Breaker.State.String()
			calls += snap.Breaker.WindowCalls
			fails += snap.Breaker.WindowFailures
			if rl := snap.RateLimit; rl != nil && rl.Config.Burst > 0 {
				gs.LimiterUse = clamp01(1 - rl.Available/float64(rl.Config.Burst))
			}
			if bh := snap.Bulkhead; bh != nil && bh.MaxConcurrent > 0 {
				gs.BulkheadUse = clamp01(float64(bh.InUse) / float64(bh.MaxConcurrent))
			}
		}
		gs.Calls = calls
		if calls > 0 {
			gs.FailureRate = round2(float64(fails) * 100 / float64(calls))
		}
		gs.Share = round2(gs.Share)
		gs.Open = reportsOpen(pol, t.votes, live)
		s.Guards = append(s.Guards, gs)
	}
	slices.SortFunc(s.Guards, func(x, y GuardSummary) int {
		if x.Open != y.Open {
			if x.Open {
				return -1
			}
			return 1
		}
		return strings.Compare(x.Guard, y.Guard)
	})
	if len(s.Guards) > MaxGuards {
		s.Truncated = len(s.Guards) - MaxGuards
		s.Guards = s.Guards[:MaxGuards]
	}
	slices.SortFunc(s.Guards, func(x, y GuardSummary) int { return strings.Compare(x.Guard, y.Guard) })
	return s, true
}

// reportsOpen is the region's rule: the open votes meet the guard's
// adoption rule, its Min capped at the live replicas (a region of one
// replica reports what that replica sees).
func reportsOpen(pol *core.FleetPolicy, votes, live int) bool {
	if votes <= 0 {
		return false
	}
	adopt, minVotes, fraction := pol.Rule()
	if adopt == core.FleetAdoptAny {
		return true
	}
	need := min(minVotes, max(live, 1))
	return votes >= need && (fraction <= 0 || float64(votes) >= fraction*float64(live))
}

func clamp01(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return round2(min(max(x, 0), 1))
}

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// ---- reading ----

// readAll reads every region's summary from this region's store.
func (a *Agent) readAll(ctx context.Context) {
	var es []fleet.Entry
	if a.call(ctx, func(c context.Context) error {
		var err error
		es, err = a.store.List(c, KindSummary)
		return err
	}) != nil {
		return
	}
	got := map[string]Summary{}
	for _, e := range es {
		s, err := decodeSummary(e)
		if err != nil {
			a.malformed.Add(1)
			a.log.Debug("region: skipped a summary", "key", e.Key, "err", err)
			continue
		}
		got[s.Region] = s
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	next := make(map[string]*seen, len(got))
	for r, s := range got {
		old := a.regions[r]
		if old != nil && old.sum.Seq == s.Seq {
			next[r] = &seen{sum: s, changed: old.changed, at: now}
			continue
		}
		next[r] = &seen{sum: s, changed: a.tick, at: now}
	}
	a.regions = next
}

// forget drops the summaries no read has found for their TTL, as the
// store would have expired them: while this replica cannot read its
// region's store, what it last read does not hold global opens for ever.
// The durations are this process's own clock, never compared with another
// host's.
func (a *Agent) forget(now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for r, s := range a.regions {
		if now.Sub(s.at) >= time.Duration(s.sum.TTLMS)*time.Millisecond {
			delete(a.regions, r)
		}
	}
}

// decodeSummary reads a summary entry, refusing one that does not match
// its key.
func decodeSummary(e fleet.Entry) (Summary, error) {
	var s Summary
	if err := fleet.Decode(KindSummary, e.Value, &s); err != nil {
		return Summary{}, err
	}
	if s.Region != e.Key || s.Seq == 0 || s.TTLMS <= 0 {
		return Summary{}, fmt.Errorf("region: summary under %q names region %q, seq %d, ttl %dms", e.Key, s.Region, s.Seq, s.TTLMS)
	}
	return s, nil
}

// ---- global guards ----

// evaluate opens each global guard that enough regions report open, holds
// those opens while they do, and releases the global opens no longer
// backed by enough regions.
//
// A global open is held for as long as the quorum holds: the open lasts
// the breaker's open duration, after which the guard half-opens and the
// probe veto (see Join) refuses its probes, so it admits no call until
// fewer than k regions report it open; then it closes (Release from open,
// Reset from half-open) with the actor ActorGlobal. An operator's state
// (disabled, metrics-only, forced open, an open of their own) and an open
// of the guard's own are never touched nor held.
func (a *Agent) evaluate() {
	gs, err := a.reg.Guards(core.All())
	if err != nil {
		return
	}
	for _, g := range gs {
		global, k := g.Policy().Fleet.GlobalRule()
		a.mu.Lock()
		held := a.adopted[g.Name()]
		var openIn []string
		if global {
			openIn = a.openInLocked(g.Name())
		}
		a.mu.Unlock()
		if !global && !held {
			continue
		}
		b := g.Breaker()
		s := b.Snapshot()
		openOurs := s.State == breaker.Open && s.Manual && s.LastTransition.Actor == ActorGlobal
		waiting := held && s.State == breaker.HalfOpen // our open lapsed; probes refused
		quorum := global && len(openIn) >= k
		switch {
		case quorum && s.State == breaker.Closed:
			reason := fmt.Sprintf("global: open in %d regions (%s), k=%d", len(openIn), strings.Join(openIn, ", "), k)
			a.hold(g.Name(), true) // before the open: its half-open must find the veto
			t := b.OpenFor(b.Config().OpenDuration, breaker.Manual{Actor: ActorGlobal, Reason: reason})
			held = true
			if t.From.Manual() {
				// An operator set a manual state between the snapshot and
				// the open: theirs wins, put it back.
				giveWay(b, t.From)
				held = false
			} else {
				a.globalOpens.Add(1)
				a.log.Info("region: global open", "guard", g.Name(), "regions", openIn, "k", k)
			}
		case quorum && (openOurs || waiting):
			held = true
		case quorum:
			held = false // an operator's state or the guard's own open: not ours to hold
		case openOurs:
			reason := fmt.Sprintf("global: open in %d regions (%s), fewer than k=%d", len(openIn), strings.Join(openIn, ", "), k)
			b.Release(breaker.Manual{Actor: ActorGlobal, Reason: reason})
			a.log.Info("region: global open released", "guard", g.Name(), "regions", openIn, "k", k)
			held = false
		case waiting:
			reason := fmt.Sprintf("global: open in %d regions (%s), fewer than k=%d", len(openIn), strings.Join(openIn, ", "), k)
			b.Reset(breaker.Manual{Actor: ActorGlobal, Reason: reason})
			a.log.Info("region: global open released", "guard", g.Name(), "regions", openIn, "k", k)
			held = false
		default:
			held = false
		}
		a.hold(g.Name(), held)
	}
}

// hold records whether this replica holds guard open because of the
// other regions; the probe veto reads it.
func (a *Agent) hold(guard string, v bool) {
	a.mu.Lock()
	if v {
		a.adopted[guard] = true
	} else {
		delete(a.adopted, guard)
	}
	a.mu.Unlock()
	if v {
		a.holds.Store(guard, struct{}{})
	} else {
		a.holds.Delete(guard)
	}
}

// vetoProbe is the agent's probe veto: a guard held open because enough
// regions report it open does not probe.
func (a *Agent) vetoProbe(g *core.Guard) bool {
	_, ok := a.holds.Load(g.Name())
	return ok
}

// giveWay puts back the manual state an operator set while a global open
// was being made.
func giveWay(b *breaker.Breaker, st breaker.State) {
	m := breaker.Manual{Actor: ActorGlobal, Reason: "global: gave way to an operator's " + st.String()}
	switch st {
	case breaker.Disabled:
		b.Disable(m)
	case breaker.MetricsOnly:
		b.MetricsOnly(m)
	case breaker.ForcedOpen:
		b.ForceOpen(m)
	}
}

// openInLocked returns the regions whose summary reports guard open, by
// name. a.mu is held.
func (a *Agent) openInLocked(guard string) []string {
	var out []string
	for r, s := range a.regions {
		if gs, ok := findGuard(s.sum.Guards, guard); ok && gs.Open {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out
}

func findGuard(gs []GuardSummary, guard string) (GuardSummary, bool) {
	i, ok := slices.BinarySearchFunc(gs, guard, func(g GuardSummary, name string) int { return strings.Compare(g.Guard, name) })
	if !ok {
		return GuardSummary{}, false
	}
	return gs[i], true
}

// ---- failover hints ----

// RegionState answers "is guard open in region?" from the summaries this
// replica last read; ok is false when region has no unexpired summary, or
// its summary does not name guard. It never calls a store.
func (a *Agent) RegionState(guard, region string) (RegionGuardState, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.regions[region]
	if !ok {
		return RegionGuardState{}, false
	}
	gs, ok := findGuard(s.sum.Guards, guard)
	if !ok {
		return RegionGuardState{}, false
	}
	return RegionGuardState{
		Region: region, Guard: guard, Open: gs.Open, OpenReplicas: gs.OpenReplicas, Members: s.sum.Members,
		Share: gs.Share, State: gs.State, FailureRate: gs.FailureRate, LimiterUse: gs.LimiterUse, BulkheadUse: gs.BulkheadUse,
		Seq: s.sum.Seq, Age: a.tick - s.changed,
	}, true
}

// Regions returns what this replica knows of every region, from memory.
func (a *Agent) Regions() Report {
	r := Report{Region: a.self.Region, Replica: a.self.ID, Regions: []RegionView{}, Global: []GlobalView{},
		Errors: a.link.errs.Load(), Malformed: a.malformed.Load()}
	a.mu.Lock()
	r.Leader = a.leader
	for name, s := range a.regions {
		gs := s.sum.Guards
		if gs == nil {
			gs = []GuardSummary{}
		}
		r.Regions = append(r.Regions, RegionView{Region: name, Self: name == a.self.Region, Seq: s.sum.Seq,
			Age: a.tick - s.changed, By: s.sum.By, Members: s.sum.Members, Guards: slices.Clone(gs), Truncated: s.sum.Truncated})
	}
	a.mu.Unlock()
	slices.SortFunc(r.Regions, func(x, y RegionView) int { return strings.Compare(x.Region, y.Region) })
	if gs, err := a.reg.Guards(core.All()); err == nil {
		for _, g := range gs {
			global, k := g.Policy().Fleet.GlobalRule()
			if !global {
				continue
			}
			a.mu.Lock()
			v := GlobalView{Guard: g.Name(), Regions: k, OpenIn: a.openInLocked(g.Name()), Adopted: a.adopted[g.Name()]}
			a.mu.Unlock()
			if v.OpenIn == nil {
				v.OpenIn = []string{}
			}
			s := g.Breaker().Snapshot()
			v.Adopted = v.Adopted && (s.State == breaker.Open && s.LastTransition.Actor == ActorGlobal || s.State == breaker.HalfOpen)
			r.Global = append(r.Global, v)
		}
	}
	slices.SortFunc(r.Global, func(x, y GlobalView) int { return strings.Compare(x.Guard, y.Guard) })
	return r
}
