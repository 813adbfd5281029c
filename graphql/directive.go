package graphql

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/fallback"
)

// Schema declares the @breaker directive. Add it to the schema files gqlgen
// reads (it is also in this package's documentation, to copy):
//
//	directive @breaker(name: String, fallback: String, timeout: String) on FIELD_DEFINITION
//
// The arguments, all optional:
//
//   - name: the guard's name in the registry. Default: the field's key,
//     "Type.field" (see [WithKey]). Fields that share a name share a guard:
//     one breaker for every field served by one dependency.
//   - fallback: a fallback registered with [WithFallback], whose value
//     answers the field when it fails or is rejected.
//   - timeout: a Go duration ("250ms", "2s") bounding the whole guarded
//     call (the wait for a bulkhead slot, every attempt and retry delay);
//     the resolver gets a context with that deadline, and the field fails
//     with code TIMEOUT when the resolver returns the context's error.
const Schema = `directive @breaker(name: String, fallback: String, timeout: String) on FIELD_DEFINITION`

// DirectiveName is the name of the directive in the schema, "breaker".
const DirectiveName = "breaker"

// DirectiveFunc is the implementation of the @breaker directive: the type of
// the Breaker field of the DirectiveRoot that gqlgen generates for
// [Schema].
type DirectiveFunc func(ctx context.Context, obj any, next graphql.Resolver, name, fallback, timeout *string) (any, error)

// Directive returns the implementation of the @breaker directive, to assign
// to the DirectiveRoot gqlgen generates (Config is the generated package's):
//
//	cfg := Config{Resolvers: &resolver{}}
//	cfg.Directives.Breaker = bbgraphql.Directive(reg, opts...)
//
// Each call of a field carrying the directive runs its resolver through the
// guard named by the directive (created from the registry's policies on
// first use), so the guard's whole policy applies: rate limit, bulkhead,
// breaker, and, through core.Do, retries, timeouts and the registry's
// fallbacks. (A guard whose policy has none of the last three is run as
// core.Do runs it, with Allow and Done around the resolver, but without the
// pprof labels of core.WithProfilerLabels.) A rejected or failed field
// resolves to null with an error made by [FieldError] (or
// [WithErrorFunc]), unless the directive's fallback answers it. Check the
// schema's uses of the directive at start-up with [Validate], given the
// same options.
func Directive(reg *core.Registry, opts ...Option) DirectiveFunc {
	r := &runner{reg: reg, cfg: newConfig(opts)}
	return func(ctx context.Context, _ any, next graphql.Resolver, name, fb, timeout *string) (any, error) {
		pl, err := r.directivePlan(ctx, name)
		if err != nil {
			return nil, err
		}
		return r.call(ctx, pl, timeout, fb, next)
	}
}

// runner runs resolvers through guards; the directive and the field
// middleware share it.
type runner struct {
	reg   *core.Registry
	cfg   *config
	plans fieldCache[*plan] // field -> its guard; nil for an unguarded field
}

// plan is what a runner keeps about one guarded field: the name of its
// guard and, once looked up, the guard itself.
type plan struct {
	name string
	cur  atomic.Pointer[guardRef]
}

// guardRef is a guard. Whether a call runs directly (Allow, the resolver,
// Done: the guard's policy has no retries, timeouts or fallbacks) is asked
// of the guard on every call, as a policy reload may change it.
type guardRef struct {
	g *core.Guard
}

// guard returns the plan's guard. The guard is cached: a lookup in the
// registry costs more than the rest of the guard's admission. A guard the
// registry has pruned is dropped for the registry's current one.
func (pl *plan) guard(reg *core.Registry, opts []core.GuardOption) (*guardRef, error) {
	if ref := pl.cur.Load(); ref != nil && !ref.g.Pruned() {
		return ref, nil
	}
	return pl.refresh(reg, opts)
}

//go:noinline
func (pl *plan) refresh(reg *core.Registry, opts []core.GuardOption) (*guardRef, error) {
	g, err := reg.Guard(pl.name, opts...)
	if err != nil {
		return nil, err
	}
	ref := &guardRef{g: g}
	pl.cur.Store(ref)
	return ref, nil
}

var errNoField = errors.New("graphql: @breaker without a name used outside a field")

// directivePlan returns the plan of the field of ctx, for the directive's
// name argument.
//
//go:noinline
func (r *runner) directivePlan(ctx context.Context, name *string) (*plan, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil {
		if name == nil || *name == "" {
			return nil, errNoField
		}
		return &plan{name: *name}, nil
	}
	pl := r.plans.get(fc, func() *plan {
		if name != nil && *name != "" {
			return &plan{name: *name}
		}
		return &plan{name: r.cfg.key(fc.Object, fc.Field.Name)}
	})
	if name != nil && *name != "" && *name != pl.name {
		// Not the name the field had before: the schema's arguments are
		// fixed, so this is a directive called by hand. Do not cache.
		return &plan{name: *name}, nil
	}
	return pl, nil
}

// call resolves a field through its guard, with the directive's optional
// timeout and fallback.
//
// gqlgen resolves many fields on goroutines of their own, which start with
// a small stack that a trivial resolver barely fits in: if the guard made
// the stack deeper than that, each goroutine would have to grow (copy) its
// stack, which costs far more than the guard itself. So the common path,
// a guard without retries, timeouts or fallbacks, is this one small frame
// around the guard's Allow and Done, and everything else happens in
// functions called beside it rather than around the resolver.
func (r *runner) call(ctx context.Context, pl *plan, timeout, fb *string, next graphql.Resolver) (any, error) {
	ref, err := pl.guard(r.reg, r.cfg.gopts)
	if err != nil {
		return nil, guardError(ctx, err)
	}
	ctx, g, isDirect := r.cfg.forCall(ctx, r.reg, ref)
	if timeout != nil || !isDirect {
		return r.callFull(ctx, g, timeout, fb, next)
	}
	p, err := g.Allow(ctx)
	if err != nil {
		return r.failed(ctx, err, fb)
	}
	v, err := runNext(ctx, &p, next)
	if err != nil {
		return r.failed(ctx, err, fb)
	}
	return v, nil
}

// runNext runs next for an admitted call and reports its outcome with p,
// a panic included (as core.Do does: a failure, and the panic goes on).
//
//go:noinline
func runNext(ctx context.Context, p *core.Permit, next graphql.Resolver) (v any, err error) {
	defer p.Settle()
	v, err = next(ctx)
	p.Done(err)
	return v, err
}

// callFull runs a call through core.Do, for guards whose policy has
// retries, timeouts or fallbacks, and for a directive timeout.
//
//go:noinline
func (r *runner) callFull(ctx context.Context, g *core.Guard, timeout, fb *string, next graphql.Resolver) (any, error) {
	callCtx := ctx
	if timeout != nil && *timeout != "" {
		limit, err := parseTimeout(*timeout)
		if err != nil {
			return nil, fmt.Errorf("graphql: @breaker on %s: %w", fieldName(ctx), err)
		}
		var cancel context.CancelFunc
		callCtx, cancel = context.WithTimeout(ctx, limit)
		defer cancel()
	}
	fn := (func(context.Context) (any, error))(next)
	if callCtx != ctx || derivesContext(g) {
		fn = scoped(ctx, next)
	}
	var res *core.Result
	if g.Cache() != nil { // a cached fallback: stale.go
		callCtx, res = r.cacheContext(ctx, callCtx)
	}
	v, err := core.Do(callCtx, g, fn)
	if err != nil {
		return r.failed(ctx, err, fb)
	}
	if res != nil && res.Stale {
		markStale(ctx)
	}
	return v, nil
}

// failed answers a failed or rejected call: with the named fallback's value
// if it has one, else with the error the ErrorFunc makes of err.
//
//go:noinline
func (r *runner) failed(ctx context.Context, err error, fb *string) (any, error) {
	if fb != nil && *fb != "" {
		fn, ok := r.cfg.fallbacks[*fb]
		if !ok {
			err = fmt.Errorf("graphql: @breaker on %s: fallback %q is not registered (see WithFallback): %w", fieldName(ctx), *fb, err)
		} else if fv, ferr := fn(ctx, fallback.Cause{Err: err, Kind: fallback.KindOf(err)}); ferr == nil {
			return fv, nil
		}
	}
	return nil, r.cfg.errs(ctx, err)
}

//go:noinline
func guardError(ctx context.Context, err error) error {
	return fmt.Errorf("graphql: guard for %s: %w", fieldName(ctx), err)
}

// direct reports whether a call through g is its Allow, the function and
// Done, as core.Do makes it when the guard adds nothing to them (no
// retries, timeouts, fallbacks or profiler labels: see Guard.Composite).
//
//go:noinline
func direct(g *core.Guard) bool { return !g.Composite() }

// derivesContext reports whether core.Do gives the function a context of
// its own (with a deadline) that it cancels when the call returns.
func derivesContext(g *core.Guard) bool {
	p := g.Policy()
	return p.Timeout > 0 || p.TotalTimeout > 0
}

// scoped wraps a gqlgen resolver whose context may be derived, with a
// deadline, from the field's context ctx. gqlgen resolves a field's
// children with the context its resolver was given, after the resolver
// returns: by then the guard has cancelled that context, and the children
// would fail with "context canceled". So the resolver gets a scopedContext,
// which is the derived context while the resolver runs and the field's own
// context afterwards.
func scoped(ctx context.Context, next graphql.Resolver) func(context.Context) (any, error) {
	return func(c context.Context) (any, error) {
		if c == ctx {
			return next(c)
		}
		sc := &scopedContext{Context: ctx, inner: c}
		defer sc.ended.Store(true)
		return next(sc)
	}
}

// scopedContext is inner (its deadline, cancellation and values) until
// ended, and then the field's context for cancellation and deadline (values
// still come from inner, which holds every value of the field's context).
type scopedContext struct {
	context.Context // the field's context
	inner           context.Context
	ended           atomic.Bool
}

func (c *scopedContext) current() context.Context {
	if c.ended.Load() {
		return c.Context
	}
	return c.inner
}

func (c *scopedContext) Deadline() (time.Time, bool) { return c.current().Deadline() }
func (c *scopedContext) Done() <-chan struct{}       { return c.current().Done() }
func (c *scopedContext) Err() error                  { return c.current().Err() }
func (c *scopedContext) Value(key any) any           { return c.inner.Value(key) }

// parseTimeout parses the directive's timeout argument.
func parseTimeout(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("timeout: %q is not a duration (such as \"500ms\" or \"2s\")", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("timeout: %q must be positive", s)
	}
	return d, nil
}

// fieldName names the field of ctx for error messages: "Type.field".
func fieldName(ctx context.Context) string {
	if fc := graphql.GetFieldContext(ctx); fc != nil {
		return fc.Object + "." + fc.Field.Name
	}
	return "a field"
}
