package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// fakeFleet is the least a fleet agent does for the admin API: it keeps
// the operator actions it is given, numbered from 1 as a store's version
// counter would, and reports a store that is up or down as the test says.
// A real agent (fleet.Join) replaces it where a store is at hand.
type fakeFleet struct {
	mu    sync.Mutex
	snap  fleet.Snapshot // Overrides grows with every stored action
	down  error          // non-nil: the store is down, Act fails with it
	since time.Time      // when the store went down
}

func newFakeFleet() *fakeFleet {
	self := fleet.Member{ID: "replica-a", Region: "eu-west-1", Version: "v1.4.2", Policy: 7}
	return &fakeFleet{snap: fleet.Snapshot{
		Self:    self,
		Members: []fleet.Member{self, {ID: "replica-b", Region: "eu-west-1", Policy: 7}, {ID: "replica-c", Region: "us-east-1", Policy: 6}},
		Guards: []fleet.GuardView{
			{Guard: "payments.charge", Rule: "quorum", OpenVotes: []string{"replica-b", "replica-c"}, Adopted: true,
				Lease: &fleet.Lease{Guard: "payments.charge", Holder: "replica-c", Token: "t1", Outcome: fleet.ProbeRunning}},
			{Guard: "search", Rule: "local"},
		},
	}}
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

func (f *fakeFleet) Act(ctx context.Context, o fleet.Override) (fleet.Override, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return fleet.Override{}, f.down
	}
	o.Version = uint64(len(f.snap.Overrides) + 1)
	o.By = f.snap.Self.ID
	f.snap.Overrides = append(f.snap.Overrides, o)
	return o, nil
}

func (f *fakeFleet) Health() fleet.StoreHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return fleet.StoreHealth{Up: false, LastError: f.down.Error(), Since: f.since, Dropped: 3}
	}
	return fleet.StoreHealth{Up: true}
}

// setDown takes the store down (err non-nil) or brings it back.
func (f *fakeFleet) setDown(err error, since time.Time) {
	f.mu.Lock()
	f.down, f.since = err, since
	f.mu.Unlock()
}

func (f *fakeFleet) acts() []fleet.Override {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fleet.Override(nil), f.snap.Overrides...)
}

func TestFleetEndpointsWithoutAFleetAre404(t *testing.T) {
	a := newTestAPI(t)
	a.do(http.MethodGet, "/v1/fleet", "", nil).problem(t, http.StatusUnauthorized, codeUnauthorized)
	a.do(http.MethodGet, "/v1/fleet", readSecret, nil).problem(t, http.StatusNotFound, codeFleetOff)
	a.do(http.MethodPost, "/v1/fleet/actions", aliceSecret, FleetActionRequest{Target: "search", Action: fleet.ActionForceOpen, Reason: "x"}).problem(t, http.StatusNotFound, codeFleetOff)
	var id Identity
	a.do(http.MethodGet, "/v1/whoami", readSecret, nil).ok(t, &id)
	if id.Fleet {
		t.Error("whoami says fleet without one")
	}
	if err := WithFleet(nil).apply(&config{}); err == nil {
		t.Fatal("WithFleet(nil) accepted")
	}
}

func TestFleetReportShowsMembersGuardsOverridesAndStore(t *testing.T) {
	f := newFakeFleet()
	a := newTestAPI(t, WithFleet(f))
	var id Identity
	a.do(http.MethodGet, "/v1/whoami", readSecret, nil).ok(t, &id)
	if !id.Fleet {
		t.Error("whoami does not say fleet")
	}
	var rep FleetReport
	a.do(http.MethodGet, "/v1/fleet", readSecret, nil).ok(t, &rep)
	if rep.Self.ID != "replica-a" || len(rep.Members) != 3 || rep.Members[2].Region != "us-east-1" || rep.Members[0].Policy != 7 {
		t.Fatalf("members: %+v", rep)
	}
	g := rep.Guards[0]
	if g.Guard != "payments.charge" || g.Rule != "quorum" || len(g.OpenVotes) != 2 || !g.Adopted || g.Lease == nil || g.Lease.Holder != "replica-c" {
		t.Fatalf("guard view: %+v", g)
	}
	if !rep.Store.Up {
		t.Fatalf("store: %+v", rep.Store)
	}
	if g.Lease.Token != "" {
		t.Errorf("the lease's token is served: %q", g.Lease.Token)
	}
	if f.snap.Guards[0].Lease.Token != "t1" {
		t.Error("the report changed the agent's lease")
	}
	// Empty lists are [] for clients (the dashboard), not null.
	body := string(a.do(http.MethodGet, "/v1/fleet", readSecret, nil).body)
	for _, want := range []string{`"overrides":[]`, `"openVotes":[]`} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %s: %s", want, body)
		}
	}
}

func TestFleetActionStoredWithActorAndAuditedOnce(t *testing.T) {
	f := newFakeFleet()
	a := newTestAPI(t, WithFleet(f))
	var res FleetActionResult
	a.do(http.MethodPost, "/v1/fleet/actions", aliceSecret, FleetActionRequest{Target: "tag:stripe", Action: fleet.ActionForceOpen, Reason: "incident 4711"}).ok(t, &res)
	want := fleet.Override{Version: 1, Target: "tag:stripe", Action: fleet.ActionForceOpen, Actor: "alice", Reason: "incident 4711", By: "replica-a"}
	if res.Override != want || res.AuditSeq == 0 {
		t.Fatalf("result %+v, want %+v", res, want)
	}
	if got := f.acts(); len(got) != 1 || got[0] != want {
		t.Fatalf("stored %+v", got)
	}
	// The action is the fleet's to apply: this replica's guards are not
	// touched by the endpoint itself.
	if st := a.reg.MustGuard("payments.charge").Breaker().State(); st != breaker.Closed {
		t.Fatalf("the endpoint changed a guard: %s", st)
	}
	var page AuditPage
	a.do(http.MethodGet, "/v1/audit", readSecret, nil).ok(t, &page)
	if len(page.Records) != 1 {
		t.Fatalf("%d audit records, want 1: %+v", len(page.Records), page.Records)
	}
	r := page.Records[0]
	if r.Op != OpFleetAction || r.Actor != "alice" || r.Reason != "incident 4711" || r.Target.Tag != "stripe" ||
		r.Params["version"] != "1" || r.Params["action"] != "force-open" || r.Params["target"] != "tag:stripe" || r.Params["by"] != "replica-a" {
		t.Fatalf("audit record %+v", r)
	}
	// The next action gets the next version; a name that looks like a
	// keyword is stored with its prefix.
	a.do(http.MethodPost, "/v1/fleet/actions", bobSecret, FleetActionRequest{Target: "name:all", Action: fleet.ActionRelease, Reason: "over"}).ok(t, &res)
	if res.Override.Version != 2 || res.Override.Target != "name:all" || res.Override.Actor != "bob" {
		t.Fatalf("second action %+v", res.Override)
	}
	var rep FleetReport
	a.do(http.MethodGet, "/v1/fleet", readSecret, nil).ok(t, &rep)
	if len(rep.Overrides) != 2 {
		t.Fatalf("overrides %+v", rep.Overrides)
	}
}

func TestFleetActionRefusesBadInputNamingTheField(t *testing.T) {
	f := newFakeFleet()
	a := newTestAPI(t, WithFleet(f))
	post := func(secret string, req any) response {
		return a.do(http.MethodPost, "/v1/fleet/actions", secret, req)
	}
	post(readSecret, FleetActionRequest{Target: "search", Action: fleet.ActionClose, Reason: "x"}).problem(t, http.StatusForbidden, codeForbidden)
	for _, c := range []struct {
		req  FleetActionRequest
		want []string
	}{
		{FleetActionRequest{Target: "search", Action: "reset", Reason: "x"}, []string{"action", `"reset"`, "force-open"}},
		{FleetActionRequest{Target: "search", Action: "", Reason: "x"}, []string{"action", `""`}},
		{FleetActionRequest{Target: "", Action: fleet.ActionClose, Reason: "x"}, []string{"target", "empty"}},
		{FleetActionRequest{Target: "tag:", Action: fleet.ActionClose, Reason: "x"}, []string{"target", `"tag:"`}},
		{FleetActionRequest{Target: "a\nb", Action: fleet.ActionClose, Reason: "x"}, []string{"target", "control character"}},
		{FleetActionRequest{Target: "search", Action: fleet.ActionClose, Reason: " "}, []string{"reason", "required"}},
	} {
		p := post(aliceSecret, c.req).problem(t, http.StatusBadRequest, codeInvalid)
		for _, w := range c.want {
			if !strings.Contains(p.Detail, w) {
				t.Errorf("%+v: detail %q lacks %q", c.req, p.Detail, w)
			}
		}
	}
	post(aliceSecret, `{"target":"search","action":"close","reason":"x","until":"later"}`).problem(t, http.StatusBadRequest, codeUnknownField)
	if got := f.acts(); len(got) != 0 {
		t.Fatalf("refused actions reached the fleet: %+v", got)
	}
}

func TestFleetActionWhileTheStoreIsDownIsRefusedAndNotAudited(t *testing.T) {
	f := newFakeFleet()
	sink := &failingSink{}
	a := newTestAPI(t, WithFleet(f), WithAuditSink(sink))
	f.setDown(errors.New("dial tcp 127.0.0.1:6379: connection refused"), time.Now())
	p := a.do(http.MethodPost, "/v1/fleet/actions", aliceSecret, FleetActionRequest{Target: "search", Action: fleet.ActionForceOpen, Reason: "x"}).problem(t, http.StatusServiceUnavailable, codeFleetDown)
	for _, w := range []string{"force-open search was not stored fleet-wide", "connection refused", "/v1/operations"} {
		if !strings.Contains(p.Detail, w) {
			t.Errorf("detail %q lacks %q", p.Detail, w)
		}
	}
	if len(sink.got) != 0 {
		t.Fatalf("an action not stored was audited: %+v", sink.got)
	}
}

func TestFleetActionWhoseAuditFailsSaysItIsStored(t *testing.T) {
	f := newFakeFleet()
	a := newTestAPI(t, WithFleet(f), WithAuditSink(&failingSink{fail: true}))
	p := a.do(http.MethodPost, "/v1/fleet/actions", aliceSecret, FleetActionRequest{Target: "all", Action: fleet.ActionDisable, Reason: "x"}).problem(t, http.StatusServiceUnavailable, codeAuditFailed)
	if !strings.Contains(p.Detail, "stored fleet-wide as version 1") || !strings.Contains(p.Detail, "disk full") {
		t.Fatalf("detail %q", p.Detail)
	}
}

func TestParseFleetTargetRoundTrips(t *testing.T) {
	for _, s := range []string{"all", "tag:stripe", "payments.charge", "GET /users/{id}", "name:all", "name:tag:x", "name:name:y"} {
		tg, err := wire.ParseFleetTarget(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got := wire.FleetTarget(tg); got != s {
			t.Errorf("%q read as %+v, written as %q", s, tg, got)
		}
	}
	if tg, _ := wire.ParseFleetTarget("name:search"); wire.FleetTarget(tg) != "search" {
		t.Errorf("name:search is not written as search")
	}
}

// While the store is down /health warns (200) with a fleet check holding
// the last error and since when; it never fails because of the store, and
// /ready does not look at it.
func TestHealthWarnsWhileTheFleetStoreIsDown(t *testing.T) {
	reg := testRegistry(t)
	f := newFakeFleet()
	ts := newServer(t, HealthHandler(reg, WithFleet(f)))
	h, _ := getHealth(t, ts, "/health", http.StatusOK)
	if h.Status != StatusPass || h.Checks[fleetHealthKey] != nil {
		t.Fatalf("store up: %+v", h)
	}
	since := time.Date(2026, 12, 7, 18, 0, 0, 0, time.UTC)
	f.setDown(errors.New("i/o timeout"), since)
	h, _ = getHealth(t, ts, "/health", http.StatusOK)
	c := h.Checks[fleetHealthKey]
	if h.Status != StatusWarn || !strings.Contains(h.Output, "fleet store unreachable") || len(c) != 1 ||
		c[0].Status != StatusWarn || c[0].Output != "i/o timeout" || !c[0].Time.Equal(since) || c[0].ComponentID != "fleet" {
		t.Fatalf("store down: %+v", h)
	}
	if h, _ = getHealth(t, ts, "/ready", http.StatusOK); h.Status != StatusPass {
		t.Fatalf("ready: %+v", h)
	}
	// A critical guard open fails the document, as before; the fleet
	// check is still listed, still a warning.
	reg.MustGuard("payments.charge").ForceOpen(breaker.Manual{Actor: "t", Reason: "r"})
	h, _ = getHealth(t, ts, "/health", http.StatusServiceUnavailable)
	if h.Status != StatusFail || h.Checks[fleetHealthKey][0].Status != StatusWarn || !strings.HasPrefix(h.Output, "critical guards open") {
		t.Fatalf("critical open and store down: %+v", h)
	}
	// A summary says the store is down, without its error.
	reg.MustGuard("payments.charge").Release(breaker.Manual{Actor: "t", Reason: "r"})
	ts = newServer(t, HealthHandler(reg, WithFleet(f), WithHealthSummary()))
	h, body := getHealth(t, ts, "/health", http.StatusOK)
	if h.Status != StatusWarn || h.Checks != nil || strings.Contains(body, "timeout") {
		t.Fatalf("summary: %s", body)
	}
	f.setDown(nil, time.Time{})
	if h, _ = getHealth(t, ts, "/health", http.StatusOK); h.Status != StatusPass {
		t.Fatalf("store back: %+v", h)
	}
}
