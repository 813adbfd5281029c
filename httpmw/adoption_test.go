package httpmw_test

// Tests of the surprises of a new user's first hour (issue 18): silent
// misconfiguration, route names across routers, span names of rejected
// requests, relaying a dependency's error.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/httpmw/internal/routertest"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// logBuffer collects what a slog text handler writes, safely for
// concurrent requests.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the lines logged so far.
func (b *logBuffer) lines() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(b.buf.String())
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

func registryWith(t testing.TB, opts ...core.Option) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// TestMiddlewareWarnsOnceWhenRouteTakesDefaultPolicy: the example's policy
// matched "GET /*", which does not match "GET /quote/{sku}" ("*" stays in
// one segment), and the route silently took the default policy. Now the
// first request logs it once, with the pattern that would match.
func TestMiddlewareWarnsOnceWhenRouteTakesDefaultPolicy(t *testing.T) {
	reg := registryWith(t, core.WithPolicies(core.Policy{Name: "routes", Match: []string{"GET /*"}}))
	mux := http.NewServeMux()
	mux.Handle("GET /quote/{sku}", trivial)
	mux.Handle("GET /hello", trivial)
	logger, logs := newLogger()
	srv := httptest.NewServer(httpmw.Middleware(reg, httpmw.WithLogger(logger))(mux))
	defer srv.Close()

	for _, p := range []string{"/hello", "/quote/a", "/quote/b", "/hello"} {
		get(t, srv.Client(), srv.URL+p)
	}
	lines := logs.lines()
	if len(lines) != 1 {
		t.Fatalf("logged %d lines, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for _, want := range []string{"level=WARN", "default policy", `guard="GET /quote/{sku}"`, `policy=default`, `\"GET /**\" would`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("the line does not say %q:\n%s", want, lines[0])
		}
	}
}

// TestMiddlewareDoesNotWarnWhenDefaultIsTheOnlyPolicy: a registry whose only
// policy is its default gives it to every route by design; WithPolicy picks
// a policy explicitly; requests no route matches (404) are no mistake.
func TestMiddlewareDoesNotWarnWhenDefaultIsTheOnlyPolicy(t *testing.T) {
	inbound := core.Policy{Name: "inbound", Breaker: &core.BreakerPolicy{Mode: "metrics-only"}}
	for name, tc := range map[string]struct {
		reg  *core.Registry
		opts []httpmw.Option
	}{
		"only a default":   {registryWith(t, core.WithDefaultPolicy(inbound)), nil},
		"no policy at all": {registryWith(t), nil},
		"WithPolicy":       {registryWith(t, core.WithPolicies(inbound, core.Policy{Name: "other", Match: []string{"x.*"}})), []httpmw.Option{httpmw.WithPolicy("inbound")}},
	} {
		t.Run(name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.Handle("GET /quote/{sku}", trivial)
			logger, logs := newLogger()
			srv := httptest.NewServer(httpmw.Middleware(tc.reg, append(tc.opts, httpmw.WithLogger(logger))...)(mux))
			defer srv.Close()
			get(t, srv.Client(), srv.URL+"/quote/a")
			get(t, srv.Client(), srv.URL+"/nowhere")
			if lines := logs.lines(); len(lines) != 0 {
				t.Errorf("logged:\n%s", strings.Join(lines, "\n"))
			}
		})
	}
}

// TestMiddlewareBeforeRoutingWarnsAboutUnmatched is the incident of issue
// 18 with the standard library alone: a router that routes after the
// middleware ran (here StripPrefix in front of the mux; chi's Use does the
// same) leaves every route on the guard "unmatched", so one failing route
// got /healthz rejected. The middleware cannot name the routes, but it now
// says so, once, pointing at the fix.
func TestMiddlewareBeforeRoutingWarnsAboutUnmatched(t *testing.T) {
	reg := newRegistry(t, tripPolicy("inbound", time.Hour))
	f := &flaky{}
	f.failing.Store(true)
	mux := http.NewServeMux()
	mux.Handle("GET /items/{id}", f)
	mux.Handle("GET /healthz", trivial)
	logger, logs := newLogger()
	srv := httptest.NewServer(httpmw.Middleware(reg, httpmw.WithPolicy("inbound"), httpmw.WithLogger(logger))(http.StripPrefix("/api", mux)))
	defer srv.Close()

	for range 3 {
		get(t, srv.Client(), srv.URL+"/api/items/1")
	}
	if resp := get(t, srv.Client(), srv.URL+"/api/healthz"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/healthz: %d; the test no longer reproduces the shared guard", resp.StatusCode)
	}
	lines := logs.lines()
	if len(lines) != 2 {
		t.Fatalf("logged %d lines, want 2 (served, then rejected, under unmatched):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	for i, want := range [][]string{
		{"level=WARN", `served under the guard \"unmatched\"`, "status=500", "httpmw/chimw", "With or Group"},
		{"level=WARN", `rejected by the guard \"unmatched\"`, "path=/api/healthz"},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("line %d does not say %q:\n%s", i, w, lines[i])
			}
		}
	}
}

// TestMiddlewareWarnsWhenRouterSetsPatternAfterIt: a router that sets
// r.Pattern while it routes (as chi does) shows what the guard should have
// been called.
func TestMiddlewareWarnsWhenRouterSetsPatternAfterIt(t *testing.T) {
	reg := newRegistry(t)
	router := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Pattern = "/items/{id}" // routed, after the middleware
		http.NotFound(w, r)       // even a 404 from a matched route counts
	})
	logger, logs := newLogger()
	h := httpmw.Middleware(reg, httpmw.WithLogger(logger))(router)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/items/1", nil))
	lines := logs.lines()
	if len(lines) != 1 || !strings.Contains(lines[0], `routed_as=/items/{id}`) {
		t.Fatalf("logged:\n%s", strings.Join(lines, "\n"))
	}
}

// TestTransportWarnsOnceWhenHostTakesDefaultPolicy: a policy meant for a
// dependency that the transport's guard (keyed by host:port) does not take.
func TestTransportWarnsOnceWhenHostTakesDefaultPolicy(t *testing.T) {
	upstream := httptest.NewServer(trivial)
	defer upstream.Close()
	reg := registryWith(t, core.WithPolicies(core.Policy{Name: "inventory-api"}))
	logger, logs := newLogger()
	client := &http.Client{Transport: httpmw.NewTransport(nil, httpmw.WithRegistry(reg), httpmw.WithLogger(logger))}
	for range 2 {
		get(t, client, upstream.URL)
	}
	host := strings.TrimPrefix(upstream.URL, "http://")
	lines := logs.lines()
	if len(lines) != 1 || !strings.Contains(lines[0], `guard=`+host) || !strings.Contains(lines[0], "WithKey") {
		t.Fatalf("logged:\n%s", strings.Join(lines, "\n"))
	}
}

// TestValidateFindsPatternsThatMatchNoRoute: the start-up check reports
// the example's "GET /*" (and says "GET /**" would match), a method-less
// pattern, a pattern an earlier policy shadows, and the routes that take
// the default policy; it leaves patterns of other guards alone.
func TestValidateFindsPatternsThatMatchNoRoute(t *testing.T) {
	reg := registryWith(t, core.WithPolicies(
		core.Policy{Name: "routes", Match: []string{"GET /*"}},
		core.Policy{Name: "writes", Match: []string{"/shops/**"}},
		core.Policy{Name: "all-gets", Match: []string{"GET /**"}},
		core.Policy{Name: "quotes", Match: []string{"GET /quote/*"}},
		core.Policy{Name: "grpc", Match: []string{"/pkg.Inventory/*"}},
		core.Policy{Name: "stripe", Match: []string{"api.stripe.com:*", "payments.*"}},
	))
	routes := []string{"GET /quote/{sku}", "POST /shops/{shop}/orders"}
	err := httpmw.Validate(reg, routes)
	if err == nil {
		t.Fatal("Validate found nothing")
	}
	msg := err.Error()
	for _, want := range []string{
		`policy "routes": match pattern "GET /*" matches no route; "GET /**" would ("*" stays within one "/"-separated segment, "**" crosses them)`,
		`policy "writes": match pattern "/shops/**" matches no route; "* /shops/**" would (route names start with their method)`,
		`policy "quotes": match pattern "GET /quote/*" matches only routes an earlier policy takes (GET /quote/{sku} takes "all-gets")`,
		`route "POST /shops/{shop}/orders" takes the default policy "default"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say\n\t%s\nit says\n%s", want, msg)
		}
	}
	for _, not := range []string{"grpc", "stripe", `route "GET /quote/{sku}"`} {
		if strings.Contains(msg, not) {
			t.Errorf("the error mentions %s:\n%s", not, msg)
		}
	}
	if n := len(reg.Snapshot()); n != 0 {
		t.Errorf("a failed Validate created %d guards", n)
	}
}

// TestValidateCreatesGuards: with nothing to report, every route's guard
// exists after Validate, with its policy and the options' tags.
func TestValidateCreatesGuards(t *testing.T) {
	reg := registryWith(t, core.WithPolicies(
		core.Policy{Name: "reads", Match: []string{"GET /**"}},
		core.Policy{Name: "writes", Match: []string{"* /shops/**"}},
		core.Policy{Name: "grpc", Match: []string{"/pkg.Inventory/*"}},
	))
	routes := []string{"GET /quote/{sku}", "POST /shops/{shop}/orders"}
	if err := httpmw.Validate(reg, routes, httpmw.WithTags("inbound")); err != nil {
		t.Fatal(err)
	}
	for route, policy := range map[string]string{"GET /quote/{sku}": "reads", "POST /shops/{shop}/orders": "writes"} {
		g := mustGuard(t, reg, route)
		if g.Policy().Name != policy || !g.HasTag("inbound") {
			t.Errorf("guard %q: policy %q, tags %v; want %q and inbound", route, g.Policy().Name, g.Tags(), policy)
		}
	}
}

func TestValidateBadInput(t *testing.T) {
	reg := registryWith(t, core.WithPolicies(core.Policy{Name: "inbound"}))
	for _, tc := range []struct {
		reg    *core.Registry
		routes []string
		opts   []httpmw.Option
		want   string
	}{
		{nil, []string{"GET /x"}, nil, "needs a registry"},
		{reg, nil, nil, "needs the routes"},
		{reg, []string{"GET /x", ""}, []httpmw.Option{httpmw.WithPolicy("inbound")}, "routes[1] is empty"},
		{reg, []string{"GET /x"}, []httpmw.Option{httpmw.WithPolicy("inbund")}, `WithPolicy("inbund"): core: unknown policy "inbund"`},
	} {
		err := httpmw.Validate(tc.reg, tc.routes, tc.opts...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%v, %q): %v, want an error saying %q", tc.reg != nil, tc.routes, err, tc.want)
		}
	}
	// With WithPolicy every route takes it: nothing else to check.
	if err := httpmw.Validate(reg, []string{"GET /x"}, httpmw.WithPolicy("inbound")); err != nil {
		t.Errorf("Validate with WithPolicy: %v", err)
	}
	if g := mustGuard(t, reg, "GET /x"); g.Policy().Name != "inbound" {
		t.Errorf("guard policy %q", g.Policy().Name)
	}
}

func TestRouteName(t *testing.T) {
	for _, tc := range []struct{ method, pattern, want string }{
		{"GET", "/quote/{sku}", "GET /quote/{sku}"},                      // chi
		{"GET", "/quote/:sku", "GET /quote/{sku}"},                       // gin, echo
		{"GET", "/quote/{sku:[a-z]{3}}", "GET /quote/{sku}"},             // chi regexp
		{"GET", "/files/*path", "GET /files/{path...}"},                  // gin catch-all
		{"GET", "/files/*", "GET /files/{...}"},                          // chi, echo catch-all
		{"PUT", "/a/:b/c/:d", "PUT /a/{b}/c/{d}"},                        //
		{"GET", "/date/{y}-{m}", "GET /date/{y}-{m}"},                    // chi, within a segment
		{"GET", "/a:b/c*", "GET /a:b/c*"},                                // not at a segment's start
		{"BREW", "/pot/:id", "BREW /pot/{id}"},                           // not cached
		{"", "/quote/:sku", "/quote/{sku}"},                              //
		{"GET", "/broken/{x", "GET /broken/{x"},                          //
		{"GET", "/", "GET /"},                                            //
		{"GET", "/quote/:sku", "GET /quote/{sku}"},                       // cached now
		{"PATCH", "/shops/{shop:[0-9]+}/*", "PATCH /shops/{shop}/{...}"}, //
	} {
		if got := httpmw.RouteName(tc.method, tc.pattern); got != tc.want {
			t.Errorf("RouteName(%q, %q) = %q, want %q", tc.method, tc.pattern, got, tc.want)
		}
	}
	httpmw.RouteName("GET", "/cached/:id")
	if n := testing.AllocsPerRun(100, func() { httpmw.RouteName("GET", "/cached/:id") }); n != 0 {
		t.Errorf("naming a known route: %v allocations, want 0", n)
	}
}

// TestServeMuxNaming: the naming table of every router test module
// (routertest.Routes), served by a ServeMux; the router modules check that
// chi, gin and echo give the same names.
func TestServeMuxNaming(t *testing.T) {
	reg := registryWith(t, core.WithPolicies(core.Policy{Name: "inbound", Breaker: &core.BreakerPolicy{Mode: "metrics-only"}}))
	mux := http.NewServeMux()
	for _, r := range routertest.Routes {
		mux.Handle(r.ServeMux, trivial)
	}
	srv := httptest.NewServer(httpmw.Middleware(reg, httpmw.WithPolicy("inbound"))(mux))
	defer srv.Close()
	routertest.CheckNaming(t, srv.URL, reg, "inbound")
}

// TestRejectedRequestCarriesItsRoute: a request the middleware rejects never
// reaches the mux, which sets r.Pattern; otelhttp, outside, then named its
// span "GET" instead of the route. The middleware now sets r.Pattern itself
// when it found the route in the mux, for guard and limiter rejections.
func TestRejectedRequestCarriesItsRoute(t *testing.T) {
	reg := newRegistry(t)
	mux := http.NewServeMux()
	mux.Handle("GET /quote/{sku}", trivial)
	limiter, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Limit: 1, Per: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	byHeader := func(r *http.Request) string { return r.Header.Get("X-Client") }
	var seen []string
	var mu sync.Mutex
	outer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			mu.Lock()
			seen = append(seen, r.Pattern)
			mu.Unlock()
		})
	}
	srv := httptest.NewServer(outer(httpmw.Middleware(reg, httpmw.WithLimiter(byHeader, limiter))(mux)))
	defer srv.Close()
	do := func(client string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/quote/abc", nil)
		req.Header.Set("X-Client", client)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := do("a"); s != 200 {
		t.Fatalf("status %d", s)
	}
	if s := do("a"); s != http.StatusTooManyRequests {
		t.Fatalf("limited: status %d", s)
	}
	_, _ = reg.ForceOpen(core.Name("GET /quote/{sku}"), breaker.Manual{Actor: "test"})
	if s := do("b"); s != http.StatusServiceUnavailable {
		t.Fatalf("forced open: status %d", s)
	}
	want := []string{"GET /quote/{sku}", "GET /quote/{sku}", "GET /quote/{sku}"}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Errorf("r.Pattern after admitted, limited, rejected: %q, want %q", seen, want)
	}
}

// pricing is a dependency behind a Transport, and the quote service in front
// of it whose handler relays the dependency's errors with WriteError.
type pricing struct {
	upstream *httptest.Server
	dep      *flaky
	out      *core.Registry // the transport's guards
	front    *httptest.Server
}

func newPricing(t *testing.T, outOpen time.Duration, reg *core.Registry, opts ...httpmw.Option) *pricing {
	t.Helper()
	p := &pricing{dep: &flaky{}}
	p.upstream = httptest.NewServer(p.dep)
	t.Cleanup(p.upstream.Close)
	p.out = newRegistry(t, tripPolicy("pricing", outOpen))
	client := &http.Client{Transport: httpmw.NewTransport(nil, httpmw.WithRegistry(p.out), httpmw.WithPolicy("pricing"))}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /quote/{sku}", func(w http.ResponseWriter, r *http.Request) {
		resp, err := client.Get(p.upstream.URL + "/price/" + r.PathValue("sku"))
		if err != nil {
			httpmw.WriteError(w, r, err)
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 500 {
			httpmw.WriteError(w, r, fmt.Errorf("pricing answered %s", resp.Status))
			return
		}
		_, _ = io.Copy(w, resp.Body)
	})
	p.front = httptest.NewServer(httpmw.Middleware(reg, opts...)(mux))
	t.Cleanup(p.front.Close)
	return p
}

func (p *pricing) host() string { return strings.TrimPrefix(p.upstream.URL, "http://") }

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWriteErrorRelaysDependencyRejection: once the dependency's breaker
// opens, the handler's one WriteError line answers 503 with the rejection's
// Retry-After and a problem document naming the dependency's guard.
func TestWriteErrorRelaysDependencyRejection(t *testing.T) {
	p := newPricing(t, time.Hour, newRegistry(t))
	p.dep.failing.Store(true)
	for range 3 {
		resp := get(t, p.front.Client(), p.front.URL+"/quote/a")
		if body := readAll(t, resp); resp.StatusCode != 500 || !strings.Contains(body, "pricing answered 500") {
			t.Fatalf("failing dependency: %d %q", resp.StatusCode, body)
		}
	}
	resp := get(t, p.front.Client(), p.front.URL+"/quote/a")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("open dependency: status %d, want 503", resp.StatusCode)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 3500 {
		t.Errorf("Retry-After %q, want about an hour", resp.Header.Get("Retry-After"))
	}
	if doc := decodeProblem(t, resp); doc.Guard != p.host() || doc.Reason != "circuit_open" || doc.Status != 503 {
		t.Errorf("problem %+v, want guard %q and circuit_open", doc, p.host())
	}
	if n := p.dep.hits.Load(); n != 3 {
		t.Errorf("the dependency saw %d requests, want 3", n)
	}
}

// TestWithDetailsFalseHidesGuardsAndHosts: in a public API, neither the
// middleware's rejections nor WriteError's documents name a guard, a route
// or the dependency's host:port; status, Retry-After and reason stay.
func TestWithDetailsFalseHidesGuardsAndHosts(t *testing.T) {
	reg := newRegistry(t)
	p := newPricing(t, time.Hour, reg, httpmw.WithDetails(false))
	p.dep.failing.Store(true)
	for range 3 {
		resp := get(t, p.front.Client(), p.front.URL+"/quote/a")
		if body := readAll(t, resp); resp.StatusCode != 500 || body != `{"type":"about:blank","title":"Internal Server Error","status":500,"detail":"Internal Server Error."}`+"\n" {
			t.Fatalf("failing dependency: %d %q", resp.StatusCode, body)
		}
	}
	resp := get(t, p.front.Client(), p.front.URL+"/quote/a")
	body := readAll(t, resp)
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if strings.Contains(body, p.host()) || strings.Contains(body, "127.0.0.1") || strings.Contains(body, `"guard"`) || !strings.Contains(body, `"reason":"circuit_open"`) {
		t.Errorf("public rejection relayed: %s", body)
	}

	// The dependency gone: 502 without its address.
	p.upstream.Close()
	_, _ = p.out.Reset(core.All(), breaker.Manual{Actor: "test"})
	resp = get(t, p.front.Client(), p.front.URL+"/quote/a")
	if body := readAll(t, resp); resp.StatusCode != http.StatusBadGateway || strings.Contains(body, "127.0.0.1") {
		t.Errorf("unreachable dependency: %d %s", resp.StatusCode, body)
	}

	// The middleware's own rejection of the route.
	_, _ = reg.ForceOpen(core.Name("GET /quote/{sku}"), breaker.Manual{Actor: "test"})
	resp = get(t, p.front.Client(), p.front.URL+"/quote/a")
	body = readAll(t, resp)
	if resp.StatusCode != 503 || strings.Contains(body, "quote") || strings.Contains(body, `"guard"`) {
		t.Errorf("public rejection: %d %s", resp.StatusCode, body)
	}
}

// TestWriteErrorStatuses: the status WriteError answers each kind of error
// with, outside any middleware (details shown).
func TestWriteErrorStatuses(t *testing.T) {
	closed := httptest.NewServer(trivial)
	closedURL := closed.URL
	closed.Close()
	_, refused := http.Get(closedURL)
	expired, cancel := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel()
	req, _ := http.NewRequestWithContext(expired, "GET", closedURL, nil)
	_, timedOut := http.DefaultClient.Do(req)

	for _, tc := range []struct {
		name   string
		err    error
		status int
		body   []string
	}{
		{"refused", refused, 502, []string{`"status":502`, strings.TrimPrefix(closedURL, "http://")}},
		{"deadline", timedOut, 504, []string{`"title":"Gateway Timeout"`}},
		{"bare deadline", fmt.Errorf("pricing: %w", context.DeadlineExceeded), 504, nil},
		{"rate limited", ratelimit.ErrLimited, 429, []string{`"reason":"rate_limited"`, `"detail":"Too many requests: try again later."`}},
		{"other", errors.New("decoding the price: unexpected EOF"), 500, []string{`"detail":"decoding the price: unexpected EOF"`}},
	} {
		rec := httptest.NewRecorder()
		httpmw.WriteError(rec, httptest.NewRequest("GET", "/", nil), tc.err)
		if rec.Code != tc.status || rec.Header().Get("Content-Type") != "application/problem+json" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s (%v): %d %v, want %d problem+json", tc.name, tc.err, rec.Code, rec.Header(), tc.status)
		}
		for _, want := range tc.body {
			if !strings.Contains(rec.Body.String(), want) {
				t.Errorf("%s: body %s does not hold %s", tc.name, rec.Body, want)
			}
		}
	}
	rec := httptest.NewRecorder()
	httpmw.WriteError(rec, httptest.NewRequest("GET", "/", nil), nil)
	if rec.Code != 200 || rec.Body.Len() != 0 || len(rec.Header()) != 0 {
		t.Errorf("nil error: wrote %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	httpmw.WriteError(rec, httptest.NewRequest("HEAD", "/", nil), refused)
	if rec.Code != 502 || rec.Body.Len() != 0 {
		t.Errorf("HEAD: %d with %d bytes", rec.Code, rec.Body.Len())
	}
}

// TestWriteErrorUsesTheMiddlewaresRejectionWriter: a rejection relayed in a
// handler is answered as the middleware answers its own.
func TestWriteErrorUsesTheMiddlewaresRejectionWriter(t *testing.T) {
	var got httpmw.Rejection
	custom := httpmw.WithRejectionWriter(func(w http.ResponseWriter, r *http.Request, rej httpmw.Rejection) {
		got = rej
		w.WriteHeader(rej.Status)
	})
	g := newRegistry(t).MustGuard("pricing")
	g.ForceOpen(breaker.Manual{Actor: "test"})
	_, rejected := g.Allow(context.Background())
	h := httpmw.Middleware(newRegistry(t), custom)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpmw.WriteError(w, r, fmt.Errorf("pricing: %w", rejected))
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 503 || got.Guard != "pricing" || got.Reason != "circuit_open" || !errors.Is(got.Err, core.ErrRejected) {
		t.Errorf("status %d, rejection %+v", rec.Code, got)
	}
}

// TestMetricsOnlyInboundRecoversWithDependency pins the inbound pattern the
// package doc recommends. A route's 5xx came from a failing dependency: a
// tripping inbound breaker kept rejecting the route after the dependency
// recovered, while a metrics-only one lets the first request through.
func TestMetricsOnlyInboundRecoversWithDependency(t *testing.T) {
	tripping := newRegistry(t, tripPolicy("inbound", time.Hour))
	metricsOnly := newRegistry(t, core.Policy{
		Name:     "inbound",
		Breaker:  &core.BreakerPolicy{Mode: "metrics-only"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 100},
	})
	for name, tc := range map[string]struct {
		reg  *core.Registry
		want int
	}{
		"tripping":     {tripping, http.StatusServiceUnavailable},
		"metrics-only": {metricsOnly, http.StatusOK},
	} {
		t.Run(name, func(t *testing.T) {
			p := newPricing(t, 20*time.Millisecond, tc.reg, httpmw.WithPolicy("inbound"))
			p.dep.failing.Store(true)
			for range 3 {
				get(t, p.front.Client(), p.front.URL+"/quote/a")
			}
			p.dep.failing.Store(false) // the dependency recovers
			waitState(t, mustGuard(t, p.out, p.host()), breaker.HalfOpen)
			resp := get(t, p.front.Client(), p.front.URL+"/quote/a")
			if resp.StatusCode != tc.want {
				t.Fatalf("after the dependency recovered: %d, want %d", resp.StatusCode, tc.want)
			}
			if s := mustGuard(t, tc.reg, "GET /quote/{sku}").Snapshot().Breaker; s.Failed != 3 {
				t.Errorf("the inbound guard counted %d failures, want 3 (metrics-only still measures)", s.Failed)
			}
		})
	}
}

// TestMiddlewareUnmatchedHintNamesTheKeyFunction: with WithKey, a request
// served under "unmatched" comes from the key function, not the router.
func TestMiddlewareUnmatchedHintNamesTheKeyFunction(t *testing.T) {
	logger, logs := newLogger()
	h := httpmw.Middleware(newRegistry(t), httpmw.WithLogger(logger), httpmw.WithKey(func(*http.Request) string { return "" }))(trivial)
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil))
	if lines := logs.lines(); len(lines) != 1 || !strings.Contains(lines[0], "WithKey function returned") || strings.Contains(lines[0], "chimw") {
		t.Errorf("logged:\n%s", strings.Join(lines, "\n"))
	}
}
