package echomw_test

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/httpmw/echomw"
	"github.com/breakerbox/breakerbox/httpmw/internal/routertest"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// requestLog is echo's request logger middleware, recording the status and
// error it sees for each request.
type requestLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *requestLog) middleware() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogURIPath: true,
		LogStatus:  true,
		LogError:   true,
		LogValuesFunc: func(_ echo.Context, v middleware.RequestLoggerValues) error {
			line := v.URIPath + " " + strconv.Itoa(v.Status)
			if v.Error != nil {
				line += " error"
			}
			l.mu.Lock()
			l.seen = append(l.seen, line)
			l.mu.Unlock()
			return nil
		},
	})
}

func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	seen := l.seen
	l.seen = nil
	return seen
}

// TestEchoUse mounts Middleware for the whole server: one guard per route,
// named by echo's route and not by the URL; a route whose handler fails
// (by writing a 500 or by returning an error) trips and is then refused
// without running its handler, while another route keeps working; echo's
// request logger sees every status, rejections included, and the
// handlers' errors.
func TestEchoUse(t *testing.T) {
	reg := routertest.Registry(t, "echo", time.Hour)
	var log requestLog
	var itemHits, orderHits, healthHits atomic.Int64
	e := echo.New()
	e.Use(log.middleware(), echomw.Middleware(reg))
	e.GET("/items/:id", func(c echo.Context) error {
		itemHits.Add(1)
		return c.String(http.StatusInternalServerError, "item "+c.Param("id")+": database down")
	})
	e.POST("/orders/:id", func(c echo.Context) error {
		orderHits.Add(1)
		return errors.New("payment provider down") // echo answers 500
	})
	e.GET("/health", func(c echo.Context) error {
		healthHits.Add(1)
		return c.String(http.StatusOK, "ok")
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	for _, id := range []string{"1", "2", "1"} {
		if resp, body := routertest.Do(t, "GET", srv.URL+"/items/"+id); resp.StatusCode != 500 || body != "item "+id+": database down" {
			t.Fatalf("/items/%s: %d %q, want the handler's 500", id, resp.StatusCode, body)
		}
		if resp, body := routertest.Do(t, "POST", srv.URL+"/orders/"+id); resp.StatusCode != 500 {
			t.Fatalf("/orders/%s: %d %q, want echo's 500", id, resp.StatusCode, body)
		}
	}
	if got, want := routertest.GuardNames(reg), []string{"GET /items/{id}", "POST /orders/{id}"}; !slices.Equal(got, want) {
		t.Fatalf("guards %q, want %q (one per route, not per URL)", got, want)
	}
	for _, name := range []string{"GET /items/{id}", "POST /orders/{id}"} {
		g, _ := reg.Lookup(name)
		if s := g.Snapshot().Breaker; s.State != breaker.Open || s.Failed != 3 {
			t.Fatalf("%s: breaker %v with %d failures, want open with 3", name, s.State, s.Failed)
		}
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
	if resp, _ := routertest.Do(t, "POST", srv.URL+"/orders/9"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("open breaker: status %d, want 503", resp.StatusCode)
	}
	if i, o := itemHits.Load(), orderHits.Load(); i != 3 || o != 3 {
		t.Errorf("handlers ran %d and %d times, want 3 each: a rejected request must not reach them", i, o)
	}

	if resp, body := routertest.Do(t, "GET", srv.URL+"/health"); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("/health: %d %q, want 200 while other routes' breakers are open", resp.StatusCode, body)
	}
	if n := healthHits.Load(); n != 1 {
		t.Errorf("health handler ran %d times, want 1", n)
	}
	if g, ok := reg.Lookup("GET /health"); !ok || g.Breaker().State() != breaker.Closed {
		t.Errorf("guard GET /health: %v, want a closed guard of its own", g)
	}

	want := []string{
		"/items/1 500", "/orders/1 500 error", "/items/2 500", "/orders/2 500 error", "/items/1 500", "/orders/1 500 error",
		"/items/9 503", "/orders/9 503", "/health 200",
	}
	if got := log.take(); !slices.Equal(got, want) {
		t.Errorf("echo's logger saw %q, want %q", got, want)
	}
}

// TestEchoPanic: with echo's Recover mounted before Middleware, a panicking
// handler is answered 500 by echo and counted as a failure by the guard.
func TestEchoPanic(t *testing.T) {
	reg := routertest.Registry(t, "echo", time.Hour)
	var hits atomic.Int64
	e := echo.New()
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true}), echomw.Middleware(reg))
	e.GET("/boom", func(echo.Context) error {
		hits.Add(1)
		panic("boom")
	})
	srv := httptest.NewServer(e)
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

// TestEchoGroup mounts Middleware on a group: its routes are guarded, routes
// outside it are not, and the group's 404s share one guard per method.
func TestEchoGroup(t *testing.T) {
	reg := routertest.Registry(t, "echo", time.Hour)
	e := echo.New()
	api := e.Group("/api", echomw.Middleware(reg))
	api.PUT("/orders/:id", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	e.GET("/metrics", func(c echo.Context) error { return c.String(http.StatusOK, "m") })
	srv := httptest.NewServer(e)
	defer srv.Close()
	if resp, _ := routertest.Do(t, "PUT", srv.URL+"/api/orders/7"); resp.StatusCode != 204 {
		t.Fatalf("status %d, want 204", resp.StatusCode)
	}
	if resp, _ := routertest.Do(t, "GET", srv.URL+"/metrics"); resp.StatusCode != 200 {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	for i := range 20 {
		if resp, _ := routertest.Do(t, "GET", srv.URL+"/api/nothing/"+strconv.Itoa(i)); resp.StatusCode != 404 {
			t.Fatalf("status %d, want 404", resp.StatusCode)
		}
	}
	if got, want := routertest.GuardNames(reg), []string{"GET /api/{...}", "PUT /api/orders/{id}"}; !slices.Equal(got, want) {
		t.Fatalf("guards %q, want %q", got, want)
	}
	g, _ := reg.Lookup("PUT /api/orders/{id}")
	if s := g.Snapshot().Breaker; s.Succeeded != 1 {
		t.Errorf("guard counted %d successes, want 1 (a 204)", s.Succeeded)
	}
}

// TestEchoStreaming: a handler that flushes c.Response() reaches its client
// event by event through the middleware, and counts as a success.
func TestEchoStreaming(t *testing.T) {
	reg := routertest.Registry(t, "echo", time.Hour)
	next := make(chan struct{})
	e := echo.New()
	e.Use(echomw.Middleware(reg))
	e.GET("/events", func(c echo.Context) error {
		c.Response().Header().Set(echo.HeaderContentType, "text/event-stream")
		for i, ev := range []string{"a", "b", "c"} {
			if i > 0 {
				<-next // the client read the previous event: it was flushed
			}
			if _, err := io.WriteString(c.Response(), "data: "+ev+"\n\n"); err != nil {
				return err
			}
			c.Response().Flush()
		}
		return nil
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for i, ev := range []string{"a", "b", "c"} {
		line, err := br.ReadString('\n')
		if err != nil || line != "data: "+ev+"\n" {
			t.Fatalf("event %q: %q, %v", ev, line, err)
		}
		_, _ = br.ReadString('\n')
		if i < 2 {
			next <- struct{}{}
		}
	}
	// The body ends once the handler and the middleware have returned.
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Fatalf("after the events: %q, %v", rest, err)
	}
	g, ok := reg.Lookup("GET /events")
	if !ok {
		t.Fatalf("no guard GET /events; guards %q", routertest.GuardNames(reg))
	}
	if s := g.Snapshot().Breaker; s.Succeeded != 1 || s.Failed != 0 {
		t.Errorf("streamed response: %d successes, %d failures, want 1 and 0", s.Succeeded, s.Failed)
	}
}

// TestEchoUnmatched: requests that match no route, whatever their path and
// method, share the one unmatched guard, 405s included.
func TestEchoUnmatched(t *testing.T) {
	reg := routertest.Registry(t, "echo", time.Hour)
	e := echo.New()
	e.Use(echomw.Middleware(reg))
	e.GET("/items/:id", func(c echo.Context) error { return c.String(http.StatusOK, "item") })
	srv := httptest.NewServer(e)
	defer srv.Close()

	for i := range 30 {
		n := strconv.Itoa(i)
		if resp, _ := routertest.Do(t, "GET", srv.URL+"/nowhere/"+n); resp.StatusCode != 404 {
			t.Fatalf("status %d, want 404", resp.StatusCode)
		}
		if resp, _ := routertest.Do(t, "BREW"+n, srv.URL+"/items/"+n); resp.StatusCode != 405 {
			t.Fatalf("status %d, want 405", resp.StatusCode)
		}
		if resp, _ := routertest.Do(t, "DELETE", srv.URL+"/items/"+n); resp.StatusCode != 405 {
			t.Fatalf("status %d, want 405", resp.StatusCode)
		}
	}
	if got, want := routertest.GuardNames(reg), []string{httpmw.UnmatchedKey}; !slices.Equal(got, want) {
		t.Fatalf("guards %q, want %q", got, want)
	}
	g, _ := reg.Lookup(httpmw.UnmatchedKey)
	if s := g.Snapshot().Breaker; s.Succeeded != 90 || s.State != breaker.Closed {
		t.Errorf("unmatched guard: %d successes, %v, want 90 and closed (4xx is no failure)", s.Succeeded, s.State)
	}
}
