// Command httpserver shows httpmw's middleware on a ServeMux whose quote route
// calls a dependency, pricing. The inbound policy only measures and sheds; the
// breaker that trips is pricing's: quotes answer 503 with Retry-After while
// pricing is down, /healthz is untouched, and quotes work when pricing does.
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/httpmw"
)

func main() {
	var down atomic.Bool
	pricing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "database unavailable", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "42.50")
	}))
	defer pricing.Close()
	inbound := core.Policy{Name: "inbound", Match: []string{"GET /**"}, // "GET /*" would miss GET /quote/{sku}
		Breaker: &core.BreakerPolicy{Mode: "metrics-only"}, Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 100}}
	outbound := core.Policy{Name: "pricing", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 3, DisableFailureRate: true, OpenDuration: core.Duration(time.Second)}}
	reg, err := core.NewRegistry(core.WithPolicies(inbound, outbound))
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: httpmw.NewTransport(nil, httpmw.WithRegistry(reg), httpmw.WithPolicy("pricing"))}
	routes := []string{"GET /quote/{sku}", "GET /healthz"}
	mux := http.NewServeMux()
	mux.HandleFunc(routes[0], func(w http.ResponseWriter, r *http.Request) {
		resp, err := client.Get(pricing.URL + "/price/" + r.PathValue("sku"))
		if err != nil {
			httpmw.WriteError(w, r, err) // 503 + Retry-After while pricing's breaker is open
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	})
	mux.HandleFunc(routes[1], func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	if err := httpmw.Validate(reg, routes); err != nil { // a policy that misses a route stops us here
		log.Fatal(err)
	}
	srv := httptest.NewServer(httpmw.Middleware(reg, httpmw.WithDetails(false))(mux)) // the one line
	defer srv.Close()
	get := func(path string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("GET %-9s %d %s %s\n", path, resp.StatusCode, resp.Header.Get("Retry-After"), strings.TrimSpace(string(body)))
	}
	get("/quote/p1")
	down.Store(true)
	for range 4 {
		get("/quote/p1")
	}
	get("/healthz")
	down.Store(false) // pricing is back: wait until its breaker lets a probe through
	for g, _ := reg.Lookup(strings.TrimPrefix(pricing.URL, "http://")); g.Breaker().State() == breaker.Open; time.Sleep(10 * time.Millisecond) {
	}
	get("/quote/p1")
	s := reg.MustGuard("GET /quote/{sku}").Snapshot().Breaker
	fmt.Printf("route guard: %s, %d failed, %d rejected\n", s.State, s.Failed, s.Rejected)
}
