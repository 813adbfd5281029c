package chimw_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/go-chi/chi/v5"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/httpmw/chimw"
)

// Guard every route of a chi router, each with a guard of its own, from
// the router's Use.
func ExampleMiddleware() {
	reg, _ := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:     "inbound",
		Match:    []string{"GET /**"},
		Breaker:  &core.BreakerPolicy{Mode: "metrics-only"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 100},
	}))
	r := chi.NewRouter()
	r.Use(chimw.Middleware(reg))
	r.Get("/quote/{sku}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "quote", chi.URLParam(r, "sku"))
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {})

	routes, _ := chimw.Routes(r)
	fmt.Println(routes, httpmw.Validate(reg, routes))

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/quote/abc", nil))
	fmt.Print(rec.Body)
	for _, g := range reg.Snapshot() {
		fmt.Println(g.Name, g.Policy, g.Breaker.Admitted)
	}
	// Output:
	// [GET /healthz GET /quote/{sku}] <nil>
	// quote abc
	// GET /healthz inbound 0
	// GET /quote/{sku} inbound 1
}
