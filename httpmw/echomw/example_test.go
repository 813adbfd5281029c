package echomw_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/httpmw/echomw"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// Guard the routes of an echo server: once the failing route's breaker
// opens, its requests are answered 503 without reaching the handler.
func ExampleMiddleware() {
	reg, _ := core.NewRegistry(core.WithDefaultPolicy(core.Policy{
		Name:    "inbound",
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 3, DisableFailureRate: true, OpenDuration: core.Duration(time.Minute)},
	}))
	e := echo.New()
	e.Use(echomw.Middleware(reg))
	e.GET("/items/:id", func(c echo.Context) error {
		return errors.New("database down") // echo answers 500
	})
	srv := httptest.NewServer(e)
	defer srv.Close()

	for _, id := range []string{"1", "2", "3", "4"} {
		resp, err := http.Get(srv.URL + "/items/" + id)
		if err != nil {
			fmt.Println(err)
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"))
		if resp.StatusCode == http.StatusServiceUnavailable {
			fmt.Print(string(body))
		}
	}
	for _, g := range reg.Snapshot() {
		fmt.Println(g.Name, g.Breaker.State)
	}
	// Output:
	// 500 application/json
	// 500 application/json
	// 500 application/json
	// 503 application/problem+json
	// {"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The circuit breaker \"GET /items/{id}\" is open: requests are refused for now.","guard":"GET /items/{id}","reason":"circuit_open","retryAfter":60}
	// GET /items/{id} open
}

// Mount the middleware on a server with one option list, and check the
// server's routes against the policies at start-up.
func ExampleRoutes() {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:     "inbound",
		Breaker:  &core.BreakerPolicy{Mode: "metrics-only"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 100},
	}))
	if err != nil {
		log.Fatal(err)
	}
	quote := func(c echo.Context) error { return c.String(http.StatusOK, "quote "+c.Param("sku")+"\n") }

	opts := []httpmw.Option{httpmw.WithPolicy("inbound")}
	e := echo.New()
	e.Use(middleware.Recover(), echomw.Middleware(reg, opts...))
	e.GET("/quote/:sku", quote) // guard "GET /quote/{sku}"

	if err := httpmw.Validate(reg, echomw.Routes(e), opts...); err != nil {
		e.Logger.Fatal(err)
	}

	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest("GET", "/quote/abc", nil))
	fmt.Print(rec.Body)
	for _, g := range reg.Snapshot() {
		fmt.Println(g.Name, g.Policy, g.Breaker.Admitted)
	}
	// Output:
	// quote abc
	// GET /quote/{sku} inbound 1
}
