package httpmw_test

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// tripPolicy opens after three failures in a row and stays open for open.
func tripPolicy(name string, open time.Duration) core.Policy {
	return core.Policy{Name: name, Breaker: &core.BreakerPolicy{
		ConsecutiveFailures: 3,
		DisableFailureRate:  true,
		OpenDuration:        core.Duration(open),
	}}
}

func newRegistry(t testing.TB, ps ...core.Policy) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(core.WithPolicies(ps...))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// waitState polls g's breaker until it is in want, for at most 10 seconds:
// a bounded wait for the breaker's open timer, not a timing assertion.
func waitState(t testing.TB, g *core.Guard, want breaker.State) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.Breaker().State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("guard %s: state %v, want %v", g.Name(), g.Breaker().State(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

func mustGuard(t testing.TB, reg *core.Registry, name string) *core.Guard {
	t.Helper()
	g, ok := reg.Lookup(name)
	if !ok {
		t.Fatalf("no guard %q in the registry", name)
	}
	return g
}

// flaky is a handler that answers 500 while failing is set, 200 otherwise,
// and counts the requests that reach it.
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
	_, _ = w.Write([]byte("ok"))
}

// problem is the RFC 9457 document the default rejection writer sends.
type problem struct {
	Type       string `json:"type"`
	Title      string `json:"title"`
	Status     int    `json:"status"`
	Detail     string `json:"detail"`
	Guard      string `json:"guard"`
	Reason     string `json:"reason"`
	RetryAfter int    `json:"retryAfter"`
}

func decodeProblem(t testing.TB, resp *http.Response) problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("decoding the problem document: %v", err)
	}
	return p
}
