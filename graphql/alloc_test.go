package graphql_test

import (
	"context"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
	"github.com/breakerbox/breakerbox/graphql/internal/testserver"
)

// TestZeroAllocs pins the hot paths: a guarded field admitted by a guard
// that exists, and a field the middleware leaves alone, allocate nothing.
func TestZeroAllocs(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "bulk", Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 4}}))
	d := bbgraphql.Directive(reg)
	f := bbgraphql.Fields(reg)
	sel := bbgraphql.Fields(reg, bbgraphql.GuardFields("Query.hello"))
	ctx := fieldContext("Query", "quote", true)
	bulkCtx := fieldContext("Query", "price", true)
	keyedCtx := fieldContext("Query", "slow", true)
	trivialCtx := fieldContext("Quote", "symbol", false)
	name, bulk := "quotes", "bulk"
	for _, c := range []struct {
		name string
		fn   func()
	}{
		{"directive named", func() { _, _ = d(ctx, nil, trivial, &name, nil, nil) }},
		{"directive keyed", func() { _, _ = d(keyedCtx, nil, trivial, nil, nil, nil) }},
		{"directive with bulkhead", func() { _, _ = d(bulkCtx, nil, trivial, &bulk, nil, nil) }},
		{"fields guarded", func() { _, _ = f.InterceptField(ctx, trivial) }},
		{"fields trivial", func() { _, _ = f.InterceptField(trivialCtx, trivial) }},
		{"fields unselected", func() { _, _ = sel.InterceptField(ctx, trivial) }},
	} {
		c.fn() // create the guard, fill the caches
		if n := testing.AllocsPerRun(1000, c.fn); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", c.name, n)
		}
	}
}

func TestPanickingResolverIsAFailureAndFreesItsSlot(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{
		Name:     "quotes",
		Breaker:  tripAfter(5, time.Hour),
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1},
	}))
	res := &testserver.Resolver{QuoteFn: func(context.Context, string) (*testserver.Quote, error) {
		panic("resolver bug")
	}}
	s := newTestServer(t, reg, res, nil)
	for range 2 { // the second would be rejected if the first kept its slot
		r := s.query(t, `{ quote(symbol: "ACME") { price } hello }`)
		if e := r.errorAt(t, "quote"); e.Extensions["code"] != nil {
			t.Fatalf("panic reported as %+v", e)
		}
		if r.data(t)["hello"] != "hello" {
			t.Fatalf("data %s", r.Data)
		}
	}
	snap := mustGuard(t, reg, "quotes").Snapshot()
	if snap.Breaker.Failed != 2 || snap.Bulkhead.InUse != 0 {
		t.Fatalf("failed %d, bulkhead in use %d; want 2 and 0", snap.Breaker.Failed, snap.Bulkhead.InUse)
	}
}
