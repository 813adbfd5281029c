package graphql

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/breakerbox/breakerbox/core"
)

// Validate checks every use of the @breaker directive in schema against
// reg and the options the directive was given (the same opts as
// [Directive]), so that a mistake in the schema is reported when the server
// starts rather than at the first query:
//
//	es := NewExecutableSchema(cfg)
//	if err := bbgraphql.Validate(es.Schema(), reg, opts...); err != nil {
//		log.Fatal(err) // an unknown guard or fallback name, a bad timeout
//	}
//
// It reports, for every field at fault (naming it "Type.field"):
//
//   - a name that no guard of reg has and no policy of reg is named or
//     matches (with its Match patterns): most likely a typo, since such a
//     guard would silently get the default policy. To accept any name, give
//     a policy Match: []string{"*"}, or create the guard before Validate;
//   - a fallback not registered with [WithFallback];
//   - a timeout that is not a positive Go duration;
//   - a declaration of @breaker whose arguments or location differ from
//     [Schema] (gqlgen would generate a DirectiveRoot that Directive does
//     not fit).
//
// Fields without a name use their key ("Type.field"), which may take the
// default policy. All problems are reported, joined, in the order of the
// schema's types and fields.
//
// When there is none, Validate creates the guard of every use (with the
// options' policy and tags), so that the guards are listed in snapshots and
// the dashboard, and can be forced open or disabled, before the first
// query. It returns nil when the schema does not use the directive.
func Validate(schema *ast.Schema, reg *core.Registry, opts ...Option) error {
	if schema == nil {
		return errors.New("graphql: Validate needs a schema")
	}
	if reg == nil {
		return errors.New("graphql: Validate needs a registry")
	}
	c := newConfig(opts)
	var errs []error
	if decl := schema.Directives[DirectiveName]; decl != nil {
		if err := checkDeclaration(decl); err != nil {
			errs = append(errs, err)
		}
	}
	var names []string
	types := make([]string, 0, len(schema.Types))
	for name := range schema.Types {
		types = append(types, name)
	}
	sort.Strings(types)
	for _, tn := range types {
		def := schema.Types[tn]
		if def.Kind != ast.Object && def.Kind != ast.Interface {
			continue
		}
		for _, f := range def.Fields {
			for _, d := range f.Directives {
				if d.Name != DirectiveName {
					continue
				}
				for _, err := range checkUse(d, reg, c) {
					errs = append(errs, fmt.Errorf("graphql: @%s on %s.%s: %w", DirectiveName, tn, f.Name, err))
				}
				if name, ok := stringArg(d, "name"); ok && name != "" {
					names = append(names, name)
				} else if def.Kind == ast.Object {
					names = append(names, c.key(tn, f.Name))
				}
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, name := range names {
		if _, err := reg.Guard(name, c.gopts...); err != nil {
			errs = append(errs, fmt.Errorf("graphql: guard %q: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// checkDeclaration compares the schema's declaration of the directive with
// Schema.
func checkDeclaration(d *ast.DirectiveDefinition) error {
	want := []string{"name", "fallback", "timeout"}
	var got []string
	for _, a := range d.Arguments {
		got = append(got, a.Name)
		if !slices.Contains(want, a.Name) || a.Type == nil || a.Type.NamedType != "String" || a.Type.NonNull {
			return fmt.Errorf("graphql: the schema declares @%s with argument %s: %s; declare it as in graphql.Schema: %s",
				DirectiveName, a.Name, a.Type, Schema)
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("graphql: the schema declares @%s with arguments (%s); declare it as in graphql.Schema: %s",
			DirectiveName, strings.Join(got, ", "), Schema)
	}
	if !slices.Contains(d.Locations, ast.LocationFieldDefinition) {
		return fmt.Errorf("graphql: the schema declares @%s without FIELD_DEFINITION; declare it as in graphql.Schema: %s",
			DirectiveName, Schema)
	}
	return nil
}

// checkUse checks one use of the directive.
func checkUse(d *ast.Directive, reg *core.Registry, c *config) []error {
	var errs []error
	if name, ok := stringArg(d, "name"); ok {
		switch {
		case name == "":
			errs = append(errs, errors.New(`name: "" must not be empty (leave it out for the field's key)`))
		case !known(name, reg):
			errs = append(errs, fmt.Errorf("name: %q is the name of no guard and matches no policy of the registry", name))
		}
	}
	if fb, ok := stringArg(d, "fallback"); ok {
		if _, registered := c.fallbacks[fb]; !registered {
			errs = append(errs, fmt.Errorf("fallback: %q is not registered (see WithFallback)", fb))
		}
	}
	if t, ok := stringArg(d, "timeout"); ok {
		if _, err := parseTimeout(t); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// stringArg returns the value of the directive's argument name, and whether
// it is given (and not null).
func stringArg(d *ast.Directive, name string) (string, bool) {
	a := d.Arguments.ForName(name)
	if a == nil || a.Value == nil || a.Value.Kind == ast.NullValue {
		return "", false
	}
	return a.Value.Raw, true
}

// known reports whether name is a guard of reg, or a policy's name, or
// matched by a policy's pattern.
func known(name string, reg *core.Registry) bool {
	_, matched, err := reg.PolicyFor(name)
	return err == nil && matched
}
