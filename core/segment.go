package core

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/breakerbox/breakerbox/core/fallback"
)

// DefaultMaxTenantGuards is the bound on tenant guards when the document's
// tenants.maxGuards is 0; MaxTenantGuards is the largest bound a document
// may set.
const (
	DefaultMaxTenantGuards = 1000
	MaxTenantGuards        = 1_000_000
)

// checkSegments reports the problems of doc's tenant overlays and variants,
// given the document's valid policies by name: each overlay and override is
// checked on its own (no name-only fields) and merged with the policy it
// changes (the result must be a valid policy whose fallbacks are
// registered).
func checkSegments(doc Document, policies map[string]Policy, fallbacks map[string]fallback.Func) []Problem {
	var probs []Problem
	for i, p := range doc.Policies {
		if _, t, v := ParseGuardName(p.Name); t != "" || v != "" {
			probs = append(probs, Problem{Path: fmt.Sprintf("policies[%d].name", i), Value: strconv.Quote(p.Name), Message: "names ending in {tenant=...} or {variant=...} are reserved for tenant and variant policies"})
		}
	}
	if t := doc.Tenants; t != nil {
		if t.MaxGuards < 0 || t.MaxGuards > MaxTenantGuards {
			probs = append(probs, Problem{Path: "tenants.maxGuards", Value: strconv.Itoa(t.MaxGuards), Message: fmt.Sprintf("must be between 0 and %d (0 means the default, %d)", MaxTenantGuards, DefaultMaxTenantGuards)})
		}
		tenants := map[string]int{}
		for i, o := range t.Overrides {
			path := fmt.Sprintf("tenants.overrides[%d]", i)
			if o.Tenant == "" {
				probs = append(probs, Problem{Path: path + ".tenant", Message: "must not be empty"})
			} else if first, dup := tenants[o.Tenant]; dup {
				probs = append(probs, Problem{Path: path + ".tenant", Value: strconv.Quote(o.Tenant), Message: fmt.Sprintf("duplicate tenant %q (also tenants.overrides[%d])", o.Tenant, first)})
			} else {
				tenants[o.Tenant] = i
			}
			if len(o.Policies) == 0 {
				probs = append(probs, Problem{Path: path + ".policies", Message: "must overlay at least one policy"})
			}
			seen := map[string]bool{}
			for j, p := range o.Policies {
				ppath := fmt.Sprintf("%s.policies[%d]", path, j)
				switch {
				case p.Name == "":
					probs = append(probs, Problem{Path: ppath + ".name", Message: "must name the policy to overlay"})
					continue
				case seen[p.Name]:
					probs = append(probs, Problem{Path: ppath + ".name", Value: strconv.Quote(p.Name), Message: fmt.Sprintf("policy %q overlaid twice for this tenant", p.Name)})
					continue
				}
				seen[p.Name] = true
				if _, ok := policies[p.Name]; !ok {
					probs = append(probs, Problem{Path: ppath + ".name", Value: strconv.Quote(p.Name), Message: fmt.Sprintf("no policy %q in the document to overlay", p.Name)})
					continue
				}
				probs = append(probs, checkOverlay(ppath, "", policies, p.Name, p, fallbacks)...)
			}
		}
	}
	seen := map[string]bool{}
	for i, v := range doc.Variants {
		path := fmt.Sprintf("variants[%d]", i)
		switch {
		case v.Name == "":
			probs = append(probs, Problem{Path: path + ".name", Message: "must not be empty"})
		case seen[v.Name]:
			probs = append(probs, Problem{Path: path + ".name", Value: strconv.Quote(v.Name), Message: fmt.Sprintf("duplicate variant name %q", v.Name)})
		}
		seen[v.Name] = true
		if v.Percent < 0 || v.Percent > 100 || v.Percent != v.Percent {
			probs = append(probs, Problem{Path: path + ".percent", Value: strconv.FormatFloat(v.Percent, 'g', -1, 64), Message: "must be within 0-100"})
		}
		if v.Percent == 0 && v.Attribute == "" {
			probs = append(probs, Problem{Path: path, Message: "needs percent or attribute to select its segment"})
		}
		if _, ok := policies[v.Policy]; !ok {
			probs = append(probs, Problem{Path: path + ".policy", Value: strconv.Quote(v.Policy), Message: fmt.Sprintf("no policy %q in the document", v.Policy)})
			continue
		}
		if v.Override.Name != "" {
			probs = append(probs, Problem{Path: path + ".override.name", Value: strconv.Quote(v.Override.Name), Message: "not allowed in a variant's override (the variant's name names it)"})
		}
		probs = append(probs, checkOverlay(path+".override", v.Name, policies, v.Policy, v.Override, fallbacks)...)
	}
	return probs
}

// checkOverlay checks an overlay on the policy called base: no Extends or
// Match of its own, and a valid policy once merged. variant names the
// variant whose override it is ("" for a tenant overlay).
func checkOverlay(path, variant string, policies map[string]Policy, base string, o Policy, fallbacks map[string]fallback.Func) []Problem {
	var probs []Problem
	if o.Extends != "" {
		probs = append(probs, Problem{Path: path + ".extends", Value: strconv.Quote(o.Extends), Message: "not allowed in an overlay (it always extends the policy it overlays)"})
	}
	if len(o.Match) > 0 {
		probs = append(probs, Problem{Path: path + ".match", Value: strconv.Quote(o.Match[0]), Message: "not allowed in an overlay (it applies to the guards of the policy it overlays)"})
	}
	if len(probs) > 0 {
		return probs
	}
	bp, err := resolve(policies, base)
	if err != nil {
		return nil // the policy's own problem is reported with it
	}
	kind, value := variantSuffix, variant
	if variant == "" {
		kind, value = tenantSuffix, "tenant"
	}
	m := overlay(o, bp, kind, value)
	if err := m.Validate(); err != nil {
		return problemsOf(path, err)
	}
	for j, ref := range m.Fallbacks {
		if _, ok := fallbacks[ref.Name]; !ok && fallbacks != nil {
			probs = append(probs, Problem{Path: fmt.Sprintf("%s.fallbacks[%d].name", path, j), Value: strconv.Quote(ref.Name), Message: fmt.Sprintf("no fallback registered as %q (see WithFallback)", ref.Name)})
		}
	}
	return probs
}

// overlay returns base with o's set fields replacing its own, named after
// base with the {kind=value} suffix.
func overlay(o, base Policy, kind, value string) Policy {
	m := inherit(o, base)
	m.Name = derivedName(base.Name, kind, value)
	m.Extends, m.Match = "", nil
	return m
}

// segments is the runtime form of the live document's tenants and
// variants, published by Apply. It is immutable once published; what
// outlives one document (the tenant and variant guards, counters) lives in
// the segmentBook every generation shares.
type segments struct {
	routes    bool // a tenant overlay or an enforced variant exists: ForCall has work
	maxGuards int
	tenants   map[string]map[string]Policy // tenant ("*" for any) -> policy name -> overlay
	variants  map[string][]*variant        // control policy name -> its variants, in order
	order     []*variant                   // every variant, in document order
	book      *segmentBook
}

// setSegments publishes the segment state of the live document r.doc.
// Apply calls it, with r.mu held.
func (r *Registry) setSegments() {
	old := r.seg.Load()
	var book *segmentBook
	if old != nil {
		book = old.book
	} else {
		book = newSegmentBook(r)
	}
	doc := r.doc
	s := &segments{maxGuards: DefaultMaxTenantGuards, book: book}
	if t := doc.Tenants; t != nil {
		if t.MaxGuards > 0 {
			s.maxGuards = t.MaxGuards
		}
		for _, o := range t.Overrides {
			if s.tenants == nil {
				s.tenants = map[string]map[string]Policy{}
			}
			m := map[string]Policy{}
			for _, p := range o.Policies {
				m[p.Name] = p
			}
			s.tenants[o.Tenant] = m
			s.routes = true
		}
	}
	for _, vp := range doc.Variants {
		v := book.variant(vp)
		if s.variants == nil {
			s.variants = map[string][]*variant{}
		}
		s.variants[vp.Policy] = append(s.variants[vp.Policy], v)
		s.order = append(s.order, v)
		if !vp.Shadow {
			s.routes = true
		}
	}
	book.retain(s.order)
	r.seg.Store(s)
	book.installHooks(r, s)
}

// GuardFor returns the guard for a call made with ctx through the guard
// called name: Registry.Guard's guard, or the tenant or variant guard that
// ForCall picks for the call's segment. With no tenants or variants in the
// live document it is Guard plus one atomic load, and allocates nothing.
func (r *Registry) GuardFor(ctx context.Context, name string, opts ...GuardOption) (*Guard, error) {
	g, err := r.Guard(name, opts...)
	if err != nil {
		return nil, err
	}
	return r.ForCall(ctx, g), nil
}

// ForCall returns the guard a call made with ctx through g should use,
// following the live document's tenants and variants:
//
//   - when ctx carries a tenant (WithTenant) with an overlay for g's
//     policy, or the "*" overlay has one, the tenant's own guard (see
//     TenantGuardName), created on first use with g's policy and the
//     overlay's fields, g's tags and classifier. At most tenants.maxGuards
//     tenant guards exist at once (1000 by default); past the bound the
//     call uses g, and TenantStats().Overflow counts it. Idle tenant
//     guards are pruned like any other, which frees their places.
//   - then, when an enforced variant of g's policy selects the call (its
//     Attribute in ctx, or the segment key in its Percent; see
//     WithSegment), the variant's guard of that guard (see
//     VariantGuardName), with the variant's override on its policy.
//     Shadow variants never change the guard: they watch the calls of the
//     guards they shadow (see Variants).
//
// Otherwise, and for a tenant or variant guard, ForCall returns g itself.
// It costs one atomic load when the document has no tenants or enforced
// variants. A tenant or variant guard is kept while its policy stays the
// same; when an Apply changes it, the next call replaces the guard by one
// with the new policy (its counters start again).
func (r *Registry) ForCall(ctx context.Context, g *Guard) *Guard {
	s := r.seg.Load()
	if s == nil || !s.routes {
		return g
	}
	return s.route(ctx, g)
}

func (s *segments) route(ctx context.Context, g *Guard) *Guard {
	cs := segmentOf(ctx)
	if cs == nil {
		return g
	}
	pol := g.Policy().Name
	if _, t, v := ParseGuardName(pol); t != "" || v != "" {
		return g // already a tenant or variant guard
	}
	ctl := g
	if cs.tenant != "" && s.tenants != nil {
		o, ok := s.tenants[cs.tenant][pol]
		if !ok {
			o, ok = s.tenants["*"][pol]
		}
		if ok {
			ctl = s.book.derive(s, g, tenantSuffix, cs.tenant, o, true)
		}
	}
	for _, v := range s.variants[pol] {
		if !v.def.Shadow && v.selects(cs) {
			return s.book.derive(s, ctl, variantSuffix, v.def.Name, v.def.Override, ctl != g)
		}
	}
	return ctl
}

// segmentBook keeps what outlives one document: the tenant and variant
// guards made so far, the tenant bound's accounting, and the variants'
// counters and shadow breakers.
type segmentBook struct {
	reg    *Registry
	hookID *int

	overflow atomic.Uint64            // calls that got the base guard because the bound was reached
	full     atomic.Pointer[segments] // the generation whose bound counted+pending reached
	swept    atomic.Uint64            // r.prunes when the book last dropped pruned guards

	mu       sync.RWMutex
	derived  map[derivedKey]*derivedEntry
	counted  int // entries that hold a tenant guard
	pending  int // tenant guards being created
	variants map[string]*variant
	trips    map[string][]*atomic.Uint64 // guard name -> trip counters to add to
	shadows  map[string][]*shadowArm     // control guard name -> its shadow arms
}

type derivedKey struct {
	control string // the control guard's name
	kind    string // tenantSuffix or variantSuffix
	value   string // the tenant or the variant's name
}

type derivedEntry struct {
	g       *Guard
	gen     *segments // the generation that last checked its policy
	counted bool      // a tenant guard, or a variant of one
}

func newSegmentBook(r *Registry) *segmentBook {
	return &segmentBook{reg: r, hookID: new(int), derived: map[derivedKey]*derivedEntry{}, variants: map[string]*variant{}, trips: map[string][]*atomic.Uint64{}, shadows: map[string][]*shadowArm{}}
}

// derive returns ctl's guard of the given kind and value, whose policy is
// ctl's with o's fields, creating it when needed. counted guards are
// bounded by s.maxGuards; past the bound derive returns ctl.
func (b *segmentBook) derive(s *segments, ctl *Guard, kind, value string, o Policy, counted bool) *Guard {
	k := derivedKey{control: ctl.name, kind: kind, value: value}
	b.mu.RLock()
	e := b.derived[k]
	fresh := e != nil && e.gen == s && !e.g.pruned.Load()
	b.mu.RUnlock()
	if fresh {
		return e.g
	}
	if e == nil && counted && b.full.Load() == s && b.swept.Load() == b.reg.prunes.Load() {
		b.overflow.Add(1) // the bound holds and no guard was pruned since we last looked
		return ctl
	}
	return b.create(s, ctl, k, o, counted)
}

//go:noinline
func (b *segmentBook) create(s *segments, ctl *Guard, k derivedKey, o Policy, counted bool) *Guard {
	p := overlay(o, ctl.Policy(), k.kind, k.value)
	if err := p.Validate(); err != nil {
		return ctl // a document is checked against the policies it names; a guard built otherwise keeps its own
	}
	name := derivedName(ctl.name, k.kind, k.value)
	b.mu.Lock()
	e := b.derived[k]
	switch {
	case e != nil && e.gen == s && !e.g.pruned.Load():
		b.mu.Unlock()
		return e.g
	case e != nil && e.gen != s && samePolicy(e.g.Policy(), p) && !e.g.pruned.Load():
		e.gen = s // a new document left this guard's policy as it was
		b.armLocked(k, ctl.name, e.g.name)
		b.mu.Unlock()
		return e.g
	case e != nil && e.gen != s && !e.g.pruned.Load():
		// Its policy changed: retire it, so the name gets a guard with the
		// new policy; a caller that holds it sees Pruned and asks again.
		if b.reg.guards.CompareAndDelete(e.g.name, e.g) {
			e.g.pruned.Store(true)
		}
	}
	reserved := false
	if e == nil && counted {
		if b.counted+b.pending >= s.maxGuards {
			b.sweepLocked()
		}
		if b.counted+b.pending >= s.maxGuards {
			b.full.Store(s)
			b.mu.Unlock()
			b.overflow.Add(1)
			return ctl
		}
		b.pending++
		reserved = true
	}
	b.mu.Unlock()

	g, err := b.reg.create(name, []GuardOption{WithTags(ctl.Tags()...), WithClassifier(ctl.br.Config().Classifier), guardOptionFunc(func(c *guardConfig) { c.resolved = &p })})

	b.mu.Lock()
	defer b.mu.Unlock()
	if reserved {
		b.pending--
	}
	if err != nil {
		b.full.Store(nil) // the place it reserved is free again
		return ctl
	}
	if cur := b.derived[k]; cur != nil {
		if cur.g == g && cur.gen == s {
			return g
		}
		cur.g, cur.gen = g, s // same slot, new guard
	} else {
		b.derived[k] = &derivedEntry{g: g, gen: s, counted: counted}
		if counted {
			b.counted++
		}
	}
	b.armLocked(k, ctl.name, g.name)
	return g
}

// sweepLocked drops the entries whose guard was pruned, freeing their
// places under the bound.
func (b *segmentBook) sweepLocked() {
	b.swept.Store(b.reg.prunes.Load())
	b.full.Store(nil)
	for k, e := range b.derived {
		if !e.g.pruned.Load() {
			continue
		}
		delete(b.derived, k)
		if e.counted {
			b.counted--
		}
		// Forget the guard in the variants' books too, so that tenants
		// coming and going do not grow them.
		delete(b.trips, e.g.name)
		for _, v := range b.variants {
			delete(v.controls, e.g.name)
			delete(v.guards, e.g.name)
			delete(v.arms, e.g.name)
		}
	}
}

// TenantStats describes the tenant guards of a registry.
type TenantStats struct {
	// Guards is the number of tenant guards (and variant guards of tenant
	// guards) the registry holds; MaxGuards is their bound.
	Guards, MaxGuards int
	// Overflow counts the calls that got their base guard instead of a
	// tenant guard because the bound was reached. It only grows.
	Overflow uint64
}

// TenantStats returns the registry's tenant guard figures. Guards pruned
// since the last call that needed a place still count until then.
func (r *Registry) TenantStats() TenantStats {
	s := r.seg.Load()
	if s == nil {
		return TenantStats{MaxGuards: DefaultMaxTenantGuards}
	}
	b := s.book
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := 0
	for _, e := range b.derived {
		if e.counted && !e.g.pruned.Load() {
			n++
		}
	}
	return TenantStats{Guards: n, MaxGuards: s.maxGuards, Overflow: b.overflow.Load()}
}

// segmentPolicyLocked returns the policy the tenant or variant guard g
// should have under the live document (r.policies, r.doc), and false when
// g is no such guard or the live document no longer gives it one (its
// policy, overlay or variant is gone). A reload that reconfigures live
// guards uses it for these guards, which no policy name or pattern
// describes: their policy is their base policy with the overlays applied.
// r.mu is held.
func (r *Registry) segmentPolicyLocked(g *Guard) (Policy, bool) {
	base, tenant, vname := ParseGuardName(g.Policy().Name)
	if tenant == "" && vname == "" {
		return Policy{}, false
	}
	p, err := resolve(r.policies, base)
	if err != nil {
		return Policy{}, false
	}
	if tenant != "" {
		o, ok := tenantOverlay(r.doc.Tenants, tenant, base)
		if !ok {
			return Policy{}, false
		}
		p = overlay(o, p, tenantSuffix, tenant)
	}
	if vname != "" {
		i := slices.IndexFunc(r.doc.Variants, func(v VariantPolicy) bool { return v.Name == vname && v.Policy == base && !v.Shadow })
		if i < 0 {
			return Policy{}, false
		}
		p = overlay(r.doc.Variants[i].Override, p, variantSuffix, vname)
	}
	return p, p.Validate() == nil
}

// tenantOverlay returns the overlay of the policy called policy for tenant
// in t: the tenant's own, else the "*" overlay's.
func tenantOverlay(t *TenantPolicy, tenant, policy string) (Policy, bool) {
	if t == nil {
		return Policy{}, false
	}
	var star *Policy
	for _, o := range t.Overrides {
		for i, p := range o.Policies {
			if p.Name != policy {
				continue
			}
			if o.Tenant == tenant {
				return p, true
			}
			if o.Tenant == "*" {
				star = &o.Policies[i]
			}
		}
	}
	if star != nil {
		return *star, true
	}
	return Policy{}, false
}
