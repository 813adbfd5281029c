package httpmw_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
)

// tenantRegistry has a policy for every guard whose breaker trips after
// five failures in a row, and an overlay for the tenant "acme" that trips
// it after one.
func tenantRegistry(t *testing.T) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.Apply(core.Document{
		Policies: []core.Policy{{Name: "all", Match: []string{"*"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5, DisableFailureRate: true}}},
		Tenants: &core.TenantPolicy{Overrides: []core.TenantOverride{{
			Tenant: "acme", Policies: []core.Policy{{Name: "all", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1}}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func getAs(t *testing.T, c *http.Client, url, tenant string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("X-Tenant", tenant)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestMiddlewareTenantFromHeader(t *testing.T) {
	reg := tenantRegistry(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pay", func(w http.ResponseWriter, r *http.Request) {
		tenant, _ := core.TenantFrom(r.Context())
		w.Header().Set("Seen-Tenant", tenant)
		w.WriteHeader(http.StatusInternalServerError)
	})
	srv := httptest.NewServer(httpmw.Middleware(reg, httpmw.WithTenant(httpmw.TenantHeader("x-tenant")))(mux))
	defer srv.Close()
	c := srv.Client()

	if resp := getAs(t, c, srv.URL+"/pay", "acme"); resp.StatusCode != http.StatusInternalServerError || resp.Header.Get("Seen-Tenant") != "acme" {
		t.Fatalf("first acme request: %d, tenant %q", resp.StatusCode, resp.Header.Get("Seen-Tenant"))
	}
	if resp := getAs(t, c, srv.URL+"/pay", "acme"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("acme's guard should be open after one failure: %d", resp.StatusCode)
	}
	for range 3 {
		if resp := getAs(t, c, srv.URL+"/pay", "globex"); resp.StatusCode != http.StatusInternalServerError {
			t.Fatalf("globex shares acme's breaker: %d", resp.StatusCode)
		}
	}
	if _, ok := reg.Lookup("GET /pay{tenant=acme}"); !ok {
		t.Fatal("no tenant guard for acme")
	}
	if _, ok := reg.Lookup("GET /pay{tenant=globex}"); ok {
		t.Fatal("globex, without an overlay, got a tenant guard")
	}
}

func TestTransportTenantFromHeaderAndContext(t *testing.T) {
	reg := tenantRegistry(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	tr := httpmw.NewTransport(srv.Client().Transport, httpmw.WithRegistry(reg), httpmw.WithKey(func(*http.Request) string { return "upstream" }),
		httpmw.WithTenant(httpmw.TenantHeader("X-Tenant")))
	c := &http.Client{Transport: tr}

	if resp := getAs(t, c, srv.URL, "acme"); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("first acme request: %d", resp.StatusCode)
	}
	if _, err := c.Do(mustRequest(t, srv.URL, "acme")); err == nil {
		t.Fatal("acme's guard should be open after one failure")
	}
	// The tenant in the request's context (set by the middleware upstream)
	// picks the same guard, without a header.
	req, _ := http.NewRequestWithContext(core.WithTenant(context.Background(), "acme"), http.MethodGet, srv.URL, nil)
	if _, err := c.Do(req); err == nil {
		t.Fatal("the tenant from the context did not pick acme's guard")
	}
	for range 3 {
		if resp := getAs(t, c, srv.URL, "globex"); resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("globex shares acme's breaker: %d", resp.StatusCode)
		}
	}
	g, ok := reg.Lookup("upstream{tenant=acme}")
	if !ok || g.Breaker().State().String() != "open" {
		t.Fatal("no open tenant guard for acme")
	}
}

func mustRequest(t *testing.T, url, tenant string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Tenant", tenant)
	return req
}

func ExampleWithTenant() {
	reg, _ := core.NewRegistry()
	_, _ = reg.Apply(core.Document{
		Policies: []core.Policy{{Name: "api", Match: []string{"GET /**"}}},
		Tenants: &core.TenantPolicy{MaxGuards: 500, Overrides: []core.TenantOverride{{
			Tenant: "*", Policies: []core.Policy{{Name: "api", Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 20}}},
		}}},
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /quote", func(w http.ResponseWriter, r *http.Request) {})
	// Every tenant gets a guard of its own with a bulkhead of 20, up to 500
	// tenants.
	h := httpmw.Middleware(reg, httpmw.WithTenant(httpmw.TenantHeader("X-Tenant-ID")))(mux)
	_ = h
}
