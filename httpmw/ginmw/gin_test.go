package ginmw_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/httpmw/ginmw"
	"github.com/breakerbox/breakerbox/httpmw/internal/routertest"
	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // no debug lines on stdout, where examples print
	os.Exit(m.Run())
}

// statuses records the status gin reports (c.Writer.Status()) after the
// rest of the chain ran, per path, as a logging middleware would see it.
type statuses struct {
	mu   sync.Mutex
	seen []string
}

func (s *statuses) middleware(c *gin.Context) {
	c.Next()
	s.mu.Lock()
	s.seen = append(s.seen, c.Request.URL.Path+" "+strconv.Itoa(c.Writer.Status()))
	s.mu.Unlock()
}

func (s *statuses) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := s.seen
	s.seen = nil
	return seen
}

// TestGinEngineUse mounts Middleware for the whole engine: one guard per
// route, named by gin's route and not by the URL; a failing route trips and
// is then refused without running its handler, while another route keeps
// working; gin's own middleware sees every status, rejections included.
func TestGinEngineUse(t *testing.T) {
	reg := routertest.Registry(t, "gin", time.Hour)
	var log statuses
	var itemHits, healthHits atomic.Int64
	engine := gin.New()
	engine.Use(log.middleware, ginmw.Middleware(reg))
	engine.GET("/items/:id", func(c *gin.Context) {
		itemHits.Add(1)
		c.String(http.StatusInternalServerError, "item %s: database down", c.Param("id"))
	})
	engine.GET("/health", func(c *gin.Context) {
		healthHits.Add(1)
		c.String(http.StatusOK, "ok")
	})
	srv := httptest.NewServer(engine)
	defer srv.Close()

	for _, id := range []string{"1", "2", "1"} {
		if resp, body := routertest.Do(t, "GET", srv.URL+"/items/"+id); resp.StatusCode != 500 || body != "item "+id+": database down" {
			t.Fatalf("/items/%s: %d %q, want the handler's 500", id, resp.StatusCode, body)
		}
	}
	if got, want := routertest.GuardNames(reg), []string{"GET /items/{id}"}; !slices.Equal(got, want) {
		t.Fatalf("guards %q, want %q (one per route, not per URL)", got, want)
	}
	g, _ := reg.Lookup("GET /items/{id}")
	if s := g.Snapshot().Breaker; s.State != breaker.Open || s.Failed != 3 {
		t.Fatalf("breaker %v with %d failures, want open with 3", s.State, s.Failed)
	}

	resp, body := routertest.Do(t, "GET", srv.URL+"/items/9")
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("open breaker: status %d, want 503", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || ra < 3500 {
		t.Errorf("Retry-After %q, want about an hour", resp.Header.Get("Retry-After"))
	}
	var problem struct {
		Status int    `json:"status"`
		Guard  string `json:"guard"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal([]byte(body), &problem); err != nil || problem.Status != 503 ||
		problem.Guard != "GET /items/{id}" || problem.Reason != "circuit_open" {
		t.Errorf("problem body %q (%v)", body, err)
	}
	if n := itemHits.Load(); n != 3 {
		t.Errorf("item handler ran %d times, want 3: a rejected request must not reach it", n)
	}

	if resp, body := routertest.Do(t, "GET", srv.URL+"/health"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("/health: %d %q, want 200 while another route's breaker is open", resp.StatusCode, body)
	}
	if n := healthHits.Load(); n != 1 {
		t.Errorf("health handler ran %d times, want 1", n)
	}
	hs, _ := reg.Lookup("GET /health")
	if hs == nil || hs.Breaker().State() != breaker.Closed {
		t.Errorf("guard GET /health: %v, want a closed guard of its own", hs)
	}

	want := []string{"/items/1 500", "/items/2 500", "/items/1 500", "/items/9 503", "/health 200"}
	if got := log.take(); !slices.Equal(got, want) {
		t.Errorf("gin saw statuses %q, want %q", got, want)
	}
}

// TestGinPanic: with gin.Recovery mounted before Middleware, a panicking
// handler is answered 500 by gin and counted as a failure by the guard.
func TestGinPanic(t *testing.T) {
	reg := routertest.Registry(t, "gin", time.Hour)
	var hits atomic.Int64
	engine := gin.New()
	engine.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, _ any) {
		c.AbortWithStatus(http.StatusInternalServerError)
	}), ginmw.Middleware(reg))
	engine.GET("/boom", func(*gin.Context) {
		hits.Add(1)
		panic("boom")
	})
	srv := httptest.NewServer(engine)
	defer srv.Close()
	for range 3 {
		if resp, _ := routertest.Do(t, "GET", srv.URL+"/boom"); resp.StatusCode != 500 {
			t.Fatalf("status %d, want 500", resp.StatusCode)
		}
	}
	if resp, _ := routertest.Do(t, "GET", srv.URL+"/boom"); resp.StatusCode != 503 {
		t.Fatalf("status %d after three panics, want 503", resp.StatusCode)
	}
	if n := hits.Load(); n != 3 {
		t.Errorf("handler ran %d times, want 3", n)
	}
}

// TestGinGroup mounts Middleware on a route group: its routes are guarded,
// routes outside it are not.
func TestGinGroup(t *testing.T) {
	reg := routertest.Registry(t, "gin", time.Hour)
	engine := gin.New()
	api := engine.Group("/api", ginmw.Middleware(reg))
	api.POST("/orders/:id", func(c *gin.Context) { c.Status(http.StatusCreated) })
	engine.GET("/metrics", func(c *gin.Context) { c.String(http.StatusOK, "m") })
	srv := httptest.NewServer(engine)
	defer srv.Close()
	if resp, _ := routertest.Do(t, "POST", srv.URL+"/api/orders/7"); resp.StatusCode != 201 {
		t.Fatalf("status %d, want 201", resp.StatusCode)
	}
	if resp, _ := routertest.Do(t, "GET", srv.URL+"/metrics"); resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	if got, want := routertest.GuardNames(reg), []string{"POST /api/orders/{id}"}; !slices.Equal(got, want) {
		t.Fatalf("guards %q, want %q", got, want)
	}
	g, _ := reg.Lookup("POST /api/orders/{id}")
	if s := g.Snapshot().Breaker; s.Succeeded != 1 {
		t.Errorf("guard counted %d successes, want 1 (a 201 with no body)", s.Succeeded)
	}
}

// TestGinStreaming: a response streamed with c.Stream (which flushes
// c.Writer after each step) reaches its client step by step through the
// middleware, and counts as a success.
func TestGinStreaming(t *testing.T) {
	reg := routertest.Registry(t, "gin", time.Hour)
	next := make(chan struct{})
	engine := gin.New()
	engine.Use(ginmw.Middleware(reg))
	engine.GET("/ticks", func(c *gin.Context) {
		n := 0
		c.Stream(func(w io.Writer) bool {
			if n > 0 {
				<-next // the client read the previous tick: it was flushed
			}
			n++
			_, _ = io.WriteString(w, "tick "+strconv.Itoa(n)+"\n")
			return n < 3
		})
	})
	srv := httptest.NewServer(engine)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/ticks")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i := 1; i <= 3; i++ {
		line, err := br.ReadString('\n')
		if err != nil || line != "tick "+strconv.Itoa(i)+"\n" {
			t.Fatalf("tick %d: %q, %v", i, line, err)
		}
		if i < 3 {
			next <- struct{}{}
		}
	}
	// The body ends once the handler and the middleware have returned.
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the ticks: %q, %v", rest, err)
	}
	g, ok := reg.Lookup("GET /ticks")
	if !ok {
		t.Fatalf("no guard GET /ticks; guards %q", routertest.GuardNames(reg))
	}
	if s := g.Snapshot().Breaker; s.Succeeded != 1 || s.Failed != 0 {
		t.Errorf("streamed response: %d successes, %d failures, want 1 and 0", s.Succeeded, s.Failed)
	}
}

// TestGinUnmatched: requests that match no route, whatever their path and
// method, share the one unmatched guard, also when gin answers 405.
func TestGinUnmatched(t *testing.T) {
	reg := routertest.Registry(t, "gin", time.Hour)
	engine := gin.New()
	engine.HandleMethodNotAllowed = true
	engine.Use(ginmw.Middleware(reg))
	engine.GET("/items/:id", func(c *gin.Context) { c.String(http.StatusOK, "item") })
	srv := httptest.NewServer(engine)
	defer srv.Close()

	for i := range 50 {
		n := strconv.Itoa(i)
		if resp, _ := routertest.Do(t, "GET", srv.URL+"/nowhere/"+n); resp.StatusCode != 404 {
			t.Fatalf("status %d, want 404", resp.StatusCode)
		}
		if resp, _ := routertest.Do(t, "BREW"+n, srv.URL+"/items/"+n); resp.StatusCode != 405 {
			t.Fatalf("status %d, want 405", resp.StatusCode)
		}
	}
	if got, want := routertest.GuardNames(reg), []string{httpmw.UnmatchedKey}; !slices.Equal(got, want) {
		t.Fatalf("guards %q, want %q", got, want)
	}
	g, _ := reg.Lookup(httpmw.UnmatchedKey)
	if s := g.Snapshot().Breaker; s.Succeeded != 100 || s.State != breaker.Closed {
		t.Errorf("unmatched guard: %d successes, %v, want 100 and closed (4xx is no failure)", s.Succeeded, s.State)
	}
}
