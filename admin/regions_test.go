package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/region"
)

// The real region agent implements Regions.
var _ Regions = (*region.Agent)(nil)

// Two regions, one replica each on its own in-memory store, a relay
// between them, the admin API on eu-west's replica: /v1/regions shows both
// side by side, and the guard endpoint answers whether a guard whose name
// holds slashes is open in us-east.
func TestRegionEndpointsWithTheRealAgent(t *testing.T) {
	const guard = "api/v1/pay"
	pol := core.Policy{Name: "pay", Match: []string{guard}, Breaker: &core.BreakerPolicy{
		Window: "count", WindowSize: 10, MinCalls: 2, FailureRate: 50, OpenDuration: core.Duration(time.Minute)}}
	var srcs []region.Source
	regs := map[string]*core.Registry{}
	agents := map[string]*region.Agent{}
	for _, name := range []string{"eu-west", "us-east"} {
		st := fleet.NewMemoryStore()
		reg, err := core.NewRegistry(core.WithPolicies(pol))
		if err != nil {
			t.Fatal(err)
		}
		reg.MustGuard(guard)
		fa, err := fleet.Join(reg, st.Client(), fleet.WithReplicaID(name+"-1"), fleet.WithRegion(name), fleet.WithHeartbeat(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ra, err := region.Join(fa, region.WithPeriod(100*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ra.Close(); fa.Close() })
		srcs = append(srcs, region.Source{Region: name, Store: st.Client()})
		regs[name], agents[name] = reg, ra
	}
	relay, err := region.NewRelay(srcs, region.RelayEvery(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { relay.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	a := newTestAPIFor(t, regs["eu-west"], WithRegions(agents["eu-west"]))
	var id Identity
	a.do(http.MethodGet, "/v1/whoami", readSecret, nil).ok(t, &id)
	if !id.Regions {
		t.Fatal("whoami does not say regions")
	}
	eventually(t, "both regions in the report", func() bool {
		var rep region.Report
		a.do(http.MethodGet, "/v1/regions", readSecret, nil).ok(t, &rep)
		return len(rep.Regions) == 2 && rep.Region == "eu-west" && rep.Regions[0].Self && !rep.Regions[1].Self
	})
	g := regs["us-east"].MustGuard(guard)
	for range 2 {
		_ = g.Do(context.Background(), func(context.Context) error { return errors.New("down") })
	}
	path := "/v1/regions/us-east/guards?guard=" + url.QueryEscape(guard)
	eventually(t, guard+" open in us-east", func() bool {
		var st region.RegionGuardState
		a.do(http.MethodGet, path, readSecret, nil).ok(t, &st)
		return st.Open && st.Region == "us-east" && st.Guard == guard && st.OpenReplicas == 1
	})
	var st region.RegionGuardState
	a.do(http.MethodGet, "/v1/regions/eu-west/guards?guard="+url.QueryEscape(guard), readSecret, nil).ok(t, &st)
	if st.Open {
		t.Fatalf("eu-west reports %s open: %+v", guard, st)
	}
	var v region.RegionView
	a.do(http.MethodGet, "/v1/regions/us-east/guards", readSecret, nil).ok(t, &v)
	if v.Region != "us-east" || len(v.Guards) == 0 {
		t.Fatalf("us-east view %+v", v)
	}
	a.do(http.MethodGet, "/v1/regions/mars/guards", readSecret, nil).problem(t, http.StatusNotFound, codeUnknownRegion)
	a.do(http.MethodGet, "/v1/regions/mars/guards?guard=x", readSecret, nil).problem(t, http.StatusNotFound, codeUnknownRegion)
	a.do(http.MethodGet, "/v1/regions/us-east/guards?guard=nope", readSecret, nil).problem(t, http.StatusNotFound, codeUnknownGuard)
	a.do(http.MethodGet, "/v1/regions/us-east/guards?guard=", readSecret, nil).problem(t, http.StatusBadRequest, codeInvalid)
	a.do(http.MethodGet, "/v1/regions", "", nil).problem(t, http.StatusUnauthorized, "unauthorized")
}

func TestRegionEndpointsWithoutRegions(t *testing.T) {
	a := newTestAPIFor(t, testRegistry(t))
	a.do(http.MethodGet, "/v1/regions", readSecret, nil).problem(t, http.StatusNotFound, codeRegionsOff)
	a.do(http.MethodGet, "/v1/regions/eu/guards?guard=x", readSecret, nil).problem(t, http.StatusNotFound, codeRegionsOff)
	var id Identity
	a.do(http.MethodGet, "/v1/whoami", readSecret, nil).ok(t, &id)
	if id.Regions {
		t.Fatal("whoami says regions without WithRegions")
	}
	if _, err := New(testRegistry(t), WithRegions(nil)); err == nil {
		t.Fatal("WithRegions(nil) accepted")
	}
}

// /health warns, and never fails, while the region store or a relay link
// is down; the check goes when they heal.
func TestRegionsHealthWarning(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	eu, us := fleet.NewMemoryStore(), fleet.NewMemoryStore()
	relayUS := us.Client()
	relay, err := region.NewRelay([]region.Source{{Region: "eu", Store: eu.Client()}, {Region: "us", Store: relayUS}},
		region.RelayEvery(50*time.Millisecond), region.RelayTimeout(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { relay.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	client := eu.Client()
	fa, err := fleet.Join(reg, client, fleet.WithReplicaID("eu-1"), fleet.WithRegion("eu"), fleet.WithHeartbeat(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ra, err := region.Join(fa, region.WithPeriod(50*time.Millisecond), region.WithRelay(relay))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ra.Close(); fa.Close() })
	a := newTestAPIFor(t, reg, WithRegions(ra))
	if r := a.do(http.MethodGet, "/health", "", nil); r.status != http.StatusOK || strings.Contains(string(r.body), `"regions"`) {
		t.Fatalf("healthy: %d %s", r.status, r.body)
	}
	relayUS.SetDown(true)
	eventually(t, "/health warning on the relay link", func() bool {
		r := a.do(http.MethodGet, "/health", "", nil)
		return r.status == http.StatusOK && strings.Contains(string(r.body), `"relay:us"`) && strings.Contains(string(r.body), `"status":"warn"`)
	})
	relayUS.SetDown(false)
	client.SetDown(true)
	eventually(t, "/health warning on the region store", func() bool {
		r := a.do(http.MethodGet, "/health", "", nil)
		return r.status == http.StatusOK && strings.Contains(string(r.body), `"store:eu"`) && !strings.Contains(string(r.body), `"relay:us"`)
	})
	client.SetDown(false)
	eventually(t, "healed", func() bool {
		return !strings.Contains(string(a.do(http.MethodGet, "/health", "", nil).body), `"regions"`)
	})
}
