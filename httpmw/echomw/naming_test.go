package echomw_test

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/httpmw/echomw"
	"github.com/breakerbox/breakerbox/httpmw/internal/routertest"
)

func ok(c echo.Context) error { return c.String(http.StatusOK, "ok") }

// TestEchoNaming: the naming table every router test module serves; echo's
// ":sku" routes get the names a ServeMux gives them, with WithPolicy's
// policy; Routes lists them, leaving echo's own routes out.
func TestEchoNaming(t *testing.T) {
	reg := routertest.Registry(t, "other", time.Hour)
	if err := reg.SetPolicies(core.Policy{Name: "inbound", Breaker: &core.BreakerPolicy{Mode: "metrics-only"}}); err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	e.Use(echomw.Middleware(reg, httpmw.WithPolicy("inbound")))
	for _, rt := range routertest.Routes {
		e.Add(rt.Method, rt.Colon, ok)
	}
	e.RouteNotFound("/*", func(c echo.Context) error { return c.NoContent(http.StatusNotFound) })
	srv := httptest.NewServer(e)
	defer srv.Close()
	routertest.CheckNaming(t, srv.URL, reg, "inbound")
	if got, want := echomw.Routes(e), routertest.Names(); !slices.Equal(got, want) {
		t.Errorf("Routes: %q, want %q", got, want)
	}
}

// TestEchoValidateAndWithDetails: Validate finds the route a "*" pattern
// misses; WithDetails(false) keeps the route's name out of the rejection,
// and WriteError in an echo handler relays a dependency's rejection.
func TestEchoValidateAndWithDetails(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "reads", Match: []string{"GET /*"}}))
	if err != nil {
		t.Fatal(err)
	}
	dep := reg.MustGuard("pricing.internal:8443")
	dep.ForceOpen(breaker.Manual{Actor: "test"})
	e := echo.New()
	e.Use(echomw.Middleware(reg, httpmw.WithDetails(false)))
	e.GET("/quote/:sku", func(c echo.Context) error {
		if _, err := dep.Allow(c.Request().Context()); err != nil {
			httpmw.WriteError(c.Response(), c.Request(), err)
			return nil
		}
		return ok(c)
	})
	err = httpmw.Validate(reg, echomw.Routes(e))
	if err == nil || !strings.Contains(err.Error(), `"GET /**" would`) {
		t.Errorf("Validate: %v", err)
	}
	srv := httptest.NewServer(e)
	defer srv.Close()
	resp, body := routertest.Do(t, "GET", srv.URL+"/quote/abc")
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || strings.Contains(body, "pricing") || !strings.Contains(body, "circuit_open") {
		t.Errorf("relayed rejection: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	_, _ = reg.ForceOpen(core.Name("GET /quote/{sku}"), breaker.Manual{Actor: "test"})
	resp, body = routertest.Do(t, "GET", srv.URL+"/quote/abc")
	if resp.StatusCode != 503 || strings.Contains(body, "quote") {
		t.Errorf("public rejection: %d %s", resp.StatusCode, body)
	}
}
