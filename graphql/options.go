package graphql

import (
	"context"
	"strings"

	"github.com/99designs/gqlgen/graphql"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
)

// Option configures [Directive], [Validate] and [Fields]. The same options
// serve all three, so one slice can be passed to each; an option that only
// makes sense for one of them says so and is ignored by the others.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is the resolved configuration of a directive, a field middleware
// or a validation.
type config struct {
	fallbacks map[string]fallback.Func
	key       func(typ, field string) string
	policy    string
	tags      []string
	errs      ErrorFunc
	classify  breaker.Classifier
	tenant    func(ctx context.Context) string // WithTenant (tenant.go)

	// Fields only.
	types  map[string]bool
	fields map[string]bool
	all    bool // every resolver (the default when nothing is selected)
	pred   func(fc *graphql.FieldContext) bool

	gopts []core.GuardOption

	cacheKey CacheKeyFunc // WithCacheKey; nil: DefaultCacheKey
}

// newConfig applies opts in order over the defaults.
func newConfig(opts []Option) *config {
	c := &config{fallbacks: map[string]fallback.Func{}, key: DefaultKey, errs: FieldError}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	if c.policy != "" {
		c.gopts = append(c.gopts, core.UsePolicy(c.policy))
	}
	if len(c.tags) > 0 {
		c.gopts = append(c.gopts, core.WithTags(c.tags...))
	}
	if c.classify != nil {
		c.gopts = append(c.gopts, core.WithClassifier(c.classify))
	}
	return c
}

// WithFallback registers fn under name, for the directive's fallback
// argument: `@breaker(fallback: "cachedQuote")`. When the guarded field
// fails (its resolver returned an error, timed out, or was rejected by the
// guard) fn is called with the cause and its result becomes the field's
// value; if fn returns an error too, the field fails with the original
// error. The value must have the type the field's resolver returns (gqlgen
// reports an "unexpected type" error otherwise), and nil is null.
//
// Fallbacks of the registry's own policies (core.WithFallback and
// Policy.Fallbacks) run first, inside the guard; the directive's fallback
// answers what they leave failed. An empty name or a nil fn is ignored.
func WithFallback(name string, fn fallback.Func) Option {
	return optionFunc(func(c *config) {
		if name != "" && fn != nil {
			c.fallbacks[name] = fn
		}
	})
}

// WithKey sets how a field without an explicit guard name is keyed: fn maps
// the field's object type and name to a guard name. The default,
// [DefaultKey], gives "Type.field", such as "Query.quote". fn is called once
// per field of the schema and its result is kept, so it must depend on its
// arguments only. Keys name guards, so they must come from a bounded set.
// A nil fn restores the default.
func WithKey(fn func(typ, field string) string) Option {
	return optionFunc(func(c *config) {
		if fn == nil {
			fn = DefaultKey
		}
		c.key = fn
	})
}

// DefaultKey is the default guard name of a field: "Type.field".
func DefaultKey(typ, field string) string { return typ + "." + field }

// WithPolicy makes the guards that the directive or the field middleware
// create use the registry's policy called name, instead of the policy their
// name matches (see core.UsePolicy). A guard that already exists keeps its
// policy.
func WithPolicy(name string) Option {
	return optionFunc(func(c *config) { c.policy = name })
}

// WithTags tags the guards that the directive or the field middleware
// create, besides their policy's tags (see core.WithTags), so that they can
// be operated on as a group: reg.ForceOpen(core.Tag("graphql"), ...).
func WithTags(tags ...string) Option {
	return optionFunc(func(c *config) { c.tags = append(c.tags, tags...) })
}

// WithClassifier sets the breaker classifier of the guards that the
// directive or the field middleware create (see core.WithClassifier). The
// default counts every resolver error as a failure, except a cancelled
// request; a classifier can ignore the errors that are the client's doing
// (not found, bad input), so that they never open a breaker:
//
//	srv.Use(bbgraphql.Fields(reg, bbgraphql.WithClassifier(func(o breaker.Outcome) breaker.Result {
//		if errors.Is(o.Err, errNotFound) {
//			return breaker.Ignore
//		}
//		return breaker.DefaultClassifier(o)
//	})))
//
// A guard that already exists keeps its classifier.
func WithClassifier(c breaker.Classifier) Option {
	return optionFunc(func(cfg *config) { cfg.classify = c })
}

// WithErrorFunc replaces [FieldError], the function that turns the error of
// a guarded field into the error gqlgen reports. fn gets the field's context
// (graphql.GetFieldContext works) and the error; it returns the error to
// report, typically a *gqlerror.Error with extensions. A nil fn restores the
// default.
func WithErrorFunc(fn ErrorFunc) Option {
	return optionFunc(func(c *config) {
		if fn == nil {
			fn = FieldError
		}
		c.errs = fn
	})
}

// GuardResolvers makes [Fields] guard every field that has a resolver of
// its own (FieldContext.IsResolver): the fields gqlgen generates a resolver
// method for, as opposed to plain reads of a struct field or method. It is
// the default when no other selection is given.
func GuardResolvers() Option {
	return optionFunc(func(c *config) { c.all = true })
}

// GuardTypes makes [Fields] guard every field of the named object types,
// such as "Query" and "Mutation", trivial reads included.
func GuardTypes(types ...string) Option {
	return optionFunc(func(c *config) {
		if c.types == nil {
			c.types = map[string]bool{}
		}
		for _, t := range types {
			c.types[t] = true
		}
	})
}

// GuardFields makes [Fields] guard the named fields, each given as
// "Type.field", such as "Query.weather".
func GuardFields(fields ...string) Option {
	return optionFunc(func(c *config) {
		if c.fields == nil {
			c.fields = map[string]bool{}
		}
		for _, f := range fields {
			c.fields[f] = true
		}
	})
}

// GuardFunc makes [Fields] guard the fields for which fn reports true. fn is
// called once per field of the schema (with the first FieldContext seen for
// it) and its answer is kept, so it must depend on the field's static
// properties only: Object, Field.Name, Field.Definition, IsResolver,
// IsMethod. Selections add up: a field is guarded if any selection picks it.
func GuardFunc(fn func(fc *graphql.FieldContext) bool) Option {
	return optionFunc(func(c *config) { c.pred = fn })
}

// selected reports whether the field middleware guards fc's field.
func (c *config) selected(fc *graphql.FieldContext) bool {
	if strings.HasPrefix(fc.Object, "__") || fc.Field.Field == nil {
		return false // introspection
	}
	if def := fc.Field.Definition; def != nil && def.Directives.ForName(DirectiveName) != nil {
		return false // the directive guards it
	}
	none := c.types == nil && c.fields == nil && c.pred == nil
	switch {
	case (c.all || none) && fc.IsResolver:
		return true
	case c.types[fc.Object]:
		return true
	case c.fields[fc.Object+"."+fc.Field.Name]:
		return true
	case c.pred != nil && c.pred(fc):
		return true
	}
	return false
}

// guard returns the guard called name, creating it with the configured
// options. The lookup of an existing guard takes no lock and allocates
// nothing.
func (c *config) guard(reg *core.Registry, name string) (*core.Guard, error) {
	return reg.Guard(name, c.gopts...)
}
