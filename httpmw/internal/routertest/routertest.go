// Package routertest holds what the router test modules (chitest, gintest,
// echotest) share: a registry whose breakers trip after three failures, a
// request helper and the list of guard names. It imports only the standard
// library and breakerbox, so it lives in the root module.
package routertest

import (
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// Registry returns a registry whose default policy, named name, trips a
// guard's breaker after three consecutive failures and keeps it open for
// open.
func Registry(t testing.TB, name string, open time.Duration) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(core.WithDefaultPolicy(core.Policy{
		Name: name,
		Breaker: &core.BreakerPolicy{
			ConsecutiveFailures: 3,
			DisableFailureRate:  true,
			OpenDuration:        core.Duration(open),
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// Do sends a request without a body and returns the response with its body
// read and closed.
func Do(t testing.TB, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// GuardNames returns the names of reg's guards, sorted.
func GuardNames(reg *core.Registry) []string {
	var names []string
	for _, s := range reg.Snapshot() {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}
