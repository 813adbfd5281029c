package graphql

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"

	"github.com/breakerbox/breakerbox/core"
)

// StaleExtension is the key of the response extension that marks a
// response with a stale answer: when a guarded field's guard has a cached
// fallback (core.CachePolicy) and answers the field with the last good
// value because the resolver failed, the response carries
// "extensions": {"stale": true}. The field itself has its value and no
// error.
const StaleExtension = "stale"

// CacheKeyFunc names the cache entry of a field's answer, for guards with
// a cached fallback: fields with equal keys share a cached value.
type CacheKeyFunc func(ctx context.Context) string

// DefaultCacheKey is the default CacheKeyFunc: the field's object type and
// name and its arguments, such as "Query.quote map[symbol:ACME]". A nested
// field whose answer depends on its parent object (a user's friends) needs
// a key naming the parent: see WithCacheKey.
func DefaultCacheKey(ctx context.Context) string {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		return ""
	}
	return fc.Object + "." + fc.Field.Name + " " + fmt.Sprint(fc.Args)
}

// WithCacheKey sets how the answers of guarded fields are keyed in their
// guard's cache (see StaleExtension); nil keeps DefaultCacheKey. Resolvers'
// values are kept as they are and shared by the responses they answer: a
// cached field's resolver must not return values that are changed later.
func WithCacheKey(k CacheKeyFunc) Option {
	return optionFunc(func(c *config) {
		if k != nil {
			c.cacheKey = k
		}
	})
}

// cacheContext gives a call of the field of ctx its cache key and a
// Result that tells a stale answer.
func (r *runner) cacheContext(field, call context.Context) (context.Context, *core.Result) {
	k := DefaultCacheKey
	if r.cfg.cacheKey != nil {
		k = r.cfg.cacheKey
	}
	return core.WithResult(core.CacheKey(call, k(field)))
}

// markStale sets the StaleExtension of the response of ctx. The first
// stale field registers it; gqlgen refuses (with a panic) to register it
// again for the others, which need nothing more. Outside a response (a
// directive called by hand) there is nothing to mark.
func markStale(ctx context.Context) {
	defer func() { _ = recover() }()
	graphql.RegisterExtension(ctx, StaleExtension, true)
}
