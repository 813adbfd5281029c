package graphql

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/breakerbox/breakerbox/core"
)

// FieldGuard is a gqlgen field middleware that runs the resolvers of chosen
// fields through guards, without touching the schema. Each field gets the
// guard named by its key, "Type.field" by default (see [WithKey]), so a
// policy can match a group of fields ("Query.*") and operators can act on
// one field's breaker by name.
//
// Fields are chosen with [GuardResolvers] (every field with a resolver of
// its own: the default), [GuardTypes], [GuardFields] and [GuardFunc];
// introspection fields and fields carrying the @breaker directive (which
// guards them itself) are never guarded twice. A guarded field behaves as
// under the directive: core.Do runs it through the guard's policy, and a
// rejected or failed field resolves to null with the error of [FieldError]
// (or [WithErrorFunc]).
//
// Install it with srv.Use(bbgraphql.Fields(reg)); gqlgen then calls Validate,
// which checks the names given to GuardTypes and GuardFields against the
// schema. A FieldGuard is safe for concurrent use. Whether a field is
// guarded, and by which guard, is decided once per field of the schema;
// afterwards an unguarded field costs a map lookup, and a field without a
// resolver of its own, under the default selection, a branch.
type FieldGuard struct {
	runner
	onlyResolvers bool
}

var (
	_ graphql.HandlerExtension = (*FieldGuard)(nil)
	_ graphql.FieldInterceptor = (*FieldGuard)(nil)
)

// Fields returns a field middleware that guards the fields the options
// select (every resolver when none does) with guards of reg.
func Fields(reg *core.Registry, opts ...Option) *FieldGuard {
	c := newConfig(opts)
	f := &FieldGuard{runner: runner{reg: reg, cfg: c}}
	f.onlyResolvers = c.types == nil && c.fields == nil && c.pred == nil
	return f
}

// ExtensionName implements graphql.HandlerExtension.
func (f *FieldGuard) ExtensionName() string { return "BreakerboxFields" }

// Validate implements graphql.HandlerExtension: gqlgen calls it when the
// extension is added to a server (and panics with its error). It reports
// names given to GuardTypes or GuardFields that are not object types or
// fields of the schema, and a missing registry.
func (f *FieldGuard) Validate(es graphql.ExecutableSchema) error {
	if f.reg == nil {
		return errors.New("graphql: Fields needs a registry")
	}
	if es == nil {
		return nil
	}
	s := es.Schema()
	var errs []string
	for t := range f.cfg.types {
		if def := s.Types[t]; def == nil || def.Kind != ast.Object {
			errs = append(errs, fmt.Sprintf("GuardTypes: %q is not an object type of the schema", t))
		}
	}
	for name := range f.cfg.fields {
		typ, field, ok := strings.Cut(name, ".")
		def := s.Types[typ]
		if !ok || def == nil || def.Fields.ForName(field) == nil {
			errs = append(errs, fmt.Sprintf("GuardFields: %q is not a field of the schema (want \"Type.field\")", name))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Strings(errs)
	return errors.New("graphql: " + strings.Join(errs, "; "))
}

// InterceptField implements graphql.FieldInterceptor; it can also be given
// to srv.AroundFields.
func (f *FieldGuard) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || (f.onlyResolvers && !fc.IsResolver) {
		return next(ctx)
	}
	pl := f.plans.get(fc, func() *plan {
		if !f.cfg.selected(fc) {
			return nil
		}
		if name := f.cfg.key(fc.Object, fc.Field.Name); name != "" {
			return &plan{name: name}
		}
		return nil
	})
	if pl == nil {
		return next(ctx)
	}
	return f.call(ctx, pl, nil, nil, next)
}
