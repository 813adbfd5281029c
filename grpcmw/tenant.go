package grpcmw

import (
	"context"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/breakerbox/breakerbox/core"
)

// WithTenant sets the function that names a call's tenant, for the tenant
// overlays of the registry's policy document (see core.TenantPolicy): a call
// whose function returns a key runs with that key in its context
// (core.WithTenant), so a server's handler and the calls it makes see it,
// and goes through the tenant's guard when the document has an overlay for
// it (see core.Registry.ForCall). An empty key leaves the call as it came.
// [TenantMetadata] reads the key from metadata. The four interceptors take
// it; a context that already carries a tenant needs no option.
//
// Unlike [MetadataKey], which makes a guard per header value for every
// call, tenant guards exist only for tenants with an overlay (or for every
// tenant under a "*" overlay), bounded by the document's tenants.maxGuards;
// past the bound calls use the method's guard and
// core.Registry.TenantStats counts them.
func WithTenant(fn func(ctx context.Context) string) Option {
	return optionFunc(func(c *config) { c.tenant = fn })
}

// TenantMetadata returns a tenant function for [WithTenant] that reads the
// first value of the metadata header: from the incoming metadata (a
// server's call, or a client call made while serving one), else from the
// outgoing metadata (a client call that sets it). The header name is
// matched case-insensitively. Reading metadata allocates a little.
func TenantMetadata(header string) func(ctx context.Context) string {
	header = strings.ToLower(header)
	return func(ctx context.Context) string {
		if v := metadataValue(ctx, header); v != "" {
			return v
		}
		if md, ok := metadata.FromOutgoingContext(ctx); ok {
			if vs := md.Get(header); len(vs) > 0 {
				return vs[0]
			}
		}
		return ""
	}
}

// withTenant puts the call's tenant, when WithTenant names one, in ctx.
func (c *config) withTenant(ctx context.Context) context.Context {
	if c.tenant != nil {
		if k := c.tenant(ctx); k != "" {
			return core.WithTenant(ctx, k)
		}
	}
	return ctx
}
