package core

import (
	"context"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// hashBuckets is the resolution of a variant's Percent: a segment key falls
// in one of a million buckets, and a variant takes Percent×10,000 of them.
const hashBuckets = 1_000_000

// SegmentBucket returns the bucket, in [0, 1,000,000), in which a variant
// called variant places a segment key: the FNV-1a 64-bit hash of the
// variant's name, a zero byte and the key, mixed by the MurmurHash3
// finalizer, modulo one million. A variant with Percent p selects the keys
// whose bucket is below p×10,000, so a key stays in its arm for as long as
// the variant keeps its name and share, in every process, and a larger
// share keeps the keys a smaller one had. Salting with the variant's name
// makes the segments of two variants independent.
func SegmentBucket(variant, key string) uint32 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(variant); i++ {
		h = (h ^ uint64(variant[i])) * prime
	}
	h *= prime // the zero byte
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * prime
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return uint32(h % hashBuckets)
}

// variant is a live variant and its counters. It lasts while the
// documents keep its definition unchanged.
type variant struct {
	def       VariantPolicy
	threshold uint32

	ctlTrips, varTrips atomic.Uint64
	// Shadow variants: the control guards' verdicts on the segment's calls.
	ctlCalls, ctlSucceeded, ctlFailed, ctlRejected atomic.Uint64

	// Guarded by the book's mu.
	controls map[string]bool       // control guards seen for the segment
	guards   map[string]bool       // enforced: the variant's guards
	arms     map[string]*shadowArm // shadow: control guard name -> shadow breaker
}

// shadowArm is a shadow variant's breaker for one control guard.
type shadowArm struct {
	br   *breaker.Breaker
	slow bool // its policy judges latency: feed it the call's
}

func (v *variant) selects(cs *callSegment) bool {
	if v.def.Attribute != "" && cs.has(v.def.Attribute) {
		return true
	}
	if v.threshold == 0 {
		return false
	}
	k := cs.segmentKey()
	return k != "" && SegmentBucket(v.def.Name, k) < v.threshold
}

// variant returns the live variant for vp: the one of that name when its
// definition did not change (keeping its counters), else a new one.
func (b *segmentBook) variant(vp VariantPolicy) *variant {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v := b.variants[vp.Name]; v != nil && sameVariant(v.def, vp) {
		return v
	}
	v := &variant{def: vp, threshold: uint32(math.Round(vp.Percent * hashBuckets / 100)), controls: map[string]bool{}, guards: map[string]bool{}, arms: map[string]*shadowArm{}}
	b.variants[vp.Name] = v
	return v
}

func sameVariant(a, b VariantPolicy) bool {
	return a.Name == b.Name && a.Policy == b.Policy && a.Percent == b.Percent && a.Attribute == b.Attribute && a.Shadow == b.Shadow && samePolicy(a.Override, b.Override)
}

// retain keeps the variants of order only, and indexes their guards for
// trip counting.
func (b *segmentBook) retain(order []*variant) {
	b.mu.Lock()
	defer b.mu.Unlock()
	live := make(map[string]*variant, len(order))
	for _, v := range order {
		live[v.def.Name] = v
	}
	b.variants = live
	b.trips = map[string][]*atomic.Uint64{}
	for _, v := range order {
		for c := range v.controls {
			b.trips[c] = append(b.trips[c], &v.ctlTrips)
		}
		for g := range v.guards {
			b.trips[g] = append(b.trips[g], &v.varTrips)
		}
	}
}

// armLocked records that the guard called name serves the variant of key
// k for the control guard ctl.
func (b *segmentBook) armLocked(k derivedKey, ctl, name string) {
	v := b.variants[k.value]
	if k.kind != variantSuffix || v == nil {
		return
	}
	if !v.controls[ctl] {
		v.controls[ctl] = true
		b.trips[ctl] = append(b.trips[ctl], &v.ctlTrips)
	}
	if !v.guards[name] {
		v.guards[name] = true
		b.trips[name] = append(b.trips[name], &v.varTrips)
	}
}

// installHooks gives the registry the hooks the variants need, or takes
// them away: state changes count trips; with a shadow variant, completions
// and rejections feed the shadow breakers (and make every guard measure
// its calls' latency, as any OnDone hook does). r.mu is held.
func (b *segmentBook) installHooks(r *Registry, s *segments) {
	var h Hooks
	if len(s.order) > 0 {
		h.OnStateChange = b.onState
	}
	for _, v := range s.order {
		if v.def.Shadow {
			h.OnDone, h.OnReject = b.onDone, b.onReject
			break
		}
	}
	i := slices.IndexFunc(r.hookSets, func(hs hookSet) bool { return hs.id == b.hookID })
	had := i >= 0 && r.hookSets[i].h.OnDone != nil
	switch {
	case i < 0 && h.OnStateChange == nil:
		return
	case i < 0:
		r.hookSets = append(r.hookSets, hookSet{id: b.hookID, h: h})
	case h.OnStateChange == nil:
		r.hookSets = slices.Delete(r.hookSets, i, i+1)
	case had == (h.OnDone != nil):
		return // the same hooks
	default:
		r.hookSets[i].h = h
	}
	r.publishHooksLocked()
}

func (b *segmentBook) onState(_ context.Context, e StateChange) {
	if e.To != breaker.Open {
		return
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, c := range b.trips[e.Guard] {
		c.Add(1)
	}
}

// shadowsOf returns the live shadow variants that select a call with ctx
// through the guard called name, and that guard.
func (b *segmentBook) shadowsOf(ctx context.Context, name string, yield func(*Guard, *variant)) {
	cs := segmentOf(ctx)
	if cs == nil {
		return
	}
	s := b.reg.seg.Load()
	g, ok := b.reg.Lookup(name)
	if s == nil || !ok {
		return
	}
	pol, tenant, vname := ParseGuardName(g.Policy().Name)
	if vname != "" {
		return // a call in an enforced variant is not the control's
	}
	if tenant == "" {
		pol = g.Policy().Name
	}
	for _, v := range s.variants[pol] {
		if v.def.Shadow && v.selects(cs) {
			yield(g, v)
		}
	}
}

func (b *segmentBook) onDone(ctx context.Context, c Completion) {
	b.shadowsOf(ctx, c.Guard, func(g *Guard, v *variant) {
		v.ctlCalls.Add(1)
		switch c.Result {
		case breaker.Success:
			v.ctlSucceeded.Add(1)
		case breaker.Failure:
			v.ctlFailed.Add(1)
		}
		a := b.arm(g, v)
		if a == nil {
			return
		}
		if a.slow {
			now := time.Now()
			if p, err := a.br.AllowAt(ctx, now.Add(-c.Latency)); err == nil {
				p.ReportAt(now, c.Result)
			}
			return
		}
		if p, err := a.br.Allow(ctx); err == nil {
			p.Report(c.Result)
		} // a rejection is counted by the shadow breaker, and never enforced
	})
}

func (b *segmentBook) onReject(ctx context.Context, rj Rejection) {
	b.shadowsOf(ctx, rj.Guard, func(_ *Guard, v *variant) {
		v.ctlCalls.Add(1)
		v.ctlRejected.Add(1)
	})
}

// arm returns v's shadow breaker for the control guard g, creating it with
// g's policy and v's override on first use (nil if that policy cannot make
// a breaker, which a checked document rules out).
func (b *segmentBook) arm(g *Guard, v *variant) *shadowArm {
	b.mu.RLock()
	a := v.arms[g.name]
	b.mu.RUnlock()
	if a != nil {
		return a
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if a := v.arms[g.name]; a != nil {
		return a
	}
	p := overlay(v.def.Override, g.Policy(), variantSuffix, v.def.Name)
	cfg, err := p.Breaker.BreakerConfig()
	if err != nil {
		return nil
	}
	cfg.Classifier = g.br.Config().Classifier
	cfg.OnStateChange = func(_ context.Context, t breaker.Transition) {
		if t.To == breaker.Open {
			v.varTrips.Add(1)
		}
	}
	br, err := breaker.New(cfg)
	if err != nil {
		return nil
	}
	if mode, err := p.Breaker.mode(); err == nil {
		m := breaker.Manual{Actor: "policy", Reason: "variant " + quote(v.def.Name) + " sets mode " + mode.String()}
		switch mode {
		case breaker.Disabled:
			br.Disable(m)
		case breaker.MetricsOnly:
			br.MetricsOnly(m)
		case breaker.ForcedOpen:
			br.ForceOpen(m)
		}
	}
	a = &shadowArm{br: br, slow: cfg.SlowCallDuration > 0}
	v.arms[g.name] = a
	if !v.controls[g.name] {
		v.controls[g.name] = true
		b.trips[g.name] = append(b.trips[g.name], &v.ctlTrips)
	}
	return a
}

// VariantStats compares a variant with its control.
type VariantStats struct {
	// Name, Policy, Percent, Attribute and Shadow are the variant's
	// definition.
	Name, Policy string
	Percent      float64
	Attribute    string
	Shadow       bool
	// Control and Variant are the two arms' figures.
	//
	// For an enforced variant, Variant adds up the variant's guards and
	// Control the guards they vary (all their calls: the ones outside the
	// segment). For a shadow variant both arms count the same calls, those
	// of the segment: Control as the control guards judged them, Variant as
	// the shadow breakers would have (their rejections and trips are
	// would-be ones, never enforced). A call the control rejected did not
	// run, so the shadow breakers never see it.
	Control, Variant ArmStats
}

// ArmStats are one arm's figures.
type ArmStats struct {
	// Guards is the number of guards (or shadow breakers) in the arm.
	Guards int
	// Calls counts the calls the arm admitted or rejected.
	Calls uint64
	// Succeeded and Failed count the admitted calls by their outcome.
	Succeeded, Failed uint64
	// FailureRate is Failed as a percentage of Succeeded+Failed (0 with no
	// such calls).
	FailureRate float64
	// Rejections counts rejected calls (would-be rejections for a shadow
	// variant).
	Rejections uint64
	// Trips counts the arm's transitions to open since the variant went
	// live (would-be trips for a shadow variant).
	Trips uint64
}

func (a *ArmStats) addBreaker(s breaker.Snapshot, rejected uint64) {
	a.Guards++
	a.Calls += s.Admitted + rejected
	a.Succeeded += s.Succeeded
	a.Failed += s.Failed
	a.Rejections += rejected
}

func (a *ArmStats) finish(trips uint64) {
	a.Trips = trips
	if n := a.Succeeded + a.Failed; n > 0 {
		a.FailureRate = float64(a.Failed) / float64(n) * 100
	}
}

// Variants compares every live variant with its control, in the document's
// order. Its cost grows with the variants' guards, not with the registry's.
func (r *Registry) Variants() []VariantStats {
	s := r.seg.Load()
	if s == nil || len(s.order) == 0 {
		return nil
	}
	b := s.book
	b.mu.RLock()
	type names struct {
		controls, guards []string
		arms             []*breaker.Breaker
	}
	all := make([]names, len(s.order))
	for i, v := range s.order {
		for c := range v.controls {
			all[i].controls = append(all[i].controls, c)
		}
		for g := range v.guards {
			all[i].guards = append(all[i].guards, g)
		}
		for _, a := range v.arms {
			all[i].arms = append(all[i].arms, a.br)
		}
	}
	b.mu.RUnlock()
	out := make([]VariantStats, len(s.order))
	for i, v := range s.order {
		st := VariantStats{Name: v.def.Name, Policy: v.def.Policy, Percent: v.def.Percent, Attribute: v.def.Attribute, Shadow: v.def.Shadow}
		add := func(a *ArmStats, names []string) {
			for _, n := range names {
				if g, ok := r.Lookup(n); ok {
					gs := g.Snapshot()
					a.addBreaker(gs.Breaker, gs.Rejected.Total())
				}
			}
		}
		if v.def.Shadow {
			c := &st.Control
			c.Guards = len(all[i].controls)
			c.Calls, c.Succeeded, c.Failed, c.Rejections = v.ctlCalls.Load(), v.ctlSucceeded.Load(), v.ctlFailed.Load(), v.ctlRejected.Load()
			for _, br := range all[i].arms {
				bs := br.Snapshot()
				st.Variant.addBreaker(bs, bs.Rejected+bs.RejectedProbe)
			}
		} else {
			add(&st.Control, all[i].controls)
			add(&st.Variant, all[i].guards)
		}
		st.Control.finish(v.ctlTrips.Load())
		st.Variant.finish(v.varTrips.Load())
		out[i] = st
	}
	return out
}
