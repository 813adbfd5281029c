package main

import (
	"net/http/httptest"
	"testing"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet/quota"
)

// fakeQuotas answers fixed stats, as a quota.Set would.
type fakeQuotas struct{ rs []quota.ResourceStats }

func (f *fakeQuotas) Stats() []quota.ResourceStats { return f.rs }

func TestQuotasShowsEveryResource(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeQuotas{rs: []quota.ResourceStats{
		{Resource: "maps", Capacity: 50, SafeCapacity: 5, Replica: "web-1",
			Limiter: &quota.LimiterStats{Allowed: 7, Rate: 5, OnLease: false}},
		{Resource: "openai", Capacity: 1000, SafeCapacity: 100, Region: "eu-west-1", Replica: "web-1",
			Coordinator: &quota.CoordinatorStats{Root: true, Region: true, RegionCapacity: 400, OnLease: true, Replicas: 3, StoreErrors: 1},
			Limiter:     &quota.LimiterStats{Allowed: 120, Rejected: 3, AllowedBySafeCapacity: 2, Rate: 133.3, OnLease: true, StoreErrors: 1}},
	}}
	api, err := admin.New(reg, admin.WithToken("grafana", readToken, admin.Read), admin.WithQuotas(f))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	env := map[string]string{envAddr: srv.URL, envToken: readToken}
	r := policyCtl(env, "quotas")
	if r.code != 0 {
		t.Fatalf("quotas: %d %s", r.code, r.stderr)
	}
	contains(t, "quotas", r.stdout, "RESOURCE", "REGION CAPACITY", "openai", "root+region in eu-west-1", "400/s", "133.3/s", "120", "maps", "5/s (safe)")
	var rep admin.QuotasReport
	policyCtl(env, "quotas", "--json").json(t, &rep)
	if len(rep.Resources) != 2 || rep.Resources[1].Coordinator == nil {
		t.Fatalf("--json: %+v", rep)
	}
	api2, err := admin.New(reg, admin.WithToken("grafana", readToken, admin.Read))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api2.Close() })
	srv2 := httptest.NewServer(api2)
	t.Cleanup(srv2.Close)
	if r := policyCtl(map[string]string{envAddr: srv2.URL, envToken: readToken}, "quotas"); r.code == 0 {
		t.Fatalf("quotas_off: exit 0: %s", r.stdout)
	}
}
