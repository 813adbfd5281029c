package admin

// Tests of the steps POST /v1/operations/{op} and POST /v1/snapshot/restore
// are made of (issue 17, item 5), each called alone; the handlers' tests
// cover them together.

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

func TestGuardOpNamesTheOperations(t *testing.T) {
	if op, p := guardOp(OpClose); p != nil || op != OpDisable {
		t.Errorf("close: %v, %v; want disable", op, p)
	}
	_, p := guardOp("explode")
	if p == nil || p.Status != http.StatusNotFound || !strings.Contains(p.Detail, `"explode"`) || !strings.Contains(p.Detail, "metrics-only") {
		t.Errorf("explode: %+v; want a 404 naming it and the operations there are", p)
	}
}

func TestCheckOperation(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	later, past := now.Add(90*time.Minute), now.Add(-time.Second)
	ok := []struct {
		given   Op
		req     OperationRequest
		openFor time.Duration
		params  map[string]string
	}{
		{OpOpen, OperationRequest{Tag: "stripe", Reason: "x"}, 0, map[string]string{}},
		{OpOpen, OperationRequest{Name: "a", Reason: "x", Duration: core.Duration(time.Hour)}, time.Hour, map[string]string{"duration": "1h0m0s"}},
		{OpOpen, OperationRequest{All: true, Reason: "x", Until: &later}, 90 * time.Minute, map[string]string{"until": formatTime(later)}},
		{OpClose, OperationRequest{Name: "a", Reason: "x"}, 0, map[string]string{"as": "close"}},
	}
	for _, c := range ok {
		op, _ := canonicalOp(c.given)
		o, p := checkOperation(c.given, op, &c.req, now)
		if p != nil {
			t.Errorf("%s %+v: %v", c.given, c.req, p)
			continue
		}
		if o.op != op || o.target != c.req.Target() || o.reason != "x" || o.openFor != c.openFor || len(o.params) != len(c.params) {
			t.Errorf("%s %+v: %+v", c.given, c.req, o)
		}
		for k, v := range c.params {
			if o.params[k] != v {
				t.Errorf("%s %+v: params[%s] = %q, want %q", c.given, c.req, k, o.params[k], v)
			}
		}
	}
	bad := []struct {
		op   Op
		req  OperationRequest
		want string
	}{
		{OpOpen, OperationRequest{Reason: "x"}, "select guards"},
		{OpOpen, OperationRequest{Name: "a", Tag: "b", Reason: "x"}, "exclusive"},
		{OpOpen, OperationRequest{Name: "a\n", Reason: "x"}, "name: "},
		{OpOpen, OperationRequest{Name: "a", Reason: " "}, "reason: "},
		{OpReset, OperationRequest{Name: "a", Reason: "x", Duration: core.Duration(time.Hour)}, "open only"},
		{OpOpen, OperationRequest{Name: "a", Reason: "x", Duration: core.Duration(time.Hour), Until: &later}, "exclusive"},
		{OpOpen, OperationRequest{Name: "a", Reason: "x", Duration: -1}, "duration: "},
		{OpOpen, OperationRequest{Name: "a", Reason: "x", Until: &past}, "until: "},
	}
	for _, c := range bad {
		if _, p := checkOperation(c.op, c.op, &c.req, now); p == nil || p.Status != http.StatusBadRequest || !strings.Contains(p.Detail, c.want) {
			t.Errorf("%s %+v: %+v; want a 400 saying %q", c.op, c.req, p, c.want)
		}
	}
}

func TestOperationApply(t *testing.T) {
	reg := testRegistry(t)
	g := reg.MustGuard("search")
	m := breaker.Manual{Actor: "alice", Reason: "x"}
	for _, c := range []struct {
		o    operation
		want breaker.State
	}{
		{operation{op: OpOpen}, breaker.ForcedOpen},
		{operation{op: OpOpen, openFor: time.Hour}, breaker.Open},
		{operation{op: OpDisable}, breaker.Disabled},
		{operation{op: OpMetricsOnly}, breaker.MetricsOnly},
		{operation{op: OpRelease}, breaker.Closed},
		{operation{op: OpReset}, breaker.Closed},
	} {
		c.o.apply(g, m)
		if st := g.Breaker().State(); st != c.want {
			t.Errorf("%s (open for %v): %s, want %s", c.o.op, c.o.openFor, st, c.want)
		}
	}
}

func TestPlanRestore(t *testing.T) {
	a := newTestAPI(t, WithMaxRestoreCreates(1))
	now := time.Now()
	past, later := now.Add(-time.Minute), now.Add(time.Hour)
	a.reg.MustGuard("payments.refund").ForceOpen(breaker.Manual{Actor: "bob", Reason: "x"})
	doc := Snapshot{Version: SnapshotVersion, Guards: []SnapshotGuard{
		{Name: "search"},          // automatic here and there: left alone
		{Name: "payments.refund"}, // manual here only: released
		{Name: "payments.charge", Override: &Override{State: breaker.Open, Until: &past}}, // ended: skipped
		{Name: "payments.new", Override: &Override{State: breaker.Disabled}},              // created
		{Name: "gone"}, // missing and automatic: not created
	}}
	steps, skipped, p := a.srv.planRestore(&doc, now)
	if p != nil {
		t.Fatal(p)
	}
	var names []string
	for _, st := range steps {
		names = append(names, st.sg.Name)
	}
	if !slices.Equal(names, []string{"payments.refund", "payments.new"}) || steps[0].g == nil || steps[1].g != nil {
		t.Errorf("steps %v (guards %v, %v)", names, steps[0].g, steps[1].g)
	}
	if !slices.Equal(skipped, []string{"payments.charge"}) {
		t.Errorf("skipped %v", skipped)
	}

	// Refusals leave the registry as it was.
	doc.Guards = append(doc.Guards, SnapshotGuard{Name: "payments.other", Override: &Override{State: breaker.Open, Until: &later}})
	if _, _, p := a.srv.planRestore(&doc, now); p == nil || p.Code != codeTooManyGuards {
		t.Errorf("two guards to create, one allowed: %+v", p)
	}
	doc.Guards = []SnapshotGuard{{Name: "payments.new", Policy: "search", Override: &Override{State: breaker.Disabled}}}
	if _, _, p := a.srv.planRestore(&doc, now); p == nil || p.Guard != "payments.new" || !strings.Contains(p.Detail, `"payments"`) {
		t.Errorf("a policy the name does not resolve to: %+v", p)
	}
	if _, ok := a.reg.Lookup("payments.new"); ok {
		t.Error("planning created a guard")
	}

	created, p := a.srv.createGuards(steps)
	if p != nil || len(created) != 1 || created[0].Guard != "payments.new" || created[0].Policy != "payments" || steps[1].g == nil {
		t.Errorf("createGuards: %+v, %v", created, p)
	}
}

func TestApplyOverride(t *testing.T) {
	reg := testRegistry(t)
	g := reg.MustGuard("search")
	now := time.Now()
	until := now.Add(time.Hour)
	m := breaker.Manual{Actor: "alice", Reason: "x"}
	for _, c := range []struct {
		o    *Override
		want breaker.State
	}{
		{&Override{State: breaker.ForcedOpen}, breaker.ForcedOpen},
		{&Override{State: breaker.Open, Until: &until}, breaker.Open},
		{&Override{State: breaker.Disabled}, breaker.Disabled},
		{&Override{State: breaker.MetricsOnly}, breaker.MetricsOnly},
		{nil, breaker.Closed},
	} {
		applyOverride(g, c.o, now, m)
		if st := g.Breaker().State(); st != c.want {
			t.Errorf("%+v: %s, want %s", c.o, st, c.want)
		}
	}
	if b := g.Breaker().Snapshot(); b.Manual {
		t.Error("a nil override left the guard manual")
	}
}

func TestApplyRestoreAuditsWhatItDid(t *testing.T) {
	a := newTestAPI(t)
	until := time.Now().Add(time.Hour)
	doc := Snapshot{Version: SnapshotVersion, Guards: []SnapshotGuard{
		{Name: "search", Override: &Override{State: breaker.Open, Until: &until}},
		{Name: "new.one", Override: &Override{State: breaker.MetricsOnly}},
	}}
	res, p := a.srv.applyRestore(context.Background(), "alice", "back", &doc)
	if p != nil {
		t.Fatal(p)
	}
	if len(res.Changes) != 2 || res.Changes[0].Guard != "new.one" || res.Changes[1].To != breaker.Open || !slices.Equal(res.Created, []string{"new.one"}) || res.AuditSeq != 1 {
		t.Errorf("%+v", res)
	}
	recs := a.audit("").Records
	if len(recs) != 1 || recs[0].Op != OpRestore || recs[0].Actor != "alice" || len(recs[0].Created) != 1 {
		t.Errorf("audit %+v", recs)
	}
}
