package graphql_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
	"github.com/breakerbox/breakerbox/graphql/internal/testserver"
)

func TestFieldsGuardsResolversByDefault(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "weather", Match: []string{"Query.weather"}, Breaker: tripAfter(2, time.Hour)}))
	var calls atomic.Int64
	res := &testserver.Resolver{WeatherFn: func(context.Context, string) (*string, error) {
		calls.Add(1)
		return nil, errors.New("weather service down")
	}}
	s := newTestServer(t, reg, res, nil, bbgraphql.Fields(reg, bbgraphql.WithTags("graphql")))
	const q = `{ weather(city: "Oslo") hello quote(symbol: "ACME") { symbol } }`
	for range 2 {
		r := s.query(t, q)
		if e := r.errorAt(t, "weather"); e.Message != "weather service down" {
			t.Fatalf("failure: %+v", e)
		}
	}
	r := s.query(t, q)
	if e := r.errorAt(t, "weather"); e.Extensions["code"] != bbgraphql.CodeCircuitOpen || e.Extensions["retryAfter"] == nil {
		t.Fatalf("rejection: %+v", e)
	}
	if calls.Load() != 2 {
		t.Fatalf("resolver called %d times, want 2", calls.Load())
	}
	if got := jsonString(r.data(t)); got != `{"hello":"hello","quote":{"symbol":"ACME"},"weather":null}` {
		t.Fatalf("partial result %s", got)
	}

	// Keys are Type.field; resolvers only; the directive's fields are
	// left to the directive; tags apply.
	g := mustGuard(t, reg, "Query.weather")
	if g.Policy().Name != "weather" || !g.HasTag("graphql") || g.Breaker().State() != breaker.Open {
		t.Fatalf("guard %v: policy %q tags %v", g, g.Policy().Name, g.Tags())
	}
	mustGuard(t, reg, "Query.hello")
	for _, name := range []string{"Quote.symbol", "Query.quote"} {
		if _, ok := reg.Lookup(name); ok {
			t.Errorf("guard %q exists: trivial fields and fields under @breaker must not be guarded by Fields", name)
		}
	}
	// Operators act on the group by tag.
	if _, err := reg.Release(core.Tag("graphql"), breaker.Manual{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

func TestFieldsSelection(t *testing.T) {
	reg := newRegistry(t)
	s := newTestServer(t, reg, &testserver.Resolver{}, nil, bbgraphql.Fields(reg,
		bbgraphql.GuardTypes("Quote"),
		bbgraphql.GuardFields("Query.weather"),
		bbgraphql.GuardFunc(func(fc *graphql.FieldContext) bool { return fc.Object == "Portfolio" && fc.Field.Name == "owner" }),
		bbgraphql.WithKey(func(typ, field string) string { return "gql." + typ + "." + field }),
	))
	r := s.query(t, `{ weather(city: "Oslo") hello quote(symbol: "ACME") { symbol price } portfolio { owner } }`)
	if len(r.Errors) != 0 {
		t.Fatal(r.Errors)
	}
	for _, name := range []string{"gql.Query.weather", "gql.Quote.symbol", "gql.Quote.price", "gql.Portfolio.owner"} {
		mustGuard(t, reg, name)
	}
	for _, name := range []string{"gql.Query.hello", "gql.Query.portfolio", "Query.hello"} {
		if _, ok := reg.Lookup(name); ok {
			t.Errorf("guard %q exists, but its field was not selected", name)
		}
	}
}

func TestFieldsPolicyTimeoutKeepsChildrenAlive(t *testing.T) {
	// Query.portfolio's policy gives its resolver a deadline, cancelled
	// when it returns; its child Portfolio.news resolves afterwards and
	// must see a live context.
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "Query.portfolio", TotalTimeout: core.Duration(time.Minute)}))
	res := &testserver.Resolver{NewsFn: func(ctx context.Context) (*string, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := "fresh"
		return &s, nil
	}}
	s := newTestServer(t, reg, res, nil, bbgraphql.Fields(reg, bbgraphql.GuardFields("Query.portfolio")))
	r := s.query(t, `{ portfolio { owner news } }`)
	if len(r.Errors) != 0 || jsonString(r.data(t)) != `{"portfolio":{"news":"fresh","owner":"ada"}}` {
		t.Fatalf("got %+v %s", r.Errors, r.Data)
	}
	mustGuard(t, reg, "Query.portfolio")
}

func TestFieldsValidate(t *testing.T) {
	reg := newRegistry(t)
	es := testserver.New(&testserver.Resolver{}, testserver.DirectiveRoot{Breaker: bbgraphql.Directive(reg)})
	f := bbgraphql.Fields(reg, bbgraphql.GuardTypes("Qoute", "Query"), bbgraphql.GuardFields("Query.wether", "weather", "Query.weather"))
	err := f.Validate(es)
	if err == nil {
		t.Fatal("no error for unknown types and fields")
	}
	for _, want := range []string{`GuardTypes: "Qoute"`, `GuardFields: "Query.wether"`, `GuardFields: "weather"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	for _, bad := range []string{`"Query"`, `"Query.weather"`} {
		if strings.Contains(err.Error(), bad) {
			t.Errorf("error %q reports %s, which exists", err, bad)
		}
	}
	// gqlgen calls Validate when the extension is added, at start-up.
	func() {
		defer func() {
			if recover() == nil {
				t.Error("srv.Use did not report the bad selection")
			}
		}()
		handler.New(es).Use(f)
	}()
	if err := bbgraphql.Fields(reg, bbgraphql.GuardTypes("Query"), bbgraphql.GuardFields("Query.weather")).Validate(es); err != nil {
		t.Fatal(err)
	}
	if err := bbgraphql.Fields(nil).Validate(es); err == nil {
		t.Fatal("no error without a registry")
	}
}
