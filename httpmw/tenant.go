package httpmw

import (
	"net/http"

	"github.com/breakerbox/breakerbox/core"
)

// WithTenant sets the function that names a request's tenant, for the
// tenant overlays of the registry's policy document (see core.TenantPolicy):
// a request whose function returns a key runs with that key in its context
// (core.WithTenant), so the handler and the clients it calls see it, and
// goes through the tenant's guard when the document has an overlay for it
// (see core.Registry.ForCall). An empty key leaves the request as it came.
// [TenantHeader] reads the key from a header. Both the middleware and the
// transport take it; on the transport, a request's context that already
// carries a tenant (set by the middleware upstream) needs no option.
//
// Tenant keys may be many: tenant guards are bounded by the document's
// tenants.maxGuards, past which requests use the route's (or host's) guard
// and core.Registry.TenantStats counts them.
func WithTenant(fn func(*http.Request) string) Option {
	return optionFunc(func(c *config) { c.tenant = fn })
}

// TenantHeader returns a tenant function for [WithTenant] that reads the
// request header name ("X-Tenant-ID", say).
func TenantHeader(name string) func(*http.Request) string {
	key := http.CanonicalHeaderKey(name)
	return func(r *http.Request) string {
		if v := r.Header[key]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
}

// forCall puts the request's tenant in its context (a shallow copy of r,
// only when WithTenant names one) and returns the guard the registry picks
// for it: g itself unless the live document has tenants or variants.
func (c *config) forCall(reg *core.Registry, r *http.Request, g *core.Guard) (*http.Request, *core.Guard) {
	if c.tenant != nil {
		if k := c.tenant(r); k != "" {
			r = r.WithContext(core.WithTenant(r.Context(), k))
		}
	}
	return r, reg.ForCall(r.Context(), g)
}
