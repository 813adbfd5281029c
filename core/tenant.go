package core

import (
	"context"
	"strings"
)

// A call's segment travels in its context: the tenant it is made for, the
// key that places it in a percentage variant, and the attributes that
// select attribute variants. Adapters set the tenant from the request
// (httpmw, grpcmw and graphql each have an option); Registry.GuardFor and
// Registry.ForCall read it.

type segmentCtxKey struct{}

// callSegment is what a context carries; each With call makes a new one,
// so a context's value never changes.
type callSegment struct {
	tenant string
	key    string
	attrs  []string
}

func segmentOf(ctx context.Context) *callSegment {
	cs, _ := ctx.Value(segmentCtxKey{}).(*callSegment)
	return cs
}

// WithTenant returns a copy of ctx that carries tenant as the call's tenant
// key, replacing any tenant ctx carried. Registry.GuardFor gives the call
// the tenant's guard when the live policy document has an overlay for it
// (or for "*"). An empty tenant removes the tenant.
func WithTenant(ctx context.Context, tenant string) context.Context {
	cs := callSegment{tenant: tenant}
	if old := segmentOf(ctx); old != nil {
		cs.key, cs.attrs = old.key, old.attrs
	}
	return context.WithValue(ctx, segmentCtxKey{}, &cs)
}

// TenantFrom returns the tenant key ctx carries (see WithTenant), and
// whether it carries one.
func TenantFrom(ctx context.Context) (string, bool) {
	if cs := segmentOf(ctx); cs != nil && cs.tenant != "" {
		return cs.tenant, true
	}
	return "", false
}

// WithSegment returns a copy of ctx that carries key as the call's segment
// key and attrs as its segment attributes, added to those ctx carried. A
// variant with a Percent takes a stable share of segment keys (a call
// without a key uses its tenant key, and a call with neither stays in the
// control); a variant with an Attribute takes the calls that carry it. An
// empty key keeps the key ctx carried.
func WithSegment(ctx context.Context, key string, attrs ...string) context.Context {
	var cs callSegment
	if old := segmentOf(ctx); old != nil {
		cs = *old
	}
	if key != "" {
		cs.key = key
	}
	if len(attrs) > 0 {
		cs.attrs = append(cs.attrs[:len(cs.attrs):len(cs.attrs)], attrs...)
	}
	return context.WithValue(ctx, segmentCtxKey{}, &cs)
}

// SegmentFrom returns the segment key ctx carries (its tenant key when it
// carries no segment key) and its segment attributes. The slice must not be
// modified.
func SegmentFrom(ctx context.Context) (key string, attrs []string) {
	cs := segmentOf(ctx)
	if cs == nil {
		return "", nil
	}
	return cs.segmentKey(), cs.attrs
}

func (cs *callSegment) segmentKey() string {
	if cs.key != "" {
		return cs.key
	}
	return cs.tenant
}

func (cs *callSegment) has(attr string) bool {
	for _, a := range cs.attrs {
		if a == attr {
			return true
		}
	}
	return false
}

// Names of tenant and variant guards.
//
// A tenant guard is named after the guard it overlays with the tenant key
// appended in braces, and a variant guard after its control guard with the
// variant's name:
//
//	payments.charge{tenant=acme}
//	payments.charge{variant=fast-open}
//	GET /quote/{sku}{tenant=acme}{variant=fast-open}
//
// In the appended value, "%", "{" and "}" are written %25, %7B and %7D,
// so the value never holds a brace and the last "{" of a name always starts
// its last suffix: the name is read back from the end (ParseGuardName),
// whatever the base name holds (slashes, braces, spaces). Guard names that
// end in such a suffix are therefore reserved for tenant and variant
// guards. Their policies are named the same way after the policy they
// overlay ("payments{tenant=acme}"), which is how snapshots show them.

const (
	tenantSuffix  = "tenant"
	variantSuffix = "variant"
)

// TenantGuardName returns the name of guard's guard for tenant.
func TenantGuardName(guard, tenant string) string {
	return derivedName(guard, tenantSuffix, tenant)
}

// VariantGuardName returns the name of guard's guard for the variant
// called variant.
func VariantGuardName(guard, variant string) string {
	return derivedName(guard, variantSuffix, variant)
}

func derivedName(base, kind, value string) string {
	return base + "{" + kind + "=" + escapeSegment(value) + "}"
}

// ParseGuardName splits a tenant or variant guard's name (see
// TenantGuardName and VariantGuardName) into the name of the guard it
// derives from, the tenant and the variant; for any other name it returns
// the name itself and two empty strings.
func ParseGuardName(name string) (guard, tenant, variant string) {
	guard = name
	for range 2 {
		base, kind, value, ok := splitDerived(guard)
		if !ok {
			break
		}
		switch {
		case kind == variantSuffix && variant == "" && tenant == "":
			variant = value
		case kind == tenantSuffix && tenant == "":
			tenant = value
		default:
			return guard, tenant, variant
		}
		guard = base
	}
	return guard, tenant, variant
}

// splitDerived takes the last {kind=value} suffix off name.
func splitDerived(name string) (base, kind, value string, ok bool) {
	if !strings.HasSuffix(name, "}") {
		return "", "", "", false
	}
	i := strings.LastIndexByte(name, '{')
	if i < 0 {
		return "", "", "", false
	}
	kind, esc, found := strings.Cut(name[i+1:len(name)-1], "=")
	if !found || (kind != tenantSuffix && kind != variantSuffix) {
		return "", "", "", false
	}
	value, ok = unescapeSegment(esc)
	if !ok || value == "" {
		return "", "", "", false
	}
	return name[:i], kind, value, true
}

func escapeSegment(s string) string {
	if !strings.ContainsAny(s, "%{}") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '%':
			b.WriteString("%25")
		case '{':
			b.WriteString("%7B")
		case '}':
			b.WriteString("%7D")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func unescapeSegment(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+3 > len(s) {
			return "", false
		}
		switch s[i+1 : i+3] {
		case "25":
			b.WriteByte('%')
		case "7B":
			b.WriteByte('{')
		case "7D":
			b.WriteByte('}')
		default:
			return "", false
		}
		i += 2
	}
	return b.String(), true
}
