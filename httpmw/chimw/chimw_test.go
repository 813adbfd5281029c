package chimw_test

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/httpmw/chimw"
	"github.com/breakerbox/breakerbox/httpmw/internal/routertest"
)

// flaky answers 500 while failing is set and counts the requests it sees.
type flaky struct {
	failing atomic.Bool
	hits    atomic.Int64
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	if f.failing.Load() {
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	}
	_, _ = io.WriteString(w, "item "+chi.URLParam(r, "id"))
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }

// logBuffer collects a slog text handler's lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestChiUseGivesEachRouteItsGuard is the incident of issue 18: with
// httpmw.Middleware in chi's Use, every route shared the guard "unmatched",
// and a failing route got /healthz answered 503. chimw.Middleware in the
// same place gives each route its guard: the failing route trips alone.
// httpmw.Middleware in that place still shares one guard (it cannot see
// chi's route), but now says so in the log, naming chi's route and chimw.
func TestChiUseGivesEachRouteItsGuard(t *testing.T) {
	var logs logBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	for name, tc := range map[string]struct {
		mw      func(*core.Registry) func(http.Handler) http.Handler
		healthz int
		guards  []string
	}{
		"chimw": {
			func(reg *core.Registry) func(http.Handler) http.Handler {
				return chimw.Middleware(reg, httpmw.WithLogger(logger))
			},
			http.StatusOK, []string{"GET /healthz", "GET /items/{id}"},
		},
		"httpmw alone": {
			func(reg *core.Registry) func(http.Handler) http.Handler {
				return httpmw.Middleware(reg, httpmw.WithLogger(logger))
			},
			http.StatusServiceUnavailable, []string{httpmw.UnmatchedKey},
		},
	} {
		t.Run(name, func(t *testing.T) {
			reg := routertest.Registry(t, "inbound", time.Hour)
			f := &flaky{}
			f.failing.Store(true)
			r := chi.NewRouter()
			r.Use(tc.mw(reg))
			r.Get("/items/{id}", f.ServeHTTP)
			r.Get("/healthz", ok)
			srv := httptest.NewServer(r)
			defer srv.Close()

			for _, id := range []string{"1", "2", "3"} {
				if resp, _ := routertest.Do(t, "GET", srv.URL+"/items/"+id); resp.StatusCode != 500 {
					t.Fatalf("status %d, want 500", resp.StatusCode)
				}
			}
			if resp, _ := routertest.Do(t, "GET", srv.URL+"/items/4"); resp.StatusCode != 503 {
				t.Fatalf("failing route: status %d, want 503 once its breaker opened", resp.StatusCode)
			}
			if resp, _ := routertest.Do(t, "GET", srv.URL+"/healthz"); resp.StatusCode != tc.healthz {
				t.Errorf("/healthz: status %d, want %d", resp.StatusCode, tc.healthz)
			}
			if got := routertest.GuardNames(reg); !slices.Equal(got, tc.guards) {
				t.Errorf("guards %q, want %q", got, tc.guards)
			}
		})
	}
	out := logs.String()
	if n := strings.Count(out, "\n"); n != 2 {
		t.Fatalf("logged %d lines, want 2 (httpmw alone: served, then rejected, under unmatched):\n%s", n, out)
	}
	for _, want := range []string{"routed_as=/items/{id}", "httpmw/chimw", `rejected by the guard \"unmatched\"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log does not say %q:\n%s", want, out)
		}
	}
}

// TestChiPositions: Use on the root router, Use in a subrouter, Group and
// With all name a route by its full pattern.
func TestChiPositions(t *testing.T) {
	reg := routertest.Registry(t, "inbound", time.Hour)
	mw := chimw.Middleware(reg)
	r := chi.NewRouter()
	r.With(mw).Get("/with/{id}", ok)
	r.Group(func(r chi.Router) {
		r.Use(mw)
		r.Post("/group/{id:[0-9]+}", ok)
	})
	r.Route("/api", func(r chi.Router) {
		r.Use(mw)
		r.Get("/items/{id}", ok)
		r.Route("/v2", func(r chi.Router) {
			r.Put("/items/{id}/*", ok)
		})
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	for _, req := range [][2]string{{"GET", "/with/1"}, {"POST", "/group/2"}, {"GET", "/api/items/3"}, {"PUT", "/api/v2/items/4/a/b"}} {
		if resp, body := routertest.Do(t, req[0], srv.URL+req[1]); resp.StatusCode != 200 {
			t.Fatalf("%s: %d %q", req, resp.StatusCode, body)
		}
	}
	want := []string{"GET /api/items/{id}", "GET /with/{id}", "POST /group/{id}", "PUT /api/v2/items/{id}/{...}"}
	if got := routertest.GuardNames(reg); !slices.Equal(got, want) {
		t.Errorf("guards %q, want %q", got, want)
	}
	routes, err := chimw.Routes(r)
	if err != nil || !slices.Equal(routes, want) {
		t.Errorf("Routes: %q, %v; want %q", routes, err, want)
	}
}

// TestChiNaming: the naming table every router test module serves; chi
// gives each route the name a ServeMux gives it, with WithPolicy's policy.
func TestChiNaming(t *testing.T) {
	reg := routertest.Registry(t, "other", time.Hour)
	if err := reg.SetPolicies(core.Policy{Name: "inbound", Breaker: &core.BreakerPolicy{Mode: "metrics-only"}}); err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(chimw.Middleware(reg, httpmw.WithPolicy("inbound")))
	for _, rt := range routertest.Routes {
		r.MethodFunc(rt.Method, rt.Chi, ok)
	}
	srv := httptest.NewServer(r)
	defer srv.Close()
	routertest.CheckNaming(t, srv.URL, reg, "inbound")
}

// TestChiRoutesValidate: the route list Routes gives lets httpmw.Validate
// find a policy pattern that misses the routes, before any request.
func TestChiRoutesValidate(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "reads", Match: []string{"GET /*"}}))
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(chimw.Middleware(reg))
	r.Get("/quote/{sku}", ok)
	r.Handle("/healthz", http.HandlerFunc(ok)) // every method
	routes, err := chimw.Routes(r)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(routes, "GET /quote/{sku}") || !slices.Contains(routes, "POST /healthz") || !slices.Contains(routes, "GET /healthz") {
		t.Fatalf("routes %q", routes)
	}
	err = httpmw.Validate(reg, routes)
	if err == nil || !strings.Contains(err.Error(), `route "GET /quote/{sku}" takes the default policy`) || !strings.Contains(err.Error(), `"GET /**" would`) {
		t.Errorf("Validate: %v", err)
	}
}

// TestChiUnmatched: requests chi answers 404 or 405 share the unmatched
// guard, without a warning.
func TestChiUnmatched(t *testing.T) {
	reg := routertest.Registry(t, "inbound", time.Hour)
	var logs logBuffer
	r := chi.NewRouter()
	r.Use(chimw.Middleware(reg, httpmw.WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))))
	r.Get("/items/{id}", ok)
	srv := httptest.NewServer(r)
	defer srv.Close()
	for _, req := range [][2]string{{"GET", "/nowhere"}, {"DELETE", "/items/1"}, {"BREW", "/items/1"}} {
		resp, _ := routertest.Do(t, req[0], srv.URL+req[1])
		if resp.StatusCode != 404 && resp.StatusCode != 405 {
			t.Fatalf("%s: status %d", req, resp.StatusCode)
		}
	}
	if got := routertest.GuardNames(reg); !slices.Equal(got, []string{httpmw.UnmatchedKey}) {
		t.Errorf("guards %q", got)
	}
	if s := logs.String(); s != "" {
		t.Errorf("logged %s", s)
	}
}

// TestChiStreaming: server-sent events flush through the middleware under
// chi, event by event.
func TestChiStreaming(t *testing.T) {
	reg := routertest.Registry(t, "inbound", time.Hour)
	next := make(chan struct{})
	r := chi.NewRouter()
	r.Use(chimw.Middleware(reg))
	r.Get("/events", func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for _, ev := range []string{"a", "b"} {
			_, _ = io.WriteString(w, "data: "+ev+"\n\n")
			if err := rc.Flush(); err != nil {
				t.Errorf("Flush: %v", err)
			}
			<-next
		}
	})
	srv := httptest.NewServer(r)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for _, ev := range []string{"a", "b"} {
		line, err := br.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != "data: "+ev {
			t.Fatalf("event %q: %q, %v", ev, line, err)
		}
		_, _ = br.ReadString('\n')
		next <- struct{}{}
	}
}

// TestChiRecovers: the breaker of a route opens, rejects without reaching
// the handler, and closes again after a good probe.
func TestChiRecovers(t *testing.T) {
	reg := routertest.Registry(t, "inbound", 20*time.Millisecond)
	f := &flaky{}
	f.failing.Store(true)
	r := chi.NewRouter()
	r.Use(chimw.Middleware(reg))
	r.Get("/items/{id}", f.ServeHTTP)
	srv := httptest.NewServer(r)
	defer srv.Close()
	for range 3 {
		routertest.Do(t, "GET", srv.URL+"/items/1")
	}
	if resp, _ := routertest.Do(t, "GET", srv.URL+"/items/2"); resp.StatusCode != 503 || f.hits.Load() != 3 {
		t.Fatalf("open: status %d, %d hits", resp.StatusCode, f.hits.Load())
	}
	f.failing.Store(false)
	g, _ := reg.Lookup("GET /items/{id}")
	deadline := time.Now().Add(10 * time.Second) // a bound on the open timer, not a timing assertion
	for g.Breaker().State() != breaker.HalfOpen && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if resp, body := routertest.Do(t, "GET", srv.URL+"/items/3"); resp.StatusCode != 200 || body != "item 3" {
		t.Fatalf("probe: %d %q", resp.StatusCode, body)
	}
	if s := g.Breaker().State(); s != breaker.Closed {
		t.Errorf("state %v, want closed", s)
	}
}

// TestChiAddsNoAllocations: finding the route of a root route costs no
// allocation beyond chi's own and httpmw's (none).
func TestChiAddsNoAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need the full run, without the race detector")
	}
	reg := routertest.Registry(t, "inbound", time.Hour)
	bare, guarded := chi.NewRouter(), chi.NewRouter()
	guarded.Use(chimw.Middleware(reg))
	for _, r := range []*chi.Mux{bare, guarded} {
		r.Get("/items/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(204) })
	}
	rec := httptest.NewRecorder()
	measure := func(h http.Handler) float64 {
		req := httptest.NewRequest("GET", "/items/1", nil)
		h.ServeHTTP(rec, req)
		return testing.AllocsPerRun(500, func() { h.ServeHTTP(rec, req) })
	}
	b, g := measure(bare), measure(guarded)
	if g != b {
		t.Errorf("chi alone: %v allocations a request; with chimw: %v", b, g)
	}
}
