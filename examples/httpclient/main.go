// Command httpclient shows httpmw's client Transport: calls to a failing
// service trip the breaker of its guard, and from then on requests fail
// at once with an error matching core.ErrRejected, without reaching the
// network, until the breaker's open time has passed.
package main

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
)

func main() {
	var hits atomic.Int64
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "overloaded", http.StatusServiceUnavailable)
	}))
	defer upstream.Close()

	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:    "inventory-api",
		Breaker: &core.BreakerPolicy{WindowSize: 10, MinCalls: 3, FailureRate: 50, OpenDuration: core.Duration(30 * time.Second)},
	}))
	if err != nil {
		log.Fatal(err)
	}
	// The one line: a client whose transport guards every request. Guards
	// are keyed by host unless WithKey names them.
	client := &http.Client{Transport: httpmw.NewTransport(nil,
		httpmw.WithRegistry(reg),
		httpmw.WithKey(func(*http.Request) string { return "inventory-api" }))}

	for i := 1; i <= 5; i++ {
		resp, err := client.Get(upstream.URL + "/stock/p1")
		var rejected *core.RejectedError
		switch {
		case errors.As(err, &rejected):
			fmt.Printf("request %d: rejected by %q (%s), not sent; retry in %v\n",
				i, rejected.Guard, rejected.ErrorType(), rejected.RetryAfter().Round(10*time.Second))
		case err != nil:
			log.Fatal(err)
		default:
			resp.Body.Close()
			fmt.Printf("request %d: %s\n", i, resp.Status)
		}
	}
	g, _ := reg.Lookup("inventory-api")
	fmt.Printf("the upstream saw %d requests; the breaker is %s\n", hits.Load(), g.Breaker().State())
}
