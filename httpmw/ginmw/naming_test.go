package ginmw_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/httpmw/ginmw"
	"github.com/breakerbox/breakerbox/httpmw/internal/routertest"
)

func ok(c *gin.Context) { c.String(http.StatusOK, "ok") }

// TestGinNaming: the naming table every router test module serves; gin's
// ":sku" routes get the names a ServeMux gives them, with WithPolicy's
// policy.
func TestGinNaming(t *testing.T) {
	reg := routertest.Registry(t, "other", time.Hour)
	if err := reg.SetPolicies(core.Policy{Name: "inbound", Breaker: &core.BreakerPolicy{Mode: "metrics-only"}}); err != nil {
		t.Fatal(err)
	}
	engine := gin.New()
	engine.Use(ginmw.Middleware(reg, httpmw.WithPolicy("inbound")))
	for _, rt := range routertest.Routes {
		engine.Handle(rt.Method, rt.Colon, ok)
	}
	srv := httptest.NewServer(engine)
	defer srv.Close()
	routertest.CheckNaming(t, srv.URL, reg, "inbound")
	if got, want := ginmw.Routes(engine), routertest.Names(); !slices.Equal(got, want) {
		t.Errorf("Routes: %q, want %q", got, want)
	}
}

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

// TestGinValidateAndWarnOnce: Routes lets Validate find the policy pattern
// that misses a route ("*" stays in one segment); at run time the route's
// fall to the default policy is logged once, not on every request.
func TestGinValidateAndWarnOnce(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "reads", Match: []string{"GET /*"}}))
	if err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	engine := gin.New()
	engine.Use(ginmw.Middleware(reg, httpmw.WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))))
	engine.GET("/quote/:sku", ok)
	engine.GET("/files/*path", ok)
	err = httpmw.Validate(reg, ginmw.Routes(engine))
	if err == nil || !strings.Contains(err.Error(), `route "GET /quote/{sku}" takes the default policy`) ||
		!strings.Contains(err.Error(), `route "GET /files/{path...}" takes the default policy`) {
		t.Errorf("Validate: %v", err)
	}
	srv := httptest.NewServer(engine)
	defer srv.Close()
	for range 3 {
		routertest.Do(t, "GET", srv.URL+"/quote/abc")
	}
	if out := logs.String(); strings.Count(out, "\n") != 1 || !strings.Contains(out, `guard="GET /quote/{sku}"`) {
		t.Errorf("logged:\n%s", out)
	}
}

// TestGinAddsNoAllocations: the adapter and httpmw cost no allocation on an
// admitted request beyond gin's own (the test modules' adapter built
// httpmw's middleware, and a closure, for every request).
func TestGinAddsNoAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts need the full run, without the race detector")
	}
	reg := routertest.Registry(t, "inbound", time.Hour)
	bare, guarded := gin.New(), gin.New()
	guarded.Use(ginmw.Middleware(reg))
	for _, e := range []*gin.Engine{bare, guarded} {
		e.GET("/items/:id", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	}
	rec := httptest.NewRecorder()
	measure := func(h http.Handler) float64 {
		req := httptest.NewRequest("GET", "/items/1", nil)
		h.ServeHTTP(rec, req)
		return testing.AllocsPerRun(500, func() { h.ServeHTTP(rec, req) })
	}
	if b, g := measure(bare), measure(guarded); g != b {
		t.Errorf("gin alone: %v allocations a request; with ginmw: %v", b, g)
	}
}

// TestGinHandlersReachHttpmw: a gin handler's httpmw.SetError(c.Writer, ...)
// and httpmw.WriteError(c.Writer, ...) reached gin's writer, which unwraps
// to the server's, not to httpmw's: the error was not counted and
// WithDetails(false) was ignored. c.Writer now leads to httpmw's writer.
func TestGinHandlersReachHttpmw(t *testing.T) {
	reg := routertest.Registry(t, "inbound", time.Hour)
	dep := reg.MustGuard("pricing.internal:8443")
	dep.ForceOpen(breaker.Manual{Actor: "test"})
	engine := gin.New()
	engine.Use(ginmw.Middleware(reg, httpmw.WithDetails(false)))
	engine.GET("/home", func(c *gin.Context) {
		httpmw.SetError(c.Writer, errors.New("recommendations unavailable"))
		c.String(http.StatusOK, "home without recommendations")
	})
	engine.GET("/quote/:sku", func(c *gin.Context) {
		if _, err := dep.Allow(c.Request.Context()); err != nil {
			httpmw.WriteError(c.Writer, c.Request, err)
			return
		}
		ok(c)
	})
	srv := httptest.NewServer(engine)
	defer srv.Close()
	if resp, _ := routertest.Do(t, "GET", srv.URL+"/home"); resp.StatusCode != 200 {
		t.Fatalf("/home: %d", resp.StatusCode)
	}
	if g, _ := reg.Lookup("GET /home"); g.Snapshot().Breaker.Failed != 1 {
		t.Errorf("SetError in a gin handler: %d failures, want 1", g.Snapshot().Breaker.Failed)
	}
	resp, body := routertest.Do(t, "GET", srv.URL+"/quote/abc")
	if resp.StatusCode != 503 || strings.Contains(body, "pricing") || !strings.Contains(body, "circuit_open") {
		t.Errorf("WriteError in a gin handler behind WithDetails(false): %d %s", resp.StatusCode, body)
	}
}
