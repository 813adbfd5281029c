package gintest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/gin-gonic/gin"
)

// Breaker returns gin middleware that runs each request through httpmw:
// one guard per gin route, named by its method and full path, such as
// "GET /items/:id". Mount it with engine.Use (before registering the
// routes), on a route group or on a single route; gin routes a request
// before it runs any middleware, so c.FullPath() is known. Requests that
// matched no route (c.FullPath() is "") share the guard
// httpmw.UnmatchedKey. A rejected request is answered by httpmw and the
// rest of the chain does not run.
func Breaker(reg *core.Registry, opts ...httpmw.Option) gin.HandlerFunc {
	mw := httpmw.Middleware(reg, opts...)
	return func(c *gin.Context) {
		// httpmw's default key is r.Pattern: make it gin's route.
		c.Request.Pattern = ""
		if p := c.FullPath(); p != "" {
			c.Request.Pattern = c.Request.Method + " " + p
		}
		admitted := false
		mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			admitted = true
			c.Next()
			// The handlers wrote to c.Writer: pass gin's status on to
			// httpmw, which classifies it (gin ignores a status it
			// already has).
			w.WriteHeader(c.Writer.Status())
		})).ServeHTTP(c.Writer, c.Request)
		if !admitted {
			c.Abort()
		}
	}
}

// Guard the routes of a gin engine: once the failing route's breaker opens,
// its requests are answered 503 without reaching the handler.
func Example() {
	reg, _ := core.NewRegistry(core.WithDefaultPolicy(core.Policy{
		Name:    "inbound",
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 3, DisableFailureRate: true, OpenDuration: core.Duration(time.Minute)},
	}))
	engine := gin.New()
	engine.Use(gin.Recovery(), Breaker(reg))
	engine.GET("/items/:id", func(c *gin.Context) {
		c.String(http.StatusInternalServerError, "database down")
	})
	srv := httptest.NewServer(engine)
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
	// 500 text/plain; charset=utf-8
	// 500 text/plain; charset=utf-8
	// 500 text/plain; charset=utf-8
	// 503 application/problem+json
	// {"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The circuit breaker \"GET /items/:id\" is open: requests are refused for now.","guard":"GET /items/:id","reason":"circuit_open","retryAfter":60}
	// GET /items/:id open
}
