package core

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
)

// Document is a whole policy document, what a policy file holds: the
// policies of a service, its tenant overlays and its variants. It is plain
// data with the same JSON form as a YAML document (package policyfile reads
// both); Registry.Apply makes one live as a whole or refuses it.
type Document struct {
	// Schema is the JSON Schema the document follows, for editors
	// ("$schema"); it is not checked here.
	Schema string `json:"$schema,omitempty"`
	// Policies are the document's policies, in order (the order decides
	// which Match pattern wins). A policy may extend another of the
	// document or a preset ("preset:stripe").
	Policies []Policy `json:"policies"`
	// Tenants configures per-tenant overlays; nil means none.
	Tenants *TenantPolicy `json:"tenants,omitempty"`
	// Variants are A/B and shadow variants of the document's policies.
	Variants []VariantPolicy `json:"variants,omitempty"`
	// Maintenance are maintenance windows (see MaintenanceWindow); the
	// registry must have a maintenance scheduler following it.
	Maintenance []MaintenanceWindow `json:"maintenance,omitempty"`
	// Chaos are chaos experiments (see ChaosExperiment); the registry must
	// be built with WithChaos.
	Chaos []ChaosExperiment `json:"chaos,omitempty"`
}

// TenantPolicy configures per-tenant guards: a guard called for a tenant
// that has an overlay gets a guard of its own, built from the guard's policy
// with the overlay applied.
type TenantPolicy struct {
	// MaxGuards bounds the tenant guards that may exist at once. Default
	// 1000. Past it, a call for a new tenant uses the guard without an
	// overlay (counted; see the package documentation).
	MaxGuards int `json:"maxGuards,omitempty"`
	// Overrides are the tenants' overlays.
	Overrides []TenantOverride `json:"overrides,omitempty"`
}

// TenantOverride is one tenant's overlay on some of the document's
// policies.
type TenantOverride struct {
	// Tenant is the tenant key, as the adapter's key function returns it;
	// "*" applies to every tenant without an overlay of its own.
	Tenant string `json:"tenant"`
	// Policies overlay the policies of the same name: each field set here
	// replaces the policy's (Extends and Match are not allowed).
	Policies []Policy `json:"policies"`
}

// VariantPolicy is a variant of one policy for a segment of calls: a share
// of segment keys chosen by a stable hash, or the calls whose context
// carries an attribute. A shadow variant's verdicts are recorded, never
// enforced.
type VariantPolicy struct {
	// Name identifies the variant; required, unique in the document.
	Name string `json:"name"`
	// Policy names the control policy the variant varies; required.
	Policy string `json:"policy"`
	// Percent is the share of segment keys (0-100] that get the variant,
	// chosen by a stable hash of the key.
	Percent float64 `json:"percent,omitempty"`
	// Attribute selects the calls whose context carries this segment
	// attribute instead of (or besides) Percent.
	Attribute string `json:"attribute,omitempty"`
	// Shadow records the variant's verdicts without enforcing them.
	Shadow bool `json:"shadow,omitempty"`
	// Override holds the fields in which the variant differs from the
	// control policy (Name, Extends and Match are not allowed).
	Override Policy `json:"override"`
}

// Problem is one thing wrong with a policy document: where it is, which
// field, which value, and what is wrong.
type Problem struct {
	// File, Line and Column locate the problem in its source, when known
	// (Line and Column count from 1; 0 means unknown).
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Column int    `json:"column,omitempty"`
	// Path is the field's path in the document, such as
	// "policies[3].breaker.openDuration".
	Path string `json:"path,omitempty"`
	// Value is the offending value as written, when there is one.
	Value string `json:"value,omitempty"`
	// Message says what is wrong.
	Message string `json:"message"`
}

// String formats the problem as file:line:column: path: message (value).
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteByte(':')
	}
	if p.Line > 0 {
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Column))
		b.WriteByte(':')
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Value != "" && !strings.Contains(p.Message, p.Value) {
		b.WriteString(" (value ")
		b.WriteString(p.Value)
		b.WriteByte(')')
	}
	return b.String()
}

// DocumentError is a refused policy document: every problem found, not just
// the first. Nothing of a refused document is applied.
type DocumentError struct {
	Problems []Problem
}

// Error lists the problems, one a line.
func (e *DocumentError) Error() string {
	if len(e.Problems) == 1 {
		return "core: policy document refused: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "core: policy document refused (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// ApplyResult says what Registry.Apply changed.
type ApplyResult struct {
	// Version is the live version after the apply; Hash is the document's
	// content hash (see Document.Hash).
	Version uint64
	Hash    string
	// Policies added, changed, removed and left as they were, by name.
	Added, Changed, Removed, Unchanged []string
	// Reconfigured lists, sorted, the guards whose resolved policy changed
	// and that run the new one now; the other guards were left untouched.
	Reconfigured []string
	// Orphaned lists, sorted, the guards created with UsePolicy naming a
	// policy the document does not have: they keep the policy they had.
	Orphaned []string
}

// Hash returns the document's content hash: "sha256:" and the hex digest of
// its canonical JSON encoding, so equal documents hash equal whatever their
// source format or layout.
func (d Document) Hash() string { return hashOf(d.canonical()) }

// hashOf returns the content hash of a canonical encoding.
func hashOf(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// sectionKeys maps the package prefix of a primitive's configuration error
// to the policy section it describes.
var sectionKeys = map[string]string{"breaker": "breaker", "bulkhead": "bulkhead", "ratelimit": "rateLimit", "retry": "retry"}

// canonical returns the document's canonical JSON encoding.
func (d Document) canonical() []byte {
	b, err := json.Marshal(d)
	if err != nil { // cannot happen: every field encodes
		panic(err)
	}
	return b
}

// problemsOf turns a validation error of the policy at path into Problems,
// one for each error it joins, each at the field it names:
// "breaker: failureRate: 150 must be ..." at path becomes a problem at
// path.breaker.failureRate.
func problemsOf(path string, err error) []Problem {
	var pe *PolicyError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []Problem
		for _, e := range j.Unwrap() {
			out = append(out, problemsOf(path, e)...)
		}
		return out
	}
	p := Problem{Path: path}
	var ce *breaker.ConfigError
	if errors.As(err, &ce) {
		p.Value = fmt.Sprint(ce.Value)
	}
	msg := strings.TrimPrefix(err.Error(), "core: ")
	for first := true; ; first = false {
		sub, rest, ok := strings.Cut(msg, ": ")
		if !ok || sub == "" || strings.ContainsAny(sub, " \"'`") {
			break
		}
		if first {
			if k, ok := sectionKeys[sub]; ok {
				sub = k
			}
		}
		p.Path = joinJSONPath(p.Path, sub)
		msg = rest
	}
	p.Message = msg
	return []Problem{p}
}

// Check reports every problem with doc as a *DocumentError, without applying
// it: invalid policies (each merged with its Extends chain), duplicate
// names, unknown or cyclic parents, unknown presets, fallbacks the registry
// has no function for.
func (r *Registry) Check(doc Document) error {
	_, err := r.check(doc, len(doc.canonical()))
	return err
}

// checkedDocument is a document that passed its checks: its policies by
// name, their order, and each one resolved (merged with its Extends chain).
type checkedDocument struct {
	index    map[string]int // name -> position in the document
	policies map[string]Policy
	order    []string
	resolved map[string]Policy
}

// check checks doc, whose canonical JSON is size bytes long. It takes no
// lock: the registered fallbacks do not change after NewRegistry.
func (r *Registry) check(doc Document, size int) (*checkedDocument, error) {
	if n := size; n > MaxDocumentBytes {
		return nil, &DocumentError{Problems: []Problem{{Value: strconv.Itoa(n) + " bytes", Message: fmt.Sprintf("the document is %d bytes as JSON, over the limit of %d (MaxDocumentBytes)", n, MaxDocumentBytes)}}}
	}
	c, probs := checkDocument(doc, r.fallback)
	if len(probs) == 0 {
		probs = r.dependencyProblems(doc, c) // dependency.go
	}
	if len(probs) == 0 {
		probs = r.opsProblems(doc, c) // document_ops.go
	}
	if len(probs) > 0 {
		return nil, &DocumentError{Problems: probs}
	}
	return c, nil
}

// checkDocument checks doc on its own: every policy merged with its Extends
// chain, names, parents, presets, tenant overlays and variants; and, when
// fallbacks is not nil, that every fallback a policy names is registered.
func checkDocument(doc Document, fallbacks map[string]fallback.Func) (*checkedDocument, []Problem) {
	var probs []Problem
	c := &checkedDocument{
		policies: make(map[string]Policy, len(doc.Policies)),
		order:    make([]string, 0, len(doc.Policies)),
		resolved: make(map[string]Policy, len(doc.Policies)),
	}
	index := make(map[string]int, len(doc.Policies))
	c.index = index
	for i, p := range doc.Policies {
		path := "policies[" + strconv.Itoa(i) + "]"
		if p.Name == "" {
			probs = append(probs, Problem{Path: path + ".name", Message: "must not be empty"})
			continue
		}
		if j, ok := index[p.Name]; ok {
			probs = append(probs, Problem{Path: path + ".name", Value: strconv.Quote(p.Name), Message: fmt.Sprintf("duplicate policy name %q (policies[%d] has it already)", p.Name, j)})
			continue
		}
		index[p.Name] = i
		c.policies[p.Name] = p
		c.order = append(c.order, p.Name)
	}
	// Each policy is validated merged with its parents. A policy whose
	// parent in the document is invalid is reported once, at its extends,
	// rather than with the problems it inherits.
	own := map[string][]Problem{} // the policies with problems
	unmerged := map[string]bool{} // cycles, unknown parents and presets
	pathOf := func(i int) string { return "policies[" + strconv.Itoa(i) + "]" }
	for _, n := range c.order {
		i := index[n]
		p := &doc.Policies[i]
		var ps []Problem
		if err := p.validateOwn(); err != nil {
			ps = append(ps, problemsOf(pathOf(i), err)...)
		}
		m, err := merged(c.policies, n)
		if err != nil {
			unmerged[n] = true
			for _, q := range problemsOf(pathOf(i), err) {
				q.Value = strconv.Quote(p.Extends)
				ps = append(ps, q)
			}
		} else {
			for _, e := range m.problems() {
				ps = append(ps, problemsOf(pathOf(i), e)...)
			}
			if len(ps) == 0 {
				c.resolved[n] = m
			}
		}
		if len(ps) > 0 {
			own[n] = ps
		}
	}
	for _, n := range c.order {
		ps := own[n]
		if len(ps) > 0 {
			if bad := badAncestor(c.policies, own, n); bad != "" && !unmerged[n] {
				i := index[n]
				ps = []Problem{{Path: "policies[" + strconv.Itoa(i) + "].extends", Value: strconv.Quote(doc.Policies[i].Extends),
					Message: fmt.Sprintf("parent %q is invalid (policies[%d])", bad, index[bad])}}
			}
			probs = append(probs, ps...)
			continue
		}
		if fallbacks == nil {
			continue
		}
		for j, ref := range c.resolved[n].Fallbacks {
			if _, ok := fallbacks[ref.Name]; !ok {
				probs = append(probs, Problem{Path: fmt.Sprintf("%s.fallbacks[%d].name", pathOf(index[n]), j), Value: strconv.Quote(ref.Name), Message: fmt.Sprintf("no fallback registered as %q (see WithFallback)", ref.Name)})
			}
		}
	}
	probs = append(probs, checkSegments(doc, c.policies, fallbacks)...)
	probs = append(probs, checkOps(doc)...) // document_ops.go
	return c, probs
}

// badAncestor returns the nearest parent of name in ps that has problems
// of its own, or "".
func badAncestor(ps map[string]Policy, own map[string][]Problem, name string) string {
	seen := map[string]bool{name: true}
	for parent := ps[name].Extends; parent != "" && !seen[parent]; {
		pp, ok := ps[parent]
		if !ok {
			return ""
		}
		if len(own[parent]) > 0 {
			return parent
		}
		seen[parent] = true
		parent = pp.Extends
	}
	return ""
}

// ApplyOption configures one Registry.Apply.
type ApplyOption interface{ applyApply(*applyConfig) }

type applyConfig struct {
	version uint64
	actor   string // AppliedBy (document_ops.go)
}

type applyOptionFunc func(*applyConfig)

func (f applyOptionFunc) applyApply(c *applyConfig) { f(c) }

// AtVersion gives the applied document version v instead of the live
// version plus one, for a caller that numbers versions itself (package
// policy numbers them in its Store). v must be above the live version.
func AtVersion(v uint64) ApplyOption {
	return applyOptionFunc(func(c *applyConfig) { c.version = v })
}

// Apply makes doc the registry's whole set of policies, atomically: the
// document is checked whole (see Check) and either applied or refused with
// every problem listed, the policies before it staying live. The live
// version goes up by one with every applied document (or becomes
// AtVersion's); PolicyVersion reports it.
//
// Apply reconfigures the guards that exist: each one runs, from then on,
// the policy the document gives its name, by the rule that chose its
// policy when it was created (its UsePolicy name, else the policy of its
// name, else the first Match, else the default). A guard whose UsePolicy
// policy is not in doc keeps the policy it had (ApplyResult.Orphaned). Per
// guard:
//
//   - a resolved policy that did not change leaves the guard untouched;
//   - a changed breaker section reconfigures the breaker in place: its
//     state and cumulative counters are kept, and so is its window's
//     content when the window keeps its shape (kind, size, duration,
//     buckets); a window of a new shape starts empty (breaker.Reconfigure);
//   - a bulkhead or rate limit the new policy keeps changes its limits in
//     place, slots held and tokens spent staying counted;
//   - everything else (a bulkhead or rate limit added or removed, retry,
//     timeouts, fallbacks, tags, critical) is swapped atomically.
//
// No call fails because of Apply, and a call admitted before it reports to
// what admitted it. A call through an existing guard never waits for the
// registry's lock; it may wait for one guard's own reconfiguration (a few
// instructions under the breaker's lock, or while the rate limiter moves
// to its new limit). Creating a guard (the first call of a name) waits for
// the reconfiguration part of an Apply, a few milliseconds per thousand
// guards; the document is checked before that.
// Guards keep their WithClassifier classifier and WithTags tags.
func (r *Registry) Apply(doc Document, opts ...ApplyOption) (ApplyResult, error) {
	var cfg applyConfig
	for _, o := range opts {
		o.applyApply(&cfg)
	}
	// The document is checked before the registry is locked, so that
	// guards being created wait only for the reconfiguration.
	canonical := doc.canonical()
	hash := hashOf(canonical)
	c, err := r.check(doc, len(canonical))
	if err != nil {
		return ApplyResult{}, err
	}
	var applied *AppliedDocument // set once doc is live
	defer func() {
		if applied != nil {
			r.notifyFollowers(doc, *applied) // document_ops.go; after the unlock below
		}
	}()
	defer r.recheckDependents() // dependency.go; runs after the unlock below
	r.mu.Lock()
	defer r.mu.Unlock()
	if cfg.version != 0 && cfg.version <= r.version {
		return ApplyResult{}, &DocumentError{Problems: []Problem{{Message: fmt.Sprintf("version %d is not above the live version %d", cfg.version, r.version)}}}
	}
	res := ApplyResult{Hash: hash}
	plans, err := r.planReloadLocked(c, &res)
	if err != nil {
		return ApplyResult{}, err
	}
	for _, n := range c.order {
		old, ok := r.policies[n]
		switch {
		case !ok:
			res.Added = append(res.Added, n)
		case samePolicyValue(&old, &doc.Policies[c.index[n]]):
			res.Unchanged = append(res.Unchanged, n)
		default:
			res.Changed = append(res.Changed, n)
		}
	}
	for _, n := range r.order {
		if _, ok := c.policies[n]; !ok {
			res.Removed = append(res.Removed, n)
		}
	}
	r.policies, r.order = c.policies, c.order
	for _, pl := range plans {
		pl.commit()
		res.Reconfigured = append(res.Reconfigured, pl.g.name)
	}
	slices.Sort(res.Reconfigured)
	slices.Sort(res.Orphaned)
	r.version++
	if cfg.version != 0 {
		r.version = cfg.version
	}
	r.hash = hash
	r.doc = doc
	r.setSegments()
	r.syncDependencyHookLocked() // dependency.go
	res.Version = r.version
	r.appliedBy, r.appliedAt = cmp.Or(cfg.actor, PolicyActor), time.Now()
	applied = &AppliedDocument{Version: r.version, Hash: hash, Actor: r.appliedBy, At: r.appliedAt}
	return res, nil
}

// planReloadLocked plans the reload of every guard, those pruned but still
// held included, for the checked document c.
func (r *Registry) planReloadLocked(c *checkedDocument, res *ApplyResult) ([]*reloadPlan, error) {
	var plans []*reloadPlan
	var probs []Problem
	plan := func(g *Guard) {
		if _, tenant, variant := ParseGuardName(g.Policy().Name); tenant != "" || variant != "" {
			// A tenant or variant guard's policy is its base policy with
			// overlays, which no name or pattern gives: ForCall replaces
			// the guard on its next call when the new document changes
			// that policy (segment.go).
			return
		}
		p, ok := c.policyFor(g.name, g.usePolicy, r.def)
		if !ok {
			res.Orphaned = append(res.Orphaned, g.name)
			return
		}
		pl, err := g.planReload(p, r.fallback)
		if err != nil {
			probs = append(probs, problemsOf("guard "+quote(g.name), err)...)
			return
		}
		if pl != nil {
			plans = append(plans, pl)
		}
	}
	r.guards.Range(func(_, v any) bool {
		plan(v.(*Guard))
		return true
	})
	for _, w := range r.retired {
		if g := w.Value(); g != nil {
			if _, live := r.guards.Load(g.name); !live {
				plan(g)
			}
		}
	}
	if len(probs) > 0 {
		return nil, &DocumentError{Problems: probs}
	}
	return plans, nil
}

// policyFor picks, from a checked document, the resolved policy of a guard
// called name: the explicit policy, else the policy of that name, else the
// first that matches, else def, else the built-in defaults. It reports
// false when the explicit policy is not in the document.
func (c *checkedDocument) policyFor(name, explicit, def string) (Policy, bool) {
	if explicit != "" {
		p, ok := c.resolved[explicit]
		return p, ok
	}
	if p, ok := c.resolved[name]; ok {
		return p, true
	}
	for _, n := range c.order {
		if p := c.policies[n]; p.matches(name) {
			return c.resolved[n], true
		}
	}
	if p, ok := c.resolved[def]; ok {
		return p, true
	}
	return Policy{Name: DefaultPolicyName}, true
}

// PolicyVersion returns the live policy document's version (0 before the
// first Apply) and content hash.
func (r *Registry) PolicyVersion() (version uint64, hash string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version, r.hash
}

func samePolicy(a, b Policy) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}
