package graphql_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
)

func TestCachedGuardAnswersStaleWithExtension(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "quotes",
		Cache: &core.CachePolicy{MaxStaleness: core.Duration(time.Hour), MaxEntries: 100}}))
	var down atomic.Bool
	var calls atomic.Int64
	s := newTestServer(t, reg, failingQuotes(&down, &calls), nil)
	const q = `{ quote(symbol: "ACME") { symbol price } hello }`
	r := s.query(t, q)
	if len(r.Errors) != 0 || r.Extensions[bbgraphql.StaleExtension] != nil {
		t.Fatalf("fresh: errors %+v, extensions %v", r.Errors, r.Extensions)
	}
	down.Store(true)
	r = s.query(t, q)
	if len(r.Errors) != 0 || jsonString(r.data(t)) != `{"hello":"hello","quote":{"price":42,"symbol":"ACME"}}` {
		t.Fatalf("down: errors %+v, data %s; want the cached quote", r.Errors, r.Data)
	}
	if r.Extensions[bbgraphql.StaleExtension] != true {
		t.Fatalf("down: extensions %v; want stale: true", r.Extensions)
	}
	// Another symbol has no cached answer: the field fails as before.
	r = s.query(t, `{ quote(symbol: "OTHER") { price } }`)
	if e := r.errorAt(t, "quote"); e.Message != errUpstream.Error() || r.Extensions[bbgraphql.StaleExtension] != nil {
		t.Fatalf("unknown symbol: %+v, extensions %v", e, r.Extensions)
	}
	if c := mustGuard(t, reg, "quotes").Snapshot().Cache; c.StaleServed != 1 || c.StaleMissing != 1 {
		t.Errorf("cache stats %+v", c)
	}
}
