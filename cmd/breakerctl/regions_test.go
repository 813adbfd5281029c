package main

import (
	"net/http/httptest"
	"testing"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet/region"
)

// fakeRegions answers from a fixed report, as a region agent answers from
// the summaries it last read.
type fakeRegions struct{ rep region.Report }

func (f *fakeRegions) Regions() region.Report { return f.rep }

func (f *fakeRegions) RegionState(guard, name string) (region.RegionGuardState, bool) {
	for _, r := range f.rep.Regions {
		if r.Region != name {
			continue
		}
		for _, g := range r.Guards {
			if g.Guard == guard {
				return region.RegionGuardState{Region: name, Guard: guard, Open: g.Open, OpenReplicas: g.OpenReplicas,
					Members: r.Members, Share: g.Share, FailureRate: g.FailureRate, Seq: r.Seq, Age: r.Age}, true
			}
		}
	}
	return region.RegionGuardState{}, false
}

func regionsServer(t *testing.T) string {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeRegions{rep: region.Report{Region: "eu-west-1", Replica: "web-1", Leader: true,
		Regions: []region.RegionView{
			{Region: "eu-west-1", Self: true, Seq: 40, By: "web-1", Members: 3, Guards: []region.GuardSummary{
				{Guard: "api/v1/pay", Global: true, State: "open", Calls: 20, FailureRate: 60, Open: true, OpenReplicas: 2, Share: 0.67}}},
			{Region: "us-east-1", Seq: 17, Age: 2, By: "web-9", Members: 2, Guards: []region.GuardSummary{
				{Guard: "api/v1/pay", Global: true, State: "closed", LimiterUse: 0.5}}},
			{Region: "..", Seq: 3, By: "odd-1", Members: 1},
		},
		Global: []region.GlobalView{{Guard: "api/v1/pay", Regions: 2, OpenIn: []string{"eu-west-1"}}},
	}}
	api, err := admin.New(reg, admin.WithToken("grafana", readToken, admin.Read), admin.WithRegions(f))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRegionsShowsEveryRegionSideBySide(t *testing.T) {
	env := map[string]string{envAddr: regionsServer(t), envToken: readToken}
	r := policyCtl(env, "regions")
	if r.code != 0 {
		t.Fatalf("regions: %d %s", r.code, r.stderr)
	}
	contains(t, "regions", r.stdout, "replica web-1 in region eu-west-1; it publishes its region's summary; 3 regions",
		"eu-west-1 (this one)", "us-east-1", "EU-WEST-1", "US-EAST-1", "OPEN 67% 60%f", "closed 0% 0%f",
		"GLOBAL GUARD", "1: eu-west-1")
	var rep region.Report
	policyCtl(env, "regions", "--json").json(t, &rep)
	if len(rep.Regions) != 3 {
		t.Fatalf("--json: %+v", rep)
	}
	r = policyCtl(env, "regions", "--region", "eu-west-1", "--guard", "api/v1/pay")
	contains(t, "regions --guard", r.stdout, "api/v1/pay in eu-west-1: open (2 of 3 replicas voting open; failure rate 60%; summary seq 40, age 0)")
	r = policyCtl(env, "regions", "--region", "us-east-1")
	contains(t, "regions --region", r.stdout, "region us-east-1: 2 replicas; summary seq 17 by web-9, age 2", "api/v1/pay (global)", "50%")
	r = policyCtl(env, "fleet", "--region", "us-east-1")
	contains(t, "fleet --region", r.stdout, "region us-east-1: 2 replicas")
	if r = policyCtl(env, "regions", "--region", "mars"); r.code == 0 {
		t.Fatalf("an unknown region: exit 0: %s", r.stdout)
	}
	contains(t, "unknown region", r.stderr, `no unexpired summary of region "mars" (404)`)
	if r = policyCtl(env, "regions", "--guard", "x"); r.code == 0 {
		t.Fatal("--guard without --region accepted")
	}
}

// TestRegionsReachesDotNames: a region named ".." is asked for as one path
// segment; url.PathEscape leaves it as is, and a ServeMux cleaned
// /v1/regions/../guards away (found by the stress pass in machine and
// maintenance commands).
func TestRegionsReachesDotNames(t *testing.T) {
	env := map[string]string{envAddr: regionsServer(t), envToken: readToken}
	r := policyCtl(env, "regions", "--region", "..")
	if r.code != 0 {
		t.Fatalf("regions --region ..: %d %s", r.code, r.stderr)
	}
	contains(t, "regions --region ..", r.stdout, "region ..: 1 replica")
}
