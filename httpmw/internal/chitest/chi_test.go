package chitest

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/httpmw/internal/routertest"
	"github.com/go-chi/chi/v5"
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

func status(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitState polls the breaker for at most 10 seconds (its open timer).
func waitState(t *testing.T, g *core.Guard, want breaker.State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.Breaker().State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("state %v, want %v", g.Breaker().State(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// exercise fails three requests, checks that the breaker of guard opens
// and rejects without reaching the handler, then recovers.
func exercise(t *testing.T, srv *httptest.Server, reg *core.Registry, f *flaky, guard string) {
	t.Helper()
	f.failing.Store(true)
	for range 3 {
		if s := status(t, srv.URL+"/items/1"); s != 500 {
			t.Fatalf("status %d, want 500", s)
		}
	}
	g, ok := reg.Lookup(guard)
	if !ok {
		var names []string
		for _, s := range reg.Snapshot() {
			names = append(names, s.Name)
		}
		t.Fatalf("no guard %q; guards: %q", guard, names)
	}
	if s := status(t, srv.URL+"/items/2"); s != http.StatusServiceUnavailable {
		t.Fatalf("open breaker: status %d, want 503", s)
	}
	if n := f.hits.Load(); n != 3 {
		t.Fatalf("handler saw %d requests, want 3", n)
	}
	f.failing.Store(false)
	waitState(t, g, breaker.HalfOpen)
	if s := status(t, srv.URL+"/items/3"); s != 200 {
		t.Fatalf("probe: status %d", s)
	}
	if s := g.Breaker().State(); s != breaker.Closed {
		t.Fatalf("state %v after a good probe, want closed", s)
	}
}

// TestChiInlineMiddleware mounts the middleware on a route with With: chi
// sets r.Pattern before inline middleware runs, so the default key works.
func TestChiInlineMiddleware(t *testing.T) {
	reg := routertest.Registry(t, "chi", 50*time.Millisecond)
	f := &flaky{}
	r := chi.NewRouter()
	r.With(httpmw.Middleware(reg)).Get("/items/{id}", f.ServeHTTP)
	srv := httptest.NewServer(r)
	defer srv.Close()
	exercise(t, srv, reg, f, "/items/{id}")
}

// TestChiRouterMiddleware mounts the middleware for the whole router with
// Use, which runs before routing; a key function asks the router for the
// route.
func TestChiRouterMiddleware(t *testing.T) {
	reg := routertest.Registry(t, "chi", 50*time.Millisecond)
	f := &flaky{}
	r := chi.NewRouter()
	r.Use(httpmw.Middleware(reg, httpmw.WithKey(func(req *http.Request) string {
		if p := r.Find(chi.NewRouteContext(), req.Method, req.URL.Path); p != "" {
			return req.Method + " " + p
		}
		return ""
	})))
	r.Get("/items/{id}", f.ServeHTTP)
	srv := httptest.NewServer(r)
	defer srv.Close()
	exercise(t, srv, reg, f, "GET /items/{id}")

	if s := status(t, srv.URL+"/nowhere"); s != 404 {
		t.Fatalf("status %d, want 404", s)
	}
	if _, ok := reg.Lookup(httpmw.UnmatchedKey); !ok {
		t.Error("unrouted requests did not go to the unmatched guard")
	}
}

// TestChiStreaming: server-sent events flush through the middleware under
// chi, event by event.
func TestChiStreaming(t *testing.T) {
	reg := routertest.Registry(t, "chi", 50*time.Millisecond)
	next := make(chan struct{})
	r := chi.NewRouter()
	r.With(httpmw.Middleware(reg)).Get("/events", func(w http.ResponseWriter, req *http.Request) {
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
