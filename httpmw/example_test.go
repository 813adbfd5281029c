package httpmw_test

import (
	"errors"
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
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// Guard every route of a ServeMux, one guard per route pattern.
func ExampleMiddleware() {
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	getUser := func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "user", r.PathValue("id"))
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", getUser)
	handler := httpmw.Middleware(reg)(mux) // serve it: http.ListenAndServe(addr, handler)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/users/7", nil))
	fmt.Print(rec.Code, " ", rec.Body)

	// An operator forces the route's breaker open for maintenance.
	_, _ = reg.ForceOpen(core.Name("GET /users/{id}"), breaker.Manual{Actor: "ops", Reason: "maintenance"})
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/users/7", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), "Retry-After:", rec.Header().Get("Retry-After"))
	fmt.Print(rec.Body)
	// Output:
	// 200 user 7
	// 503 application/problem+json Retry-After: 1
	// {"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The circuit breaker \"GET /users/{id}\" is open: requests are refused for now.","guard":"GET /users/{id}","reason":"circuit_open","retryAfter":1}
}

// Guard calls to a dependency: once its breaker opens, calls fail fast
// without reaching it.
func ExampleNewTransport() {
	var hits atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer upstream.Close()

	reg, _ := core.NewRegistry(core.WithDefaultPolicy(core.Policy{
		Name:    "outbound",
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 3, DisableFailureRate: true, OpenDuration: core.Duration(time.Minute)},
	}))
	client := &http.Client{Transport: httpmw.NewTransport(nil, httpmw.WithRegistry(reg))}

	for range 3 {
		resp, err := client.Get(upstream.URL)
		if err == nil {
			fmt.Println(resp.Status)
			resp.Body.Close()
		}
	}
	_, err := client.Get(upstream.URL)
	retryAfter, _ := core.RetryAfter(err)
	fmt.Println("rejected:", errors.Is(err, core.ErrRejected), "retry after ~1m:", retryAfter > 59*time.Second)
	fmt.Println("requests that reached the server:", hits.Load())
	// Output:
	// 503 Service Unavailable
	// 503 Service Unavailable
	// 503 Service Unavailable
	// rejected: true retry after ~1m: true
	// requests that reached the server: 3
}

// Retry idempotent requests, and POSTs that carry an idempotency key.
func ExampleWithRetrier() {
	var hits atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1)%2 == 1 { // every other request fails
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s", r.Method, body)
	}))
	defer upstream.Close()

	retrier, _ := retry.New(retry.Config{MaxAttempts: 3, InitialDelay: time.Millisecond})
	client := &http.Client{Transport: httpmw.NewTransport(nil, httpmw.WithRetrier(retrier))}

	show := func(req *http.Request) {
		resp, err := client.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %q after %d attempts\n", resp.StatusCode, body, hits.Swap(0))
	}
	req, _ := http.NewRequest("GET", upstream.URL, nil)
	show(req)
	req, _ = http.NewRequest("POST", upstream.URL, strings.NewReader("order-1"))
	show(req) // not idempotent: not retried
	req, _ = http.NewRequest("POST", upstream.URL, strings.NewReader("order-2"))
	req.Header.Set("Idempotency-Key", "order-2")
	show(req)
	// Output:
	// 200 "GET " after 2 attempts
	// 503 "" after 1 attempts
	// 200 "POST order-2" after 2 attempts
}

// Limit each client address to a request rate before the route's guard.
func ExampleWithLimiter() {
	reg, _ := core.NewRegistry()
	perClient, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{
		Config: ratelimit.Config{Limit: 1, Per: time.Minute},
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /search", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "results") })
	handler := httpmw.Middleware(reg, httpmw.WithLimiter(httpmw.ClientIP, perClient))(mux)

	for range 2 {
		req := httptest.NewRequest("GET", "/search", nil)
		req.RemoteAddr = "203.0.113.9:51234"
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Printf("%d Retry-After=%q\n", rec.Code, rec.Header().Get("Retry-After"))
	}
	// Output:
	// 200 Retry-After=""
	// 429 Retry-After="60"
}

// A handler reports a failed dependency call that it still answered 200.
func ExampleSetError() {
	reg, _ := core.NewRegistry()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /home", func(w http.ResponseWriter, r *http.Request) {
		httpmw.SetError(w, errors.New("recommendations unavailable"))
		fmt.Fprint(w, "home page without recommendations")
	})
	handler := httpmw.Middleware(reg)(mux)
	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/home", nil))

	g, _ := reg.Lookup("GET /home")
	fmt.Println("failures:", g.Snapshot().Breaker.Failed)
	// Output:
	// failures: 1
}

// Count slow responses as failures, on top of the default rules.
func ExampleWithClassifier() {
	slow := func(o breaker.Outcome) breaker.Result {
		if o.Latency > 2*time.Second {
			return breaker.Failure
		}
		return httpmw.ServerClassifier(o)
	}
	reg, _ := core.NewRegistry()
	handler := httpmw.Middleware(reg, httpmw.WithClassifier(slow))(http.NotFoundHandler())
	_ = handler
}

// Key guards by something other than the route: here a tenant tier, a
// small bounded set.
func ExampleWithKey() {
	reg, _ := core.NewRegistry()
	byTier := httpmw.WithKey(func(r *http.Request) string {
		switch r.Header.Get("X-Tier") {
		case "gold", "silver":
			return "tier." + r.Header.Get("X-Tier")
		}
		return "tier.free"
	})
	handler := httpmw.Middleware(reg, byTier, httpmw.WithTags("inbound"))(http.NotFoundHandler())

	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Tier", "gold")
	handler.ServeHTTP(httptest.NewRecorder(), req)
	for _, s := range reg.Snapshot() {
		fmt.Println(s.Name, s.Tags)
	}
	// Output:
	// tier.gold [inbound]
}

// The inbound policy the package recommends, checked against the routes
// when the server starts: the breaker measures, the bulkhead sheds.
func Example_inboundPolicy() {
	inbound := core.Policy{
		Name:     "inbound",
		Match:    []string{"GET /**", "POST /**"},
		Breaker:  &core.BreakerPolicy{Mode: "metrics-only"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 200, MaxQueue: 100, MaxWait: core.Duration(time.Second)},
	}
	reg, err := core.NewRegistry(core.WithPolicies(inbound))
	if err != nil {
		log.Fatal(err)
	}
	ok := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") }
	handlers := map[string]http.HandlerFunc{"GET /quote/{sku}": ok, "POST /orders": ok, "GET /healthz": ok}
	opts := []httpmw.Option{httpmw.WithTags("inbound")}
	mux := http.NewServeMux()

	routes := []string{"GET /quote/{sku}", "POST /orders", "GET /healthz"}
	for _, route := range routes {
		mux.HandleFunc(route, handlers[route])
	}
	if err := httpmw.Validate(reg, routes, opts...); err != nil {
		log.Fatal(err)
	}
	handler := httpmw.Middleware(reg, opts...)(mux)

	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/quote/abc", nil))
	for _, s := range reg.Snapshot() { // Validate created every route's guard
		fmt.Println(s.Name, s.Policy, s.Breaker.State, s.Tags, "admitted:", s.Breaker.Admitted)
	}
	// Output:
	// GET /healthz inbound metrics-only [inbound] admitted: 0
	// GET /quote/{sku} inbound metrics-only [inbound] admitted: 1
	// POST /orders inbound metrics-only [inbound] admitted: 0
}

// Check at start-up that the policies fit the routes: here "GET /*" stays
// within one segment and misses "GET /quote/{sku}".
func ExampleValidate() {
	reg, _ := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:    "inbound",
		Match:   []string{"GET /*"},
		Breaker: &core.BreakerPolicy{Mode: "metrics-only"},
	}))
	routes := []string{"GET /quote/{sku}"}
	mux := http.NewServeMux()
	for _, route := range routes {
		mux.Handle(route, http.NotFoundHandler())
	}
	fmt.Println(httpmw.Validate(reg, routes))
	// Output:
	// httpmw: route "GET /quote/{sku}" takes the default policy "default": no policy is named after it or matches it; policy "inbound" has Match "GET /*", which does not match it; "GET /**" would ("*" stays within one "/"-separated segment, "**" crosses them)
	// httpmw: policy "inbound": match pattern "GET /*" matches no route; "GET /**" would ("*" stays within one "/"-separated segment, "**" crosses them)
}

// A handler relays its dependency's rejection: 503 with the dependency's
// Retry-After, without naming it in a public API.
func ExampleWriteError() {
	pricing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "4200")
	}))
	defer pricing.Close()
	pricingURL := pricing.URL + "/price"

	deps, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: httpmw.NewTransport(nil, httpmw.WithRegistry(deps))}
	// An operator takes the pricing service's guard (named by its host) out
	// for a minute.
	deps.MustGuard(pricing.Listener.Addr().String()).OpenFor(time.Minute, breaker.Manual{Actor: "ops", Reason: "maintenance"})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /quote/{sku}", func(w http.ResponseWriter, r *http.Request) {
		resp, err := client.Get(pricingURL)
		if err != nil {
			httpmw.WriteError(w, r, err)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	})
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	handler := httpmw.Middleware(reg, httpmw.WithDetails(false))(mux)

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/quote/abc", nil))
	fmt.Println(rec.Code, "Retry-After:", rec.Header().Get("Retry-After"))
	fmt.Print(rec.Body)
	// Output:
	// 503 Retry-After: 60
	// {"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The service cannot handle the request for now: try again later.","reason":"circuit_open","retryAfter":60}
}

// The guard name of a route, whichever router serves it.
func ExampleRouteName() {
	fmt.Println(httpmw.RouteName("GET", "/quote/{sku}")) // chi
	fmt.Println(httpmw.RouteName("GET", "/quote/:sku"))  // gin, echo
	fmt.Println(httpmw.RouteName("GET", "/files/*path")) // gin's catch-all
	// Output:
	// GET /quote/{sku}
	// GET /quote/{sku}
	// GET /files/{path...}
}

// The inbound policy the package recommends: the breaker measures, the
// bulkhead sheds. A route whose dependency fails is not cut off by its own
// breaker, and works again as soon as the dependency does.
func ExampleWithPolicy() {
	inbound := core.Policy{
		Name:     "inbound",
		Breaker:  &core.BreakerPolicy{Mode: "metrics-only"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 200},
	}
	reg, err := core.NewRegistry(core.WithPolicies(inbound))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /quote/{sku}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "pricing is down", http.StatusBadGateway)
	})
	handler := httpmw.Middleware(reg, httpmw.WithPolicy("inbound"))(mux)
	for range 50 {
		handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/quote/abc", nil))
	}
	s := reg.MustGuard("GET /quote/{sku}").Snapshot().Breaker
	fmt.Println(s.State, "failed:", s.Failed, "rejected:", s.Rejected)
	// Output:
	// metrics-only failed: 50 rejected: 0
}
