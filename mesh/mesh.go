package mesh

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/breakerbox/breakerbox/core"
)

// Format names a service mesh an export is written for.
type Format string

// The formats Export writes.
const (
	// Istio writes a networking.istio.io/v1 DestinationRule and
	// VirtualService per policy.
	Istio Format = "istio"
	// Linkerd writes the annotations of the destination Service (failure
	// accrual) and a gateway.networking.k8s.io/v1 HTTPRoute carrying
	// Linkerd's retry and timeout annotations, per policy.
	Linkerd Format = "linkerd"
	// Envoy writes an envoy.config.cluster.v3.Cluster per policy.
	Envoy Format = "envoy"
)

// Formats lists every Format, in the order of the documentation.
var Formats = []Format{Istio, Linkerd, Envoy}

// ParseFormat returns the Format named s, or an error naming the value and
// the formats there are.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("mesh: format %q is not one of istio, linkerd, envoy", s)
}

// Options says which policies to export and where their traffic goes.
// The zero value exports every policy of the document, each to the host its
// match patterns name (see Export).
type Options struct {
	// Service is the destination host (a Kubernetes Service name such as
	// "inventory", "inventory.shop.svc.cluster.local", or an external host
	// such as "api.stripe.com"). When set, only the policy that guards
	// calls named Service is exported (the first whose match patterns
	// match it, or whose name is it, as the registry picks), to that host.
	Service string
	// Port is the destination port; 0 means none (Istio and Linkerd then
	// apply to every port, Envoy's cluster uses 80).
	Port int
	// Namespace is the Kubernetes namespace of the objects written for
	// Istio and Linkerd; empty leaves it to kubectl.
	Namespace string
}

// Object is one configuration object of an export.
type Object struct {
	// Policy is the name of the policy it was made from.
	Policy string
	// Kind is the object's kind: DestinationRule, VirtualService, Service,
	// HTTPRoute or Cluster.
	Kind string
	// Name is the object's name (metadata.name, or the cluster's name).
	Name string
	// JSON is the object, as the mesh reads it.
	JSON []byte
}

// Result is an export: the mesh's objects and the loss report.
type Result struct {
	Format  Format
	Objects []Object
	// Loss lists what the mesh cannot express, policy by policy, in the
	// document's order, and the warnings (see LossKind).
	Loss []Loss
}

// LossKind grades an entry of a loss report.
type LossKind string

// The kinds of loss.
const (
	// Lost: the mesh has nothing for the setting; the protection it gives
	// exists only in the application.
	Lost LossKind = "lost"
	// Approximated: the mesh has a setting near it, with different
	// semantics, written instead; the message says how it differs.
	Approximated LossKind = "approximated"
	// Warning: expressible, but the combination deserves attention (mesh
	// retries multiplying application retries, for instance).
	Warning LossKind = "warning"
)

// Loss is one entry of a loss report.
type Loss struct {
	// Policy is the policy concerned; empty for the whole document.
	Policy string `json:"policy,omitempty"`
	// Field is the policy field concerned, as its path in the document
	// ("breaker.slowCallRate", "tenants.overrides[0]"); empty for the
	// policy as a whole.
	Field string `json:"field,omitempty"`
	// Kind grades the entry.
	Kind LossKind `json:"kind"`
	// Message says what the mesh does instead.
	Message string `json:"message"`
}

// String formats the entry as "policy: field: kind: message".
func (l Loss) String() string {
	var b strings.Builder
	if l.Policy != "" {
		b.WriteString(l.Policy)
		b.WriteString(": ")
	}
	if l.Field != "" {
		b.WriteString(l.Field)
		b.WriteString(": ")
	}
	b.WriteString(string(l.Kind))
	b.WriteString(": ")
	b.WriteString(l.Message)
	return b.String()
}

// ErrNoPolicy is returned (wrapped) when Options.Service names a host no
// policy of the document guards.
var ErrNoPolicy = errors.New("mesh: no policy matches the service")

// ErrOption is returned (wrapped) for a bad Options value or Format; the
// message names the field and the value.
var ErrOption = errors.New("mesh: bad option")

// Export translates doc's policies into the configuration of mesh f.
//
// Each policy's extends chain is applied first (parents of the document and
// built-in presets, "preset:<name>"), then the defaults of core's policy
// sections, so that the mesh is told what the guard would really do.
//
// The destination host of a policy is Options.Service when set; otherwise
// the first of its match patterns that is a plain host name (no wildcard,
// no "/", no space), or else the policy's name, which the loss report then
// flags. Every export has a loss report: what the mesh cannot express of
// each policy (see docs/mesh.md for the mapping and the reasons), and a
// warning where mesh retries would multiply the application's.
func Export(doc core.Document, f Format, opts Options) (*Result, error) {
	if _, err := ParseFormat(string(f)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrOption, err)
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("%w: port %d is not between 1 and 65535", ErrOption, opts.Port)
	}
	if opts.Service != "" && !hostRE.MatchString(opts.Service) {
		return nil, fmt.Errorf("%w: service %q is not a host name (lower-case letters, digits, '-' and '.')", ErrOption, opts.Service)
	}
	if opts.Namespace != "" && !labelRE.MatchString(opts.Namespace) {
		return nil, fmt.Errorf("%w: namespace %q is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)", ErrOption, opts.Namespace)
	}
	all, err := resolvePolicies(doc)
	if err != nil {
		return nil, err
	}
	ps, err := selectPolicies(all, opts.Service)
	if err != nil {
		return nil, err
	}
	res := &Result{Format: f}
	for _, p := range ps {
		var objs []Object
		var loss []Loss
		switch f {
		case Istio:
			objs, loss, err = istioObjects(p, opts)
		case Linkerd:
			objs, loss, err = linkerdObjects(p, opts)
		case Envoy:
			objs, loss, err = envoyObjects(p, opts)
		}
		if err != nil {
			return nil, fmt.Errorf("mesh: policy %q: %w", p.Name, err)
		}
		res.Objects = append(res.Objects, objs...)
		res.Loss = append(res.Loss, commonLoss(p, f)...)
		res.Loss = append(res.Loss, loss...)
	}
	res.Loss = append(res.Loss, documentLoss(doc, ps, f)...)
	return res, nil
}

var (
	hostRE  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
)

// selectPolicies picks the policies to export and sets their hosts.
func selectPolicies(all []resolved, service string) ([]resolved, error) {
	if service != "" {
		for _, p := range all {
			if p.Name == service {
				p.Host = service
				return []resolved{p}, nil
			}
		}
		for _, p := range all {
			for _, m := range p.Match {
				if ok, err := core.MatchName(m, service); err == nil && ok {
					p.Host = service
					return []resolved{p}, nil
				}
			}
		}
		return nil, fmt.Errorf("%w: no policy is named %q or matches it", ErrNoPolicy, service)
	}
	out := make([]resolved, len(all))
	for i, p := range all {
		p.Host = ""
		for _, m := range p.Match {
			if h := strings.ToLower(m); hostRE.MatchString(h) {
				p.Host = h
				break
			}
		}
		if p.Host == "" {
			p.Host, p.HostGuessed = objectName(p.Name), true
		}
		out[i] = p
	}
	return out, nil
}

// objectName turns a policy name into a Kubernetes object name (DNS-1123
// label: lower-case letters, digits and '-', at most 63 characters).
func objectName(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	out := strings.TrimRight(b.String(), "-")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	if out == "" {
		out = "policy"
	}
	return out
}

// YAML writes the export as a YAML stream: the loss report as a comment
// block, then each object as its own document.
func (r *Result) YAML() ([]byte, error) {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# breakerctl mesh export --format %s\n", r.Format)
	b.WriteString("# Loss report: what this mesh cannot express of the policies (see docs/mesh.md).\n")
	if len(r.Loss) == 0 {
		b.WriteString("#   (nothing)\n")
	}
	for _, l := range r.Loss {
		b.WriteString("#   - ")
		b.WriteString(strings.ReplaceAll(l.String(), "\n", " "))
		b.WriteByte('\n')
	}
	for _, o := range r.Objects {
		b.WriteString("---\n")
		fmt.Fprintf(&b, "# %s %s, from policy %s\n", o.Kind, o.Name, strconv.Quote(o.Policy))
		y, err := jsonToYAML(o.JSON)
		if err != nil {
			return nil, fmt.Errorf("mesh: %s %s: %w", o.Kind, o.Name, err)
		}
		b.Write(y)
	}
	return b.Bytes(), nil
}
