package graphql_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/fallback"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
	"github.com/breakerbox/breakerbox/graphql/internal/testserver"
)

func loadSchema(t *testing.T, sdl string) *ast.Schema {
	t.Helper()
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "test.graphqls", Input: sdl})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func noFallback(context.Context, fallback.Cause) (any, error) { return nil, errors.New("none") }

func TestValidate(t *testing.T) {
	sdl := bbgraphql.Schema + `
type Query {
  a: String @breaker(name: "payments.charge", fallback: "cached", timeout: "2s")
  b: String @breaker
  c: String @breaker(name: "existing")
  d: String @breaker(name: "payment.charge")
  e: String @breaker(fallback: "nope", timeout: "2 seconds")
  f: String @breaker(name: "", timeout: "-1s")
  g: String @breaker(name: "inventory")
}
`
	reg := newRegistryStrict(t, core.WithPolicies(
		core.Policy{Name: "payments", Match: []string{"payments.*"}},
		core.Policy{Name: "inventory"},
	))
	reg.MustGuard("existing")
	err := bbgraphql.Validate(loadSchema(t, sdl), reg, bbgraphql.WithFallback("cached", noFallback))
	if err == nil {
		t.Fatal("no error")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		`graphql: @breaker on Query.d: name: "payment.charge" is the name of no guard and matches no policy of the registry`,
		`graphql: @breaker on Query.e: fallback: "nope" is not registered (see WithFallback)`,
		`graphql: @breaker on Query.e: timeout: "2 seconds" is not a duration (such as "500ms" or "2s")`,
		`graphql: @breaker on Query.f: name: "" must not be empty (leave it out for the field's key)`,
		`graphql: @breaker on Query.f: timeout: "-1s" must be positive`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("errors:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}
}

func TestValidateDeclaration(t *testing.T) {
	reg := newRegistryStrict(t)
	for _, decl := range []string{
		`directive @breaker(name: String) on FIELD_DEFINITION`,
		`directive @breaker(name: String!, fallback: String, timeout: String) on FIELD_DEFINITION`,
		`directive @breaker(name: String, fallback: String, timeout: Int) on FIELD_DEFINITION`,
		`directive @breaker(name: String, fallback: String, timeout: String, policy: String) on FIELD_DEFINITION`,
		`directive @breaker(name: String, fallback: String, timeout: String) on OBJECT`,
	} {
		err := bbgraphql.Validate(loadSchema(t, decl+"\ntype Query { a: String }"), reg)
		if err == nil || !strings.Contains(err.Error(), "declare it as in graphql.Schema") {
			t.Errorf("%s: error %v", decl, err)
		}
	}
	// No directive at all: nothing to check.
	if err := bbgraphql.Validate(loadSchema(t, "type Query { a: String }"), reg); err != nil {
		t.Fatal(err)
	}
	if bbgraphql.Validate(nil, reg) == nil || bbgraphql.Validate(loadSchema(t, "type Query { a: String }"), nil) == nil {
		t.Fatal("no error for a nil schema or registry")
	}
}

func TestValidateTestSchema(t *testing.T) {
	// The generated schema exposes what gqlgen parsed, directives included.
	reg := newRegistryStrict(t, core.WithPolicies(core.Policy{Name: "market", Match: []string{"quotes", "prices", "news", "bench"}}))
	es := testserver.New(&testserver.Resolver{}, testserver.DirectiveRoot{})
	if err := bbgraphql.Validate(es.Schema(), reg, bbgraphql.WithFallback("cachedQuote", noFallback)); err != nil {
		t.Fatal(err)
	}
	err := bbgraphql.Validate(es.Schema(), reg)
	if err == nil || !strings.Contains(err.Error(), `@breaker on Query.cachedQuote: fallback: "cachedQuote" is not registered`) {
		t.Fatalf("error %v", err)
	}
}

// newRegistryStrict is newRegistry without the catch-all policy.
func newRegistryStrict(t *testing.T, opts ...core.Option) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}
