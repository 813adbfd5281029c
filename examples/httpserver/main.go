// Command httpserver shows httpmw's server middleware: one guard per route
// of a ServeMux. A route whose handler keeps failing trips its breaker, and
// the middleware then answers 503 itself, with Retry-After and a problem
// document, without calling the handler; the other routes are untouched.
package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
)

func main() {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:    "routes",
		Match:   []string{"GET /*"}, // guards are named after route patterns
		Breaker: &core.BreakerPolicy{WindowSize: 10, MinCalls: 3, FailureRate: 50, OpenDuration: core.Duration(time.Minute)},
	}))
	if err != nil {
		log.Fatal(err)
	}
	var calls atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /report", func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "database unavailable", http.StatusInternalServerError) // 5xx: a failure
	})
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	})

	// The one line: wrap the mux.
	srv := httptest.NewServer(httpmw.Middleware(reg)(mux))
	defer srv.Close()

	get := func(path string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		fmt.Printf("GET %-7s %d", path, resp.StatusCode)
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			fmt.Printf(" Retry-After: %s, %s", ra, resp.Header.Get("Content-Type"))
		}
		fmt.Printf("\n    %s\n", strings.TrimSpace(string(body)))
	}
	for range 4 {
		get("/report")
	}
	get("/hello")
	fmt.Printf("the /report handler ran %d times\n", calls.Load())
	g, _ := reg.Lookup("GET /report")
	fmt.Printf("guard %q is %s\n", g.Name(), g.Breaker().State())
}
