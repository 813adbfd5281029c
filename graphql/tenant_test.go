package graphql_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/breakerbox/breakerbox/core"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
	"github.com/breakerbox/breakerbox/graphql/internal/testserver"
)

// tenantFromHeader is a WithTenant function reading the X-Tenant header of
// the operation's HTTP request, as gqlgen keeps it.
func tenantFromHeader(ctx context.Context) string {
	if !graphql.HasOperationContext(ctx) {
		return ""
	}
	return graphql.GetOperationContext(ctx).Headers.Get("X-Tenant")
}

func TestDirectiveTenantFromContext(t *testing.T) {
	reg := newRegistry(t)
	_, err := reg.Apply(core.Document{
		Policies: []core.Policy{{Name: "quotes", Breaker: tripAfter(5, time.Minute)}, {Name: "any", Match: []string{"*"}}},
		Tenants: &core.TenantPolicy{Overrides: []core.TenantOverride{{
			Tenant: "acme", Policies: []core.Policy{{Name: "quotes", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1}}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	var calls atomic.Int64
	down.Store(true)
	res := failingQuotes(&down, &calls)
	quote := res.QuoteFn
	res.QuoteFn = func(ctx context.Context, symbol string) (*testserver.Quote, error) {
		if tn, _ := core.TenantFrom(ctx); tn == "" {
			t.Error("the resolver's context carries no tenant")
		}
		return quote(ctx, symbol)
	}
	s := newTestServer(t, reg, res, []bbgraphql.Option{bbgraphql.WithTenant(tenantFromHeader)})

	const q = `{ quote(symbol: "BB") { symbol } }`
	s.query(t, q, "X-Tenant", "acme")
	if r := s.query(t, q, "X-Tenant", "acme"); len(r.Errors) == 0 {
		t.Fatal("acme's second query was not rejected")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d acme queries reached the resolver, want 1 (its guard trips after one failure)", n)
	}
	for range 3 {
		s.query(t, q, "X-Tenant", "globex")
	}
	if n := calls.Load(); n != 4 {
		t.Fatalf("globex queries were rejected: %d reached the resolver, want 4", n)
	}
	if g := mustGuard(t, reg, "quotes{tenant=acme}"); g.Breaker().State().String() != "open" {
		t.Fatalf("acme's guard is %s", g.Breaker().State())
	}
	if g := mustGuard(t, reg, "quotes"); g.Breaker().State().String() != "closed" {
		t.Fatalf("the field's guard is %s", g.Breaker().State())
	}
}
