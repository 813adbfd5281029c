package core

// Dependencies between circuits (issue #23).
//
// A policy's DependsOn names guards its guards depend on. The registry
// follows dependencies with one OnStateChange hook, installed only while
// some policy has DependsOn, so the call path of a registry without
// dependencies pays nothing, and one with them pays only on state changes.
//
// The hook queues the guard that changed; whichever goroutine finds the
// queue idle drains it, one change at a time, and for each reads the
// dependencies' current states (not the event's), so that changes of
// different guards reported out of order by different goroutines still
// leave every dependent as its dependencies' states say. Opening or
// releasing a dependent reports a change of its own, which is queued and
// handled by the same drain: a chain (checkout -> orders -> postgres) opens
// link by link.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// DependencyActor is the actor of the manual changes the registry makes to
// follow dependencies: a dependent forced open because its dependency is
// open ("dependency postgres open") and released when it recovers.
const DependencyActor = "dependency"

// Recovery rules of Policy.DependencyRecovery.
const (
	// RecoveryFollow closes a dependent when none of its dependencies is
	// open any more (the default).
	RecoveryFollow = "follow"
	// RecoveryOwn opens a dependent for its breaker's open duration; it then
	// probes as after a trip of its own, whatever the dependency does.
	RecoveryOwn = "own"
)

// checkDependencies checks the policy's own dependency fields.
func (p *Policy) checkDependencies() error {
	var errs []error
	for i, d := range p.DependsOn {
		if strings.TrimSpace(d) == "" {
			errs = append(errs, fmt.Errorf("dependsOn[%d]: %q must name a guard", i, d))
		}
		if slices.Index(p.DependsOn, d) < i {
			errs = append(errs, fmt.Errorf("dependsOn[%d]: %q is listed twice", i, d))
		}
	}
	switch p.DependencyRecovery {
	case "", RecoveryFollow, RecoveryOwn:
	default:
		errs = append(errs, fmt.Errorf("dependencyRecovery: %q is not \"follow\" or \"own\"", p.DependencyRecovery))
	}
	return errors.Join(errs...)
}

// down reports whether a dependency in state s counts as open.
func down(s breaker.State) bool {
	return s == breaker.Open || s == breaker.ForcedOpen || s == breaker.HalfOpen
}

// depGraph answers, for a set of policies, which guards a guard called
// name depends on.
type depGraph struct {
	edges func(name string) []string
}

// cycle returns a dependency cycle reachable from any of starts, as
// "a -> b -> a", or "".
func (g depGraph) cycle(starts []string) string {
	const (
		visiting = 1
		done     = 2
	)
	mark := map[string]int{}
	var path []string
	var visit func(n string) string
	visit = func(n string) string {
		switch mark[n] {
		case visiting:
			i := slices.Index(path, n)
			return strings.Join(append(slices.Clone(path[i:]), n), " -> ")
		case done:
			return ""
		}
		mark[n] = visiting
		path = append(path, n)
		for _, d := range g.edges(n) {
			if c := visit(d); c != "" {
				return c
			}
		}
		path = path[:len(path)-1]
		mark[n] = done
		return ""
	}
	for _, s := range starts {
		if c := visit(s); c != "" {
			return c
		}
	}
	return ""
}

// knownTarget reports whether a dependsOn name is a policy, a name one of
// the policies' Match patterns matches, or an existing guard.
func (r *Registry) knownTarget(ps map[string]Policy, order []string, name string) bool {
	if _, ok := ps[name]; ok {
		return true
	}
	for _, n := range order {
		if p := ps[n]; p.matches(name) {
			return true
		}
	}
	_, ok := r.Lookup(name)
	return ok
}

// dependencyProblems checks the dependencies of a checked document: every
// dependsOn name known, no cycle.
func (r *Registry) dependencyProblems(doc Document, c *checkedDocument) []Problem {
	var probs []Problem
	// Dependencies belong to a guard's name, not to a segment of its calls.
	if doc.Tenants != nil {
		for i, o := range doc.Tenants.Overrides {
			for j, p := range o.Policies {
				if len(p.DependsOn) > 0 || p.DependencyRecovery != "" {
					probs = append(probs, Problem{Path: fmt.Sprintf("tenants.overrides[%d].policies[%d].dependsOn", i, j), Value: strconv.Quote(strings.Join(p.DependsOn, ",")), Message: "dependencies are not allowed in a tenant overlay; set them on the policy"})
				}
			}
		}
	}
	for i, v := range doc.Variants {
		if len(v.Override.DependsOn) > 0 || v.Override.DependencyRecovery != "" {
			probs = append(probs, Problem{Path: fmt.Sprintf("variants[%d].override.dependsOn", i), Value: strconv.Quote(strings.Join(v.Override.DependsOn, ",")), Message: "dependencies are not allowed in a variant; set them on the policy"})
		}
	}
	var starts []string
	for _, n := range c.order {
		i := c.index[n]
		for j, d := range c.resolved[n].DependsOn {
			if !r.knownTarget(c.policies, c.order, d) {
				probs = append(probs, Problem{Path: fmt.Sprintf("policies[%d].dependsOn[%d]", i, j), Value: strconv.Quote(d),
					Message: fmt.Sprintf("%q is no policy of the document, no name its patterns match and no existing guard", d)})
			}
		}
		if len(c.resolved[n].DependsOn) > 0 {
			starts = append(starts, n)
		}
	}
	if len(probs) > 0 || len(starts) == 0 {
		return probs
	}
	g := depGraph{edges: func(name string) []string {
		explicit := ""
		if gd, ok := r.Lookup(name); ok {
			explicit = gd.usePolicy
		}
		p, _ := c.policyFor(name, explicit, r.def)
		return p.DependsOn
	}}
	if cyc := g.cycle(starts); cyc != "" {
		first, _, _ := strings.Cut(cyc, " -> ")
		i := c.index[first]
		path := "policies[" + strconv.Itoa(i) + "].dependsOn"
		if _, ok := c.index[first]; !ok {
			path = "dependsOn"
		}
		probs = append(probs, Problem{Path: path, Value: strconv.Quote(cyc), Message: "dependency cycle " + cyc})
	}
	return probs
}

// dependencyErrLocked checks the registry's own policies (SetPolicies,
// WithPolicies) as dependencyProblems checks a document.
func (r *Registry) dependencyErrLocked(ps map[string]Policy, order []string) error {
	var starts []string
	for _, n := range order {
		p, err := merged(ps, n)
		if err != nil {
			return err
		}
		for j, d := range p.DependsOn {
			if !r.knownTarget(ps, order, d) {
				return &PolicyError{Policy: n, Err: fmt.Errorf("dependsOn[%d]: %q is no policy, no name a policy's patterns match and no existing guard", j, d)}
			}
		}
		if len(p.DependsOn) > 0 {
			starts = append(starts, n)
		}
	}
	g := depGraph{edges: func(name string) []string {
		explicit := ""
		if gd, ok := r.Lookup(name); ok {
			explicit = gd.usePolicy
		}
		return policyIn(ps, order, r.def, name, explicit).DependsOn
	}}
	if cyc := g.cycle(starts); cyc != "" {
		first, _, _ := strings.Cut(cyc, " -> ")
		return &PolicyError{Policy: first, Err: fmt.Errorf("dependsOn: dependency cycle %s", cyc)}
	}
	return nil
}

// policyIn picks from ps the policy of a guard called name, by the rule of
// Registry.policyFor, merged with its parents (zero when it does not
// resolve).
func policyIn(ps map[string]Policy, order []string, def, name, explicit string) Policy {
	pick := def
	switch {
	case explicit != "":
		pick = explicit
	case ps[name].Name != "":
		pick = name
	default:
		for _, n := range order {
			if p := ps[n]; p.matches(name) {
				pick = n
				break
			}
		}
	}
	p, _ := merged(ps, pick)
	return p
}

// syncDependencyHookLocked installs the dependency hook when some policy
// has DependsOn, and removes it when none has.
func (r *Registry) syncDependencyHookLocked() {
	targets := map[string]bool{}
	for _, n := range r.order {
		if p, err := merged(r.policies, n); err == nil {
			for _, d := range p.DependsOn {
				targets[d] = true
			}
		}
	}
	hasDeps := len(targets) > 0
	t := r.deps.Load()
	if t != nil {
		t.targets.Store(&targets)
	}
	installed := t != nil && t.hookID != nil
	switch {
	case hasDeps && !installed:
		if t == nil {
			t = &depTracker{r: r, marks: map[string]depMark{}}
			t.targets.Store(&targets)
			r.deps.Store(t)
		}
		t.hookID = new(int)
		r.hookSets = append(r.hookSets, hookSet{id: t.hookID, h: Hooks{OnStateChange: t.onStateChange}})
		r.publishHooksLocked()
	case !hasDeps && installed:
		id := t.hookID
		t.hookID = nil
		r.hookSets = slices.DeleteFunc(r.hookSets, func(s hookSet) bool { return s.id == id })
		r.publishHooksLocked()
	}
}

// depTracker follows dependencies for a registry.
type depTracker struct {
	r       *Registry
	hookID  *int                            // the hook set's id while installed; guarded by Registry.mu
	targets atomic.Pointer[map[string]bool] // the names some policy depends on

	mu       sync.Mutex // guards the fields below
	queue    []depEvent
	draining bool
	marks    map[string]depMark // dependents the tracker opened, by name
}

// depEvent is a change to handle: a guard's state changed (by actor), or
// a dependent was created (created true).
type depEvent struct {
	guard   string
	actor   string
	created bool
}

// depMark records why the tracker opened a dependent.
type depMark struct {
	dep string // the dependency found open
	own bool   // recovery "own": the dependent's breaker recovers it
}

func (t *depTracker) onStateChange(_ context.Context, e StateChange) {
	t.push(depEvent{guard: e.Guard, actor: e.Actor})
}

// push queues e and drains the queue unless another goroutine is.
func (t *depTracker) push(e depEvent) {
	t.mu.Lock()
	t.queue = append(t.queue, e)
	if t.draining {
		t.mu.Unlock()
		return
	}
	t.draining = true
	for len(t.queue) > 0 {
		e := t.queue[0]
		t.queue = t.queue[1:]
		t.mu.Unlock()
		t.handle(e)
		t.mu.Lock()
	}
	t.draining = false
	t.mu.Unlock()
}

func (t *depTracker) handle(e depEvent) {
	if e.created {
		if g, ok := t.r.Lookup(e.guard); ok {
			t.reconcile(g)
		}
		return
	}
	if e.actor != DependencyActor {
		// Someone else (an operator, the breaker's own timer or window)
		// changed a dependent the tracker opened: it is theirs now.
		t.mu.Lock()
		delete(t.marks, e.guard)
		t.mu.Unlock()
	}
	if !(*t.targets.Load())[e.guard] {
		return // nothing depends on it: no need to look at every guard
	}
	gs, _ := t.r.Guards(All())
	for _, g := range gs {
		if slices.Contains(g.Policy().DependsOn, e.guard) {
			t.reconcile(g)
		}
	}
}

// reconcile opens or releases dependent g as its dependencies' current
// states say.
func (t *depTracker) reconcile(g *Guard) {
	p := g.Policy()
	open := ""
	for _, d := range p.DependsOn {
		if dg, ok := t.r.Lookup(d); ok && down(dg.br.State()) {
			open = d
			break
		}
	}
	t.mu.Lock()
	m, marked := t.marks[g.name]
	switch {
	case open != "" && marked:
		m.dep = open
		t.marks[g.name] = m
		t.mu.Unlock()
	case open != "":
		if g.br.State() != breaker.Closed {
			// Open on its own, or in an operator's manual state: left alone.
			t.mu.Unlock()
			return
		}
		own := p.DependencyRecovery == RecoveryOwn
		t.marks[g.name] = depMark{dep: open, own: own}
		t.mu.Unlock()
		man := breaker.Manual{Actor: DependencyActor, Reason: "dependency " + open + " open"}
		if own {
			g.br.OpenFor(g.br.Config().OpenDuration, man)
		} else {
			g.br.ForceOpen(man)
		}
	case marked && !m.own:
		dep := m.dep
		delete(t.marks, g.name)
		t.mu.Unlock()
		g.br.Release(breaker.Manual{Actor: DependencyActor, Reason: "dependency " + dep + " recovered"})
	default:
		t.mu.Unlock()
	}
}

// guardCreated opens a new dependent whose dependency is already open.
func (r *Registry) guardCreated(g *Guard) {
	if t := r.deps.Load(); t != nil && len(g.Policy().DependsOn) > 0 {
		t.push(depEvent{guard: g.name, created: true})
	}
}

// recheckDependents brings every dependent in line with its dependencies
// after an Apply, which may have added or changed a guard's dependsOn.
func (r *Registry) recheckDependents() {
	if r.deps.Load() == nil {
		return
	}
	gs, _ := r.Guards(All())
	for _, g := range gs {
		r.guardCreated(g)
	}
}

// Causes returns why the guard called name is open because of its
// dependencies: the chain of guards from its dependency to the root cause
// ("orders", "postgres" for checkout opened because orders is open because
// postgres is). It is empty for a guard that no dependency opened, or that
// has been released or changed since.
func (r *Registry) Causes(name string) []string {
	t := r.deps.Load()
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for m, ok := t.marks[name]; ok && !slices.Contains(out, m.dep); m, ok = t.marks[m.dep] {
		out = append(out, m.dep)
	}
	return out
}

// Dependency is one edge of the dependency graph: guard Guard depends on
// guard On.
type Dependency struct {
	Guard, On string
}

// Dependencies returns the dependency edges of the existing guards, sorted:
// each guard's policy's DependsOn.
func (r *Registry) Dependencies() []Dependency {
	gs, _ := r.Guards(All())
	var out []Dependency
	for _, g := range gs {
		for _, d := range g.Policy().DependsOn {
			out = append(out, Dependency{Guard: g.name, On: d})
		}
	}
	return out
}
