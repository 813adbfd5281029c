package core

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
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
}

// Hash returns the document's content hash: "sha256:" and the hex digest of
// its canonical JSON encoding, so equal documents hash equal whatever their
// source format or layout.
func (d Document) Hash() string {
	b, err := json.Marshal(d)
	if err != nil { // cannot happen: every field encodes
		panic(err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// problemOf turns a validation error into a Problem at path.
func problemOf(path string, err error) Problem {
	msg := err.Error()
	var pe *PolicyError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	msg = strings.TrimPrefix(msg, "core: ")
	sub, rest, ok := strings.Cut(msg, ": ")
	if ok && !strings.ContainsAny(sub, " \"") {
		return Problem{Path: path + "." + sub, Message: rest}
	}
	return Problem{Path: path, Message: msg}
}

// Check reports every problem with doc as a *DocumentError, without applying
// it: invalid policies (each one on its own and merged with its Extends
// chain), duplicate names, unknown or cyclic parents, fallbacks the
// registry has no function for.
func (r *Registry) Check(doc Document) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, _, err := r.checkLocked(doc)
	return err
}

func (r *Registry) checkLocked(doc Document) (map[string]Policy, []string, error) {
	var probs []Problem
	next := make(map[string]Policy, len(doc.Policies))
	order := make([]string, 0, len(doc.Policies))
	seen := make(map[string]bool, len(doc.Policies))
	for i, p := range doc.Policies {
		path := fmt.Sprintf("policies[%d]", i)
		if seen[p.Name] && p.Name != "" {
			probs = append(probs, Problem{Path: path + ".name", Value: strconv.Quote(p.Name), Message: fmt.Sprintf("duplicate policy name %q", p.Name)})
			continue
		}
		seen[p.Name] = true
		if err := p.Validate(); err != nil {
			probs = append(probs, problemOf(path, err))
			continue
		}
		next[p.Name] = p
		order = append(order, p.Name)
	}
	for i, p := range doc.Policies {
		if q, ok := next[p.Name]; !ok || !samePolicy(p, q) {
			continue // invalid, or a duplicate reported above
		}
		path := fmt.Sprintf("policies[%d]", i)
		rp, err := resolve(next, p.Name)
		if err != nil {
			probs = append(probs, problemOf(path, err))
			continue
		}
		for j, ref := range rp.Fallbacks {
			if _, ok := r.fallback[ref.Name]; !ok {
				probs = append(probs, Problem{Path: fmt.Sprintf("%s.fallbacks[%d].name", path, j), Value: strconv.Quote(ref.Name), Message: fmt.Sprintf("no fallback registered as %q (see WithFallback)", ref.Name)})
			}
		}
	}
	probs = append(probs, r.checkSegments(doc, next)...)
	if len(probs) > 0 {
		return nil, nil, &DocumentError{Problems: probs}
	}
	return next, order, nil
}

// ApplyOption configures one Registry.Apply.
type ApplyOption interface{ applyApply(*applyConfig) }

type applyConfig struct{ version uint64 }

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
// every problem listed, the policies before it staying live. A policy left
// out of doc is removed; guards that used it keep the policy they were built
// with until they are pruned. The live version goes up by one with every
// applied document (or becomes AtVersion's); PolicyVersion reports it.
func (r *Registry) Apply(doc Document, opts ...ApplyOption) (ApplyResult, error) {
	var cfg applyConfig
	for _, o := range opts {
		o.applyApply(&cfg)
	}
	hash := doc.Hash()
	r.mu.Lock()
	defer r.mu.Unlock()
	if cfg.version != 0 && cfg.version <= r.version {
		return ApplyResult{}, &DocumentError{Problems: []Problem{{Message: fmt.Sprintf("version %d is not above the live version %d", cfg.version, r.version)}}}
	}
	next, order, err := r.checkLocked(doc)
	if err != nil {
		return ApplyResult{}, err
	}
	res := ApplyResult{Hash: hash}
	for _, n := range order {
		old, ok := r.policies[n]
		switch {
		case !ok:
			res.Added = append(res.Added, n)
		case samePolicy(old, next[n]):
			res.Unchanged = append(res.Unchanged, n)
		default:
			res.Changed = append(res.Changed, n)
		}
	}
	for _, n := range r.order {
		if _, ok := next[n]; !ok {
			res.Removed = append(res.Removed, n)
		}
	}
	r.policies, r.order = next, order
	r.version++
	if cfg.version != 0 {
		r.version = cfg.version
	}
	r.hash = hash
	r.doc = doc
	r.setSegments()
	res.Version = r.version
	return res, nil
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
