package echotest_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/labstack/echo/v4"
)

// Breaker returns echo middleware that runs each request through httpmw:
// one guard per echo route, named by its method and path, such as
// "GET /items/:id". Mount it with e.Use, on a group or on a route; echo
// routes a request before it runs those middleware, so c.Path() is known.
// A handler's error is answered (c.Error) inside the guard, so that the
// guard sees its status, and still returned, as echo's logger middleware
// does. A rejected request is answered by httpmw and the handler does not
// run.
func Breaker(reg *core.Registry, opts ...httpmw.Option) echo.MiddlewareFunc {
	mw := httpmw.Middleware(reg, opts...)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			r := c.Request()
			r.Pattern = routeKey(c) // httpmw's default key
			res := c.Response()
			defer c.SetResponse(res)
			mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				c.SetResponse(echo.NewResponse(w, c.Echo()))
				if err = next(c); err != nil {
					c.Error(err)
				}
			})).ServeHTTP(res, r)
			return err
		}
	}
}

// routeKey names the route echo matched, such as "GET /items/:id", or
// returns "" (httpmw.UnmatchedKey) for a request that matched none: no
// path, a path without the request's method (405), or a method outside the
// standard ones, which a client can send to any catch-all route at will.
// Group catch-alls ("/api/*", which e.Group adds for its middleware) keep
// their path, so their 404s share one guard per method.
func routeKey(c echo.Context) string {
	p := c.Path()
	if p == "" || c.Get(echo.ContextKeyHeaderAllow) != nil {
		return ""
	}
	switch m := c.Request().Method; m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m + " " + p
	}
	return ""
}

// Guard the routes of an echo server: once the failing route's breaker
// opens, its requests are answered 503 without reaching the handler.
func Example() {
	reg, _ := core.NewRegistry(core.WithDefaultPolicy(core.Policy{
		Name:    "inbound",
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 3, DisableFailureRate: true, OpenDuration: core.Duration(time.Minute)},
	}))
	e := echo.New()
	e.Use(Breaker(reg))
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
	// {"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The circuit breaker \"GET /items/:id\" is open: requests are refused for now.","guard":"GET /items/:id","reason":"circuit_open","retryAfter":60}
	// GET /items/:id open
}
