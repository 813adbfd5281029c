package graphql

import (
	"context"

	"github.com/breakerbox/breakerbox/core"
)

// WithTenant sets the function that names a field's tenant from its
// context, for the tenant overlays of the registry's policy document (see
// core.TenantPolicy): a field whose function returns a key resolves with
// that key in its context (core.WithTenant) and goes through the tenant's
// guard when the document has an overlay for it (see
// core.Registry.ForCall). An empty key leaves the field as it came. The
// directive and the field middleware take it.
//
// A context that already carries a tenant needs no option: an HTTP server
// whose middleware sets it (httpmw.WithTenant) gives it to every field of
// the request.
func WithTenant(fn func(ctx context.Context) string) Option {
	return optionFunc(func(c *config) { c.tenant = fn })
}

// forCall puts the field's tenant, when WithTenant names one, in ctx, and
// returns the guard the registry picks for the call: ref's own unless the
// live document has tenants or variants.
func (c *config) forCall(ctx context.Context, reg *core.Registry, ref *guardRef) (context.Context, *core.Guard, bool) {
	if c.tenant != nil {
		if k := c.tenant(ctx); k != "" {
			ctx = core.WithTenant(ctx, k)
		}
	}
	g := reg.ForCall(ctx, ref.g)
	return ctx, g, direct(g)
}
