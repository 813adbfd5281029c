// Package routertest holds what the tests of the router adapters (httpmw
// for ServeMux, chimw, ginmw, echomw) share: a registry whose breakers trip
// after three failures, a request helper, the list of guard names, and the
// naming table that every router must name alike. It imports only the
// standard library and breakerbox, so it lives in the root module.
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

// Route is one route of the naming table: the same route written in each
// router's syntax, the guard name every router must give it, and a path
// that reaches it.
type Route struct {
	Method string
	// ServeMux is the net/http ServeMux pattern, method included.
	ServeMux string
	// Chi is the chi pattern; Colon the gin and echo one ("/quote/:sku").
	Chi, Colon string
	// Name is the guard name the route must get.
	Name string
	// Path is a request path the route serves.
	Path string
}

// Routes is the naming table every router test module serves: a route keeps
// its guard, and so its policy, whichever router serves it.
var Routes = []Route{
	{"GET", "GET /quote/{sku}", "/quote/{sku}", "/quote/:sku", "GET /quote/{sku}", "/quote/abc"},
	{"POST", "POST /shops/{shop}/orders", "/shops/{shop}/orders", "/shops/:shop/orders", "POST /shops/{shop}/orders", "/shops/s1/orders"},
	{"DELETE", "DELETE /shops/{shop}/orders/{id}", "/shops/{shop}/orders/{id}", "/shops/:shop/orders/:id", "DELETE /shops/{shop}/orders/{id}", "/shops/s1/orders/7"},
	{"GET", "GET /healthz", "/healthz", "/healthz", "GET /healthz", "/healthz"},
}

// Names returns the guard names of Routes, sorted.
func Names() []string {
	var names []string
	for _, r := range Routes {
		names = append(names, r.Name)
	}
	slices.Sort(names)
	return names
}

// CheckNaming sends one request to each route of Routes on the server at
// base, and checks that each reached its handler (answered 200) and that
// reg then holds exactly the guards of Routes, each with the policy
// wantPolicy.
func CheckNaming(t testing.TB, base string, reg *core.Registry, wantPolicy string) {
	t.Helper()
	for _, r := range Routes {
		if resp, body := Do(t, r.Method, base+r.Path); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %q, want 200", r.Method, r.Path, resp.StatusCode, body)
		}
	}
	if got, want := GuardNames(reg), Names(); !slices.Equal(got, want) {
		t.Fatalf("guards %q, want %q: one name per route, the same for every router", got, want)
	}
	for _, name := range Names() {
		g, _ := reg.Lookup(name)
		if p := g.Policy().Name; p != wantPolicy {
			t.Errorf("guard %q has policy %q, want %q", name, p, wantPolicy)
		}
	}
}
