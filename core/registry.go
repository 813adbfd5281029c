package core

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
)

// DefaultPolicyName is the name of the policy a registry uses for guards no
// other policy matches, unless WithDefaultPolicy gives another.
const DefaultPolicyName = "default"

// Registry owns a process's guards, keyed by name. It is safe for concurrent
// use; looking up an existing guard takes no lock and allocates nothing.
type Registry struct {
	guards sync.Map // string -> *Guard

	mu       sync.Mutex                     // serialises creation, policies, hooks, pruning
	retired  map[string]weak.Pointer[Guard] // pruned guards, while a caller still holds one
	policies map[string]Policy
	order    []string
	def      string
	hookSets []hookSet
	hooks    *Hooks
	fallback map[string]fallback.Func
	labels   func(ctx context.Context) []string
	profile  bool
	version  uint64   // the live document's version (Apply)
	hash     string   // its content hash
	doc      Document // the live document, as applied

	chaos  ChaosInjector              // WithChaos (chaos.go); nil without
	seg    atomic.Pointer[segments]   // tenant overlays and variants of the live document (segment.go)
	prunes atomic.Uint64              // guards pruned so far; segment.go reclaims tenant slots when it moves
	deps   atomic.Pointer[depTracker] // follows dependsOn (dependency.go); nil until a policy has one

	followers *followers // of the operations sections (document_ops.go)
	appliedBy string     // the live document's actor (AppliedBy); guarded by mu
	appliedAt time.Time  // when it was applied; guarded by mu
}

// Option configures a Registry.
type Option interface{ apply(*Registry) error }

type optionFunc func(*Registry) error

func (f optionFunc) apply(r *Registry) error { return f(r) }

// WithPolicies adds policies to the registry, in order (the order decides
// which Match pattern wins). Policies in one call may extend each other in
// any order.
func WithPolicies(ps ...Policy) Option {
	return optionFunc(func(r *Registry) error { return r.addPolicies(ps) })
}

// WithDefaultPolicy adds p and makes it the policy for guards no other
// policy matches.
func WithDefaultPolicy(p Policy) Option {
	return optionFunc(func(r *Registry) error {
		if err := r.addPolicies([]Policy{p}); err != nil {
			return err
		}
		r.def = p.Name
		return nil
	})
}

// WithHooks adds a set of hooks called for every guard of the registry.
func WithHooks(h Hooks) Option {
	return optionFunc(func(r *Registry) error {
		r.hookSets = append(r.hookSets, hookSet{id: new(int), h: h})
		r.publishHooksLocked()
		return nil
	})
}

// WithFallback registers a fallback under name, for policies to use in
// their Fallbacks list. It is called with the failure's cause and returns
// the value to use instead; its result must have the type the guarded
// function returns (core.Do converts it, failing clearly when it does not).
func WithFallback(name string, fn fallback.Func) Option {
	return optionFunc(func(r *Registry) error {
		if name == "" || fn == nil {
			return errors.New("core: WithFallback needs a name and a function")
		}
		r.fallback[name] = fn
		return nil
	})
}

// WithProfilerLabels makes every guard run its functions under runtime/pprof
// labels, so CPU and goroutine profiles (and profilers that read pprof
// labels, such as Pyroscope and Datadog's) can be sliced by guard: the label
// "breakerbox_guard" carries the guard's name. extra, if not nil, is called
// per call for more label pairs (key, value, key, value...), for example the
// active span's id for span-to-profile linking (package otelbreaker provides
// one). Labels cost a few allocations per call: this is opt-in.
func WithProfilerLabels(extra func(ctx context.Context) []string) Option {
	return optionFunc(func(r *Registry) error {
		r.profile, r.labels = true, extra
		return nil
	})
}

// NewRegistry returns a registry configured by opts, or the first error an
// option reports (an invalid policy, a policy naming a fallback nobody
// registered). Without policies every guard gets the built-in defaults
// (see breaker.Config).
func NewRegistry(opts ...Option) (*Registry, error) {
	r := &Registry{policies: map[string]Policy{}, def: DefaultPolicyName, fallback: map[string]fallback.Func{}, retired: map[string]weak.Pointer[Guard]{}, followers: &followers{}}
	for _, o := range opts {
		if err := o.apply(r); err != nil {
			return nil, err
		}
	}
	if err := r.checkFallbacks(r.order); err != nil {
		return nil, err
	}
	return r, nil
}

// checkFallbacks reports a policy that names an unregistered fallback, at
// start-up rather than at the first call.
func (r *Registry) checkFallbacks(names []string) error {
	for _, n := range names {
		p, err := resolve(r.policies, n)
		if err != nil {
			return err
		}
		for i, ref := range p.Fallbacks {
			if _, ok := r.fallback[ref.Name]; !ok {
				return &PolicyError{Policy: n, Err: fmt.Errorf("fallbacks[%d].name: no fallback registered as %q (see WithFallback)", i, ref.Name)}
			}
		}
	}
	return nil
}

// SetPolicies adds or replaces policies. Guards that exist keep the policy
// they were built with; new guards use the new policies. All policies are
// validated first, and none is added if one is invalid.
//
// SetPolicies is the start-up and programmatic way to add policies. To
// change policies at run time use Apply, which replaces the whole set with
// a checked document, reconfigures the guards that exist and numbers the
// version; SetPolicies changes neither the live version nor existing
// guards, and its policies are replaced by the next Apply.
func (r *Registry) SetPolicies(ps ...Policy) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	old, order := r.policies, r.order
	if err := r.addPolicies(ps); err != nil {
		return err
	}
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Name
	}
	if err := r.checkFallbacks(names); err != nil {
		r.policies, r.order = old, order
		r.syncDependencyHookLocked()
		return err
	}
	return nil
}

func (r *Registry) addPolicies(ps []Policy) error {
	next := make(map[string]Policy, len(r.policies)+len(ps))
	for k, v := range r.policies {
		next[k] = v
	}
	order := slices.Clone(r.order)
	for _, p := range ps {
		// A policy is validated merged with its Extends chain (by resolve,
		// below), not on its own: a child may leave a parent's required
		// field to the parent.
		if err := p.validateOwn(); err != nil {
			return err
		}
		if _, ok := next[p.Name]; !ok {
			order = append(order, p.Name)
		}
		next[p.Name] = p
	}
	for _, p := range ps {
		if _, err := resolve(next, p.Name); err != nil {
			return err
		}
	}
	if err := r.dependencyErrLocked(next, order); err != nil { // dependency.go
		return err
	}
	r.policies, r.order = next, order
	r.syncDependencyHookLocked()
	return nil
}

// resolve returns the named policy with its Extends chain applied, validated.
func resolve(ps map[string]Policy, name string) (Policy, error) {
	out, err := merged(ps, name)
	if err != nil {
		return Policy{}, err
	}
	if err := out.Validate(); err != nil {
		return Policy{}, err
	}
	return out, nil
}

// merged returns the named policy with its Extends chain applied, not
// validated. A parent is looked up among ps first; a parent named
// "preset:<name>" that ps does not hold is the built-in preset <name>.
func merged(ps map[string]Policy, name string) (Policy, error) {
	p, ok := ps[name]
	if !ok {
		return Policy{}, fmt.Errorf("core: unknown policy %q", name)
	}
	if p.Extends == "" {
		return p, nil
	}
	seen := []string{name}
	out := p
	for parent := p.Extends; parent != ""; {
		if slices.Contains(seen, parent) {
			return Policy{}, &PolicyError{Policy: name, Err: fmt.Errorf("extends: cycle %s -> %s", strings.Join(seen, " -> "), parent)}
		}
		pp, ok := ps[parent]
		if !ok && strings.HasPrefix(parent, PresetPrefix) {
			preset := strings.TrimPrefix(parent, PresetPrefix)
			if pp, ok = Preset(preset); !ok {
				return Policy{}, &PolicyError{Policy: name, Err: fmt.Errorf("extends: unknown preset %q (%s)", preset, knownPresets())}
			}
		}
		if !ok {
			return Policy{}, &PolicyError{Policy: name, Err: fmt.Errorf("extends: unknown policy %q", parent)}
		}
		seen = append(seen, parent)
		out = inherit(out, pp)
		parent = pp.Extends
	}
	out.Extends = p.Extends
	return out, nil
}

// knownPresets lists the built-in presets for an error message.
func knownPresets() string {
	names := PresetNames()
	for i, n := range names {
		names[i] = PresetPrefix + n
	}
	if len(names) == 0 {
		return "no presets are built in"
	}
	slices.Sort(names)
	return "known: " + strings.Join(names, ", ")
}

// Policy returns the named policy with its Extends chain resolved.
func (r *Registry) Policy(name string) (Policy, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return resolve(r.policies, name)
}

// Policies returns the registry's policies as added, unresolved, in order.
func (r *Registry) Policies() []Policy {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Policy, 0, len(r.order))
	for _, n := range r.order {
		out = append(out, r.policies[n])
	}
	return out
}

// policyFor picks the policy for a new guard.
func (r *Registry) policyFor(name, explicit string) (Policy, error) {
	if explicit != "" {
		return resolve(r.policies, explicit)
	}
	if _, ok := r.policies[name]; ok {
		return resolve(r.policies, name)
	}
	for _, n := range r.order {
		if p := r.policies[n]; p.matches(name) {
			return resolve(r.policies, n)
		}
	}
	if _, ok := r.policies[r.def]; ok {
		return resolve(r.policies, r.def)
	}
	return Policy{Name: DefaultPolicyName}, nil
}

// PolicyFor returns the resolved policy a guard called name has (when it
// exists) or would get from Guard, and whether that policy was chosen for
// the name (an existing guard, a policy of that name or a matching pattern)
// rather than being the registry's default.
func (r *Registry) PolicyFor(name string) (p Policy, matched bool, err error) {
	if g, ok := r.Lookup(name); ok {
		return g.Policy(), true, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.policies[name]; ok {
		p, err = resolve(r.policies, name)
		return p, err == nil, err
	}
	for _, n := range r.order {
		if pol := r.policies[n]; pol.matches(name) {
			p, err = resolve(r.policies, n)
			return p, err == nil, err
		}
	}
	p, err = r.policyFor(name, "")
	return p, false, err
}

// GuardOption configures a guard when Registry.Guard creates it; options
// are ignored when the guard already exists.
type GuardOption interface{ applyGuard(*guardConfig) }

type guardConfig struct {
	policy     string
	tags       []string
	classifier breaker.Classifier
	resolved   *Policy // a tenant or variant guard's policy (segment.go)
}

type guardOptionFunc func(*guardConfig)

func (f guardOptionFunc) applyGuard(c *guardConfig) { f(c) }

// UsePolicy makes a new guard use the named policy instead of the one its
// name matches. The guard keeps to that name across Registry.Apply: it runs
// the new document's policy of that name, or, if the document has none,
// keeps the policy it had (ApplyResult.Orphaned lists such guards).
func UsePolicy(name string) GuardOption {
	return guardOptionFunc(func(c *guardConfig) { c.policy = name })
}

// WithTags adds tags to a new guard, besides its policy's.
func WithTags(tags ...string) GuardOption {
	return guardOptionFunc(func(c *guardConfig) { c.tags = append(c.tags, tags...) })
}

// WithClassifier sets a new guard's breaker classifier (adapters use it for
// status codes). The guard keeps it across Registry.Apply.
func WithClassifier(c breaker.Classifier) GuardOption {
	return guardOptionFunc(func(cfg *guardConfig) { cfg.classifier = c })
}

// Guard returns the guard called name, creating it from its policy on
// first use. It fails only for an empty name or an unknown explicit policy.
func (r *Registry) Guard(name string, opts ...GuardOption) (*Guard, error) {
	if g, ok := r.guards.Load(name); ok {
		return g.(*Guard), nil
	}
	g, err := r.create(name, opts)
	if err == nil {
		r.guardCreated(g) // dependency.go
	}
	return g, err
}

// MustGuard is Guard for names known at compile time: it panics on error.
func (r *Registry) MustGuard(name string, opts ...GuardOption) *Guard {
	g, err := r.Guard(name, opts...)
	if err != nil {
		panic(err)
	}
	return g
}

func (r *Registry) create(name string, opts []GuardOption) (*Guard, error) {
	if name == "" {
		return nil, errors.New("core: guard name must not be empty")
	}
	var cfg guardConfig
	for _, o := range opts {
		o.applyGuard(&cfg)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if g, ok := r.guards.Load(name); ok {
		return g.(*Guard), nil
	}
	// A pruned guard that a caller still holds comes back, rather than a
	// second guard of the same name: two would each admit up to the
	// name's limits.
	if w, ok := r.retired[name]; ok {
		delete(r.retired, name)
		if g := w.Value(); g != nil {
			g.pruned.Store(false)
			g.hooks.Store(r.hooks)
			r.guards.Store(name, g)
			return g, nil
		}
	}
	p, err := r.policyFor(name, cfg.policy)
	if cfg.resolved != nil {
		p, err = *cfg.resolved, nil
	}
	if err != nil {
		return nil, err
	}
	spec := guardSpec{usePolicy: cfg.policy, tags: cfg.tags, classifier: cfg.classifier, profile: r.profile, labels: r.labels, chaos: r.chaos}
	g, err := newGuard(name, p, spec, r.fallback)
	if err != nil {
		return nil, err
	}
	g.hooks.Store(r.hooks)
	g.seenAt.Store(time.Now().UnixNano())
	r.guards.Store(name, g)
	return g, nil
}

// Lookup returns the guard called name if it exists; it never creates one.
func (r *Registry) Lookup(name string) (*Guard, bool) {
	g, ok := r.guards.Load(name)
	if !ok {
		return nil, false
	}
	return g.(*Guard), true
}

// AddHooks adds a set of hooks to every guard, existing and future. The
// returned function removes them again (calling it more than once does
// nothing more).
func (r *Registry) AddHooks(h Hooks) (remove func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := new(int)
	r.hookSets = append(r.hookSets, hookSet{id: id, h: h})
	r.publishHooksLocked()
	return func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.hookSets = slices.DeleteFunc(r.hookSets, func(s hookSet) bool { return s.id == id })
		r.publishHooksLocked()
	}
}

type hookSet struct {
	id *int
	h  Hooks
}

func (r *Registry) publishHooksLocked() {
	sets := make([]Hooks, len(r.hookSets))
	for i, s := range r.hookSets {
		sets[i] = s.h
	}
	r.hooks = composeHooks(sets)
	r.guards.Range(func(_, v any) bool {
		v.(*Guard).hooks.Store(r.hooks)
		return true
	})
}

// Selector picks guards for an operation: by name, by tag (a group), or
// all. Build one with Name, Tag or All.
type Selector struct {
	name, tag string
	all       bool
}

// Name selects the guard called name; operations fail with ErrUnknownGuard
// when it does not exist.
func Name(name string) Selector { return Selector{name: name} }

// Tag selects every guard carrying tag; it may select none.
func Tag(tag string) Selector { return Selector{tag: tag} }

// All selects every guard.
func All() Selector { return Selector{all: true} }

// String describes the selector: `name "x"`, `tag "y"` or `all`.
func (s Selector) String() string {
	switch {
	case s.all:
		return "all"
	case s.tag != "":
		return "tag " + quote(s.tag)
	}
	return "name " + quote(s.name)
}

// Guards returns the selected guards sorted by name. A Name selector for an
// unknown guard returns an error wrapping ErrUnknownGuard.
func (r *Registry) Guards(sel Selector) ([]*Guard, error) {
	if !sel.all && sel.tag == "" {
		g, ok := r.Lookup(sel.name)
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownGuard, sel.name)
		}
		return []*Guard{g}, nil
	}
	var out []*Guard
	r.guards.Range(func(_, v any) bool {
		g := v.(*Guard)
		if sel.all || g.HasTag(sel.tag) {
			out = append(out, g)
		}
		return true
	})
	slices.SortFunc(out, func(a, b *Guard) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// Change is the result of a manual operation on one guard.
type Change struct {
	Guard string
	breaker.Transition
}

func (r *Registry) apply(sel Selector, op func(*Guard) breaker.Transition) ([]Change, error) {
	gs, err := r.Guards(sel)
	if err != nil {
		return nil, err
	}
	out := make([]Change, 0, len(gs))
	for _, g := range gs {
		out = append(out, Change{Guard: g.name, Transition: op(g)})
	}
	return out, nil
}

// ForceOpen forces the selected guards' breakers open until released.
func (r *Registry) ForceOpen(sel Selector, m breaker.Manual) ([]Change, error) {
	return r.apply(sel, func(g *Guard) breaker.Transition { return g.ForceOpen(m) })
}

// OpenFor opens the selected guards' breakers for d, after which they probe.
func (r *Registry) OpenFor(sel Selector, d time.Duration, m breaker.Manual) ([]Change, error) {
	return r.apply(sel, func(g *Guard) breaker.Transition { return g.OpenFor(d, m) })
}

// Disable forces the selected guards' breakers closed until released.
func (r *Registry) Disable(sel Selector, m breaker.Manual) ([]Change, error) {
	return r.apply(sel, func(g *Guard) breaker.Transition { return g.Disable(m) })
}

// MetricsOnly puts the selected guards' breakers in metrics-only mode.
func (r *Registry) MetricsOnly(sel Selector, m breaker.Manual) ([]Change, error) {
	return r.apply(sel, func(g *Guard) breaker.Transition { return g.MetricsOnly(m) })
}

// Reset clears the selected guards' breaker windows.
func (r *Registry) Reset(sel Selector, m breaker.Manual) ([]Change, error) {
	return r.apply(sel, func(g *Guard) breaker.Transition { return g.Reset(m) })
}

// Release returns the selected guards' breakers to automatic operation.
func (r *Registry) Release(sel Selector, m breaker.Manual) ([]Change, error) {
	return r.apply(sel, func(g *Guard) breaker.Transition { return g.Release(m) })
}

// Snapshot returns a copy of every guard's state and counters, sorted by
// name. It is the source for exporters, the admin API and the dashboard.
func (r *Registry) Snapshot() []GuardSnapshot {
	return r.snapshotAt(time.Now())
}

func (r *Registry) snapshotAt(now time.Time) []GuardSnapshot {
	// No lock: the guard list is read from the concurrent map, and each
	// guard is copied on its own, so creating guards never waits for a
	// snapshot of a large registry.
	gs, _ := r.Guards(All())
	out := make([]GuardSnapshot, len(gs))
	for i, g := range gs {
		out[i] = g.Snapshot()
		observe(g, &out[i], now)
	}
	return out
}

// observe records when a guard was last seen active. Activity is detected
// by comparing counters between observations (Snapshot and Prune), so no
// call pays for a clock read.
func observe(g *Guard, s *GuardSnapshot, now time.Time) {
	if a := s.activity(); g.seenActivity.Swap(a) != a {
		g.seenAt.Store(now.UnixNano())
	}
}

// Prune removes guards that saw no call for at least idle, and returns
// their names, sorted. A guard is idle when its counters did not move
// between observations (every Snapshot and Prune observes) spanning idle,
// so a guard is pruned at the earliest on the second observation after it
// fell silent. Guards in a manual state, with calls in flight, or open are
// never pruned.
//
// A pruned guard is retired, not broken: a caller that still holds it can
// use it, and while anyone does, the registry hands that same guard out
// again for its name, so its limits (a bulkhead's, a rate limit's) hold
// across a prune. Once nobody holds it, the name gets a fresh guard.
func (r *Registry) Prune(idle time.Duration) []string { return r.PruneAt(time.Now(), idle) }

// PruneAt is Prune at the explicit time now.
func (r *Registry) PruneAt(now time.Time, idle time.Duration) []string {
	return r.prune(now, idle, true)
}

// IdleAt lists, sorted, the guards PruneAt(now, idle) would remove, without
// removing them (a dry run). It observes the guards as PruneAt does.
func (r *Registry) IdleAt(now time.Time, idle time.Duration) []string {
	return r.prune(now, idle, false)
}

func (r *Registry) prune(now time.Time, idle time.Duration, remove bool) []string {
	gs, _ := r.Guards(All())
	var out []*Guard
	for _, g := range gs {
		s := g.Snapshot()
		observe(g, &s, now)
		b := &s.Breaker
		st := b.State
		busy := b.Admitted > b.Succeeded+b.Failed+b.Ignored || s.Bulkhead != nil && (s.Bulkhead.InUse > 0 || s.Bulkhead.Queued > 0)
		if b.Manual || st == breaker.Open || busy || now.Sub(time.Unix(0, g.seenAt.Load())) < idle {
			continue
		}
		out = append(out, g)
	}
	names := make([]string, 0, len(out))
	if !remove {
		for _, g := range out {
			names = append(names, g.name)
		}
		return names
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range out {
		if !r.guards.CompareAndDelete(g.name, g) {
			continue
		}
		g.pruned.Store(true)
		r.retired[g.name] = weak.Make(g)
		runtime.AddCleanup(g, r.forget, g.name)
		names = append(names, g.name)
	}
	r.prunes.Add(uint64(len(names)))
	return names
}

// forget drops a retired guard's entry once the guard is collected.
func (r *Registry) forget(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.retired[name]; ok && w.Value() == nil {
		delete(r.retired, name)
	}
}
