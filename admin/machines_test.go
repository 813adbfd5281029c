package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// machinePolicy is a policy with custom states: healthy, degraded (half
// the calls), readOnly and the manual state maintenance.
func machinePolicy(name string, match ...string) core.Policy {
	return core.Policy{Name: name, Match: match, Breaker: &core.BreakerPolicy{Mode: "disabled"}, Machine: &core.MachinePolicy{
		Initial: "healthy",
		States: []core.MachineState{
			{Name: "healthy"},
			{Name: "degraded", Admit: "percent", Percent: 50},
			{Name: "readOnly", Admit: "readOnly"},
			{Name: "maintenance", Admit: "none", Manual: true},
		},
		Transitions: []core.MachineTransition{
			{From: "healthy", To: "degraded", When: core.MachineCondition{ConsecutiveFailures: 3}},
			{From: "degraded", To: "readOnly", When: core.MachineCondition{ConsecutiveFailures: 3}},
			{From: "degraded", To: "healthy", When: core.MachineCondition{ConsecutiveSuccesses: 5}},
			{From: "readOnly", To: "degraded", When: core.MachineCondition{After: core.Duration(time.Minute)}},
		},
	}}
}

// machineAPI is an admin server over testRegistry's guards plus two with
// custom states, one named with a slash.
func machineAPI(t *testing.T, opts ...Option) *testAPI {
	t.Helper()
	reg := testRegistry(t)
	if _, err := reg.Apply(core.Document{Policies: []core.Policy{
		{Name: "payments", Match: []string{"payments.*"}, Tags: []string{"stripe"}},
		{Name: "critical-payments", Extends: "payments", Critical: true},
		{Name: "search", Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 4}},
		machinePolicy("inventory", "inventory.*", "GET /stock/*"),
	}}); err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("inventory.read")
	reg.MustGuard("GET /stock/{sku}")
	return newTestAPIFor(t, reg, opts...)
}

func TestMachinesList(t *testing.T) {
	a := machineAPI(t)
	for range 3 {
		_ = a.reg.MustGuard("inventory.read").Do(context.Background(), func(context.Context) error { return errors.New("boom") })
	}
	var l MachineList
	a.do(http.MethodGet, "/v1/machines", readSecret, nil).ok(t, &l)
	if len(l.Machines) != 2 || l.Machines[0].Guard != "GET /stock/{sku}" || l.Machines[1].Guard != "inventory.read" {
		t.Fatalf("machines %+v", l.Machines)
	}
	m := l.Machines[1]
	if m.Status.State != "degraded" || m.Policy != "inventory" || m.Initial != "healthy" || m.Window != 100 || len(m.States) != 4 || len(m.Transitions) != 4 || m.Status.Transitions != 1 {
		t.Fatalf("inventory.read %+v", m)
	}
	if m.States[1] != (MachineStateInfo{Name: "degraded", Admit: "percent", Percent: 50}) || m.States[0].Admit != "all" || !m.States[3].Manual {
		t.Fatalf("states %+v", m.States)
	}
	if m.Transitions[0] != (MachineTransitionInfo{From: "healthy", To: "degraded", When: "consecutiveFailures >= 3"}) {
		t.Fatalf("transitions %+v", m.Transitions)
	}
	if !strings.HasPrefix(m.Mermaid, "stateDiagram-v2\n") || !strings.Contains(m.Mermaid, "class degraded current") || !strings.Contains(m.DOT, "digraph machine") {
		t.Fatalf("diagrams:\n%s\n%s", m.Mermaid, m.DOT)
	}
	// One guard; a guard without a machine and an unknown one are 404s.
	a.do(http.MethodGet, "/v1/machines?guard="+url.QueryEscape("GET /stock/{sku}"), readSecret, nil).ok(t, &l)
	if len(l.Machines) != 1 || l.Machines[0].Status.State != "healthy" {
		t.Fatalf("one guard: %+v", l.Machines)
	}
	a.do(http.MethodGet, "/v1/machines?guard=search", readSecret, nil).problem(t, 404, codeNoMachine)
	a.do(http.MethodGet, "/v1/machines?guard=nope", readSecret, nil).problem(t, 404, codeUnknownGuard)
	a.do(http.MethodGet, "/v1/machines", "", nil).problem(t, 401, codeUnauthorized)
	// The guard's status shows its custom state too.
	var st GuardStatus
	a.do(http.MethodGet, "/v1/guards/inventory.read", readSecret, nil).ok(t, &st)
	if st.Machine == nil || st.Machine.State != "degraded" || st.Machine.Transitions != 1 || st.Machine.Since == nil {
		t.Fatalf("status machine %+v", st.Machine)
	}
}

// Moving a guard's custom state by hand needs a write token, names an
// unknown state, and is audited with the actor and the reason.
func TestMachineSetState(t *testing.T) {
	a := machineAPI(t)
	path := "/v1/machines/" + url.PathEscape("GET /stock/{sku}") + "/state"
	req := MachineStateRequest{State: "maintenance", Reason: "warehouse move"}
	a.do(http.MethodPost, path, "", req).problem(t, 401, codeUnauthorized)
	a.do(http.MethodPost, path, readSecret, req).problem(t, 403, codeForbidden)
	p := a.do(http.MethodPost, path, aliceSecret, MachineStateRequest{State: "sick", Reason: "x"}).problem(t, 400, codeUnknownState)
	if !strings.Contains(p.Detail, `"sick"`) || !strings.Contains(p.Detail, "healthy, degraded, readOnly, maintenance") {
		t.Fatalf("unknown state: %+v", p)
	}
	a.do(http.MethodPost, path, aliceSecret, MachineStateRequest{State: "degraded"}).problem(t, 400, codeInvalid)
	a.do(http.MethodPost, "/v1/machines/search/state", aliceSecret, req).problem(t, 404, codeNoMachine)
	g := a.reg.MustGuard("GET /stock/{sku}")
	if st := g.Machine().State(); st != "healthy" {
		t.Fatalf("refused requests moved the guard to %s", st)
	}
	if n := len(a.audit("").Records); n != 0 {
		t.Fatalf("refused requests were audited: %d", n)
	}
	var res MachineStateResult
	a.do(http.MethodPost, path, aliceSecret, req).ok(t, &res)
	if res.From != "healthy" || res.To != "maintenance" || res.AuditSeq == 0 || res.Guard != "GET /stock/{sku}" {
		t.Fatalf("result %+v", res)
	}
	err := g.Do(context.Background(), func(context.Context) error { return nil })
	if !errors.Is(err, core.ErrMachineState) || !strings.HasSuffix(err.Error(), "state:maintenance") {
		t.Fatalf("a call in maintenance: %v", err)
	}
	recs := a.audit("").Records
	if len(recs) != 1 {
		t.Fatalf("audit %+v", recs)
	}
	r := recs[0]
	if r.Op != OpMachineState || r.Actor != "alice" || r.Reason != "warehouse move" || r.Target.Name != "GET /stock/{sku}" || r.Params["from"] != "healthy" || r.Params["to"] != "maintenance" {
		t.Fatalf("audit record %+v", r)
	}
}

// When the audit record cannot be written, the guard goes back to its
// state and the request fails.
func TestMachineSetStateAuditFails(t *testing.T) {
	a := machineAPI(t, WithAuditSink(&failingSink{fail: true}))
	a.do(http.MethodPost, "/v1/machines/inventory.read/state", aliceSecret, MachineStateRequest{State: "readOnly", Reason: "x"}).problem(t, 503, codeAuditFailed)
	if st := a.reg.MustGuard("inventory.read").Machine().State(); st != "healthy" {
		t.Fatalf("an unaudited change stayed: %s", st)
	}
}

// Changes of custom state go to the event stream as "machine" events.
func TestMachineEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, err := core.NewRegistry(core.WithPolicies(machinePolicy("inventory", "inventory.*")))
		if err != nil {
			t.Fatal(err)
		}
		g := reg.MustGuard("inventory.read")
		s, err := New(reg, WithPushInterval(time.Second), WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.Start()
		w, closeStream := openStream(s)
		defer closeStream()
		synctest.Wait()
		for range 3 {
			_ = g.Do(context.Background(), func(context.Context) error { return errors.New("boom") })
		}
		time.Sleep(time.Second)
		synctest.Wait()
		evs := w.events(t, "machine")
		if len(evs) != 1 || !strings.Contains(string(evs[0].data), `"guard":"inventory.read","from":"healthy","to":"degraded"`) || !strings.Contains(string(evs[0].data), `consecutiveFailures`) {
			t.Fatalf("machine events %+v\nall: %s", evs, w.body())
		}
	})
}
