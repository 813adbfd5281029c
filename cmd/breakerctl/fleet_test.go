package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// fakeFleet is the least a fleet agent does for the admin API: it keeps
// the actions it is given, numbered from 1 as the store's version counter
// would, and has a store that is up or down as the test says. A real agent
// (fleet.Join) replaces it where a store is at hand.
type fakeFleet struct {
	mu   sync.Mutex
	snap fleet.Snapshot
	down error
}

func (f *fakeFleet) Snapshot() fleet.Snapshot {
	h := f.Health()
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	s.Overrides = append([]fleet.Override(nil), f.snap.Overrides...)
	s.Store = h
	return s
}

func (f *fakeFleet) Act(_ context.Context, o fleet.Override) (fleet.Override, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return fleet.Override{}, f.down
	}
	o.Version, o.By = uint64(len(f.snap.Overrides)+1), f.snap.Self.ID
	f.snap.Overrides = append(f.snap.Overrides, o)
	return o, nil
}

func (f *fakeFleet) Health() fleet.StoreHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return fleet.StoreHealth{LastError: f.down.Error(), Since: time.Now().Add(-90 * time.Second), Errors: 3, Timeouts: 1, Skipped: 12}
	}
	return fleet.StoreHealth{Up: true}
}

func (f *fakeFleet) acts() []fleet.Override {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fleet.Override(nil), f.snap.Overrides...)
}

// fleetServer is a real admin API (httptest) over a registry with the
// fake fleet attached.
func fleetServer(t *testing.T) (*fakeFleet, *core.Registry, string) {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("payments.charge", core.WithTags("stripe"))
	self := fleet.Member{ID: "web-1", Region: "eu-west-1", Version: "v2", Policy: 4}
	f := &fakeFleet{snap: fleet.Snapshot{
		Self:    self,
		Members: []fleet.Member{self, {ID: "web-2", Region: "eu-west-1", Policy: 4}, {ID: "web-3", Region: "us-east-1", Policy: 3}},
		Guards: []fleet.GuardView{{Guard: "payments.charge", Rule: "quorum", OpenVotes: []string{"web-2", "web-3"}, Adopted: true,
			Lease: &fleet.Lease{Guard: "payments.charge", Holder: "web-3", Outcome: fleet.ProbeRunning}}},
	}}
	api, err := admin.New(reg, admin.WithToken("alice", aliceToken, admin.Write), admin.WithToken("grafana", readToken, admin.Read), admin.WithFleet(f))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return f, reg, srv.URL
}

func TestFleetShowsMembersGuardsAndStore(t *testing.T) {
	f, _, addr := fleetServer(t)
	env := map[string]string{envAddr: addr, envToken: readToken}
	r := policyCtl(env, "fleet")
	if r.code != 0 {
		t.Fatalf("fleet: %d %s", r.code, r.stderr)
	}
	contains(t, "fleet", r.stdout, "replica web-1 of a fleet of 3; store up",
		"web-1 (this one)", "eu-west-1", "us-east-1", "v4", "v3",
		"payments.charge", "quorum", "2 of 3 (web-2, web-3)", "yes (open)", "web-3 running")
	r = policyCtl(env, "fleet", "--json")
	var rep wire.FleetReport
	r.json(t, &rep)
	if len(rep.Members) != 3 || !rep.Store.Up {
		t.Fatalf("--json: %+v", rep)
	}
	f.mu.Lock()
	f.down = errors.New("dial tcp 127.0.0.1:4222: connection refused")
	f.mu.Unlock()
	contains(t, "fleet, store down", policyCtl(env, "fleet").stdout, "store DOWN since 1m30s ago: dial tcp 127.0.0.1:4222: connection refused",
		"store calls failed 3 (timed out 1), skipped while the store's breaker was open 12")
}

func TestFleetActAndFleetFlagReachTheFleetEndpoint(t *testing.T) {
	f, reg, addr := fleetServer(t)
	env := map[string]string{envAddr: addr, envToken: aliceToken}
	r := policyCtl(env, "fleet", "act", "--target", "tag:stripe", "--action", "force-open", "--reason", "incident 4711")
	if r.code != 0 {
		t.Fatalf("act: %d %s", r.code, r.stderr)
	}
	contains(t, "act", r.stdout, "force-open tag:stripe by alice: stored for the fleet as version 1 (audit #1)")
	// --fleet on the override commands sends the same action, with the
	// selection written as a fleet target.
	if r = policyCtl(env, "close", "payments.charge", "--fleet", "--reason", "provider back"); r.code != 0 {
		t.Fatalf("close --fleet: %d %s", r.code, r.stderr)
	}
	if r = policyCtl(env, "release", "--all", "--fleet", "--reason", "over"); r.code != 0 {
		t.Fatalf("release --fleet: %d %s", r.code, r.stderr)
	}
	want := []fleet.Override{
		{Version: 1, Target: "tag:stripe", Action: fleet.ActionForceOpen, Actor: "alice", Reason: "incident 4711", By: "web-1"},
		{Version: 2, Target: "payments.charge", Action: fleet.ActionClose, Actor: "alice", Reason: "provider back", By: "web-1"},
		{Version: 3, Target: "all", Action: fleet.ActionRelease, Actor: "alice", Reason: "over", By: "web-1"},
	}
	got := f.acts()
	if len(got) != len(want) {
		t.Fatalf("stored %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("action %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// Nothing went to the local override endpoint.
	if st := reg.MustGuard("payments.charge").Breaker().State(); st != breaker.Closed {
		t.Fatalf("payments.charge is %s", st)
	}
	contains(t, "fleet", policyCtl(env, "fleet").stdout, "VERSION", "tag:stripe", "force-open", "incident 4711")

	// Refused before the request: the usage names the flag and the value.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"fleet", "act", "--target", "x", "--action", "reset", "--reason", "r"}, `--action "reset" is not one of force-open`},
		{[]string{"fleet", "act", "--action", "close", "--reason", "r"}, "--target is required"},
		{[]string{"fleet", "act", "--target", "tag:", "--action", "close", "--reason", "r"}, `--target "tag:"`},
		{[]string{"fleet", "act", "--target", "x", "--action", "close"}, "--reason is required"},
		{[]string{"open", "payments.charge", "--fleet", "--for", "5m", "--reason", "r"}, "a fleet-wide open lasts until released"},
		{[]string{"reset", "payments.charge", "--fleet", "--reason", "r"}, "unknown flag: --fleet"},
	} {
		r := policyCtl(env, c.args...)
		if r.code != exitUsage || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: code %d, stderr %q; want usage error with %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if n := len(f.acts()); n != 3 {
		t.Fatalf("%d actions stored after refusals", n)
	}

	// The store down: refused by the server (exit 1), saying the action
	// was not stored fleet-wide.
	f.mu.Lock()
	f.down = errors.New("i/o timeout")
	f.mu.Unlock()
	r = policyCtl(env, "open", "payments.charge", "--fleet", "--reason", "r")
	if r.code != exitRefused || !strings.Contains(r.stderr, "not stored fleet-wide") || !strings.Contains(r.stderr, "i/o timeout") {
		t.Fatalf("store down: code %d, stderr %q", r.code, r.stderr)
	}
	// A read token cannot act.
	if r = policyCtl(map[string]string{envAddr: addr, envToken: readToken}, "fleet", "act", "--target", "all", "--action", "close", "--reason", "r"); r.code != exitRefused {
		t.Fatalf("read token: code %d %s", r.code, r.stderr)
	}
}
