package chimw_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/go-chi/chi/v5"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/httpmw/chimw"
)

// Guard every route of a chi router, each with a guard of its own, from
// the router's Use, and check the routes against the policies at start-up.
func ExampleMiddleware() {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:     "inbound",
		Breaker:  &core.BreakerPolicy{Mode: "metrics-only"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 100},
	}))
	if err != nil {
		log.Fatal(err)
	}
	quote := func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "quote", chi.URLParam(r, "sku"))
	}
	healthz := func(w http.ResponseWriter, r *http.Request) {}

	opts := []httpmw.Option{httpmw.WithPolicy("inbound")}
	r := chi.NewRouter()
	r.Use(chimw.Middleware(reg, opts...))
	r.Get("/quote/{sku}", quote) // guard "GET /quote/{sku}"
	r.Get("/healthz", healthz)   // guard "GET /healthz"

	routes, err := chimw.Routes(r)
	if err == nil {
		err = httpmw.Validate(reg, routes, opts...)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(routes)

	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, httptest.NewRequest("GET", "/quote/abc", nil))
	fmt.Print(rec.Body)
	for _, g := range reg.Snapshot() {
		fmt.Println(g.Name, g.Policy, g.Breaker.Admitted)
	}
	// Output:
	// [GET /healthz GET /quote/{sku}]
	// quote abc
	// GET /healthz inbound 0
	// GET /quote/{sku} inbound 1
}
