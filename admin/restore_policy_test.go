package admin

// Regression tests for issue 16, "Hardening: the operator surface under
// hostile input".

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Issue 16, item 6: a restore created a guard the application had not used
// yet under whatever policy the snapshot named (a critical one, say), and
// the guard kept that policy.
func TestRestoreRefusesAPolicyTheNameDoesNotResolveTo(t *testing.T) {
	a := newTestAPI(t)
	soon := time.Now().Add(time.Hour)
	cases := []struct {
		guard, policy, resolves string
	}{
		{"never-used", "critical-payments", "default"},    // a new guard
		{"payments.new", "critical-payments", "payments"}, // a new guard matching a pattern
		{"search", "payments", "search"},                  // an existing guard
	}
	for _, c := range cases {
		doc := Snapshot{Version: 1, Guards: []SnapshotGuard{{
			Name: c.guard, Policy: c.policy, State: breaker.Open,
			Override: &Override{State: breaker.Open, Until: &soon},
		}}}
		p := a.do(http.MethodPost, "/v1/snapshot/restore", aliceSecret, RestoreRequest{Reason: "x", Snapshot: doc}).problem(t, 400, codeInvalid)
		for _, want := range []string{quote(c.guard), quote(c.policy), quote(c.resolves)} {
			if !strings.Contains(p.Detail, want) {
				t.Errorf("%s: detail %q does not name %s", c.guard, p.Detail, want)
			}
		}
		if p.Guard != c.guard {
			t.Errorf("%s: problem's guard %q", c.guard, p.Guard)
		}
	}
	if _, ok := a.reg.Lookup("never-used"); ok {
		t.Error("the refused restore created a guard")
	}
	if _, ok := a.reg.Lookup("payments.new"); ok {
		t.Error("the refused restore created a guard")
	}
	if a.state("search") != "closed" {
		t.Error("the refused restore changed a guard")
	}
	if n := len(a.audit("").Records); n != 0 {
		t.Errorf("%d audit records for refused restores", n)
	}
}

// A created guard gets the policy its name resolves to, and the audit
// record says which guards were created, with which policy and tags.
func TestRestoreRecordsCreatedGuardsAndTheirPolicy(t *testing.T) {
	var logged bytes.Buffer
	a := newTestAPI(t, WithAuditSink(NewSlogSink(slog.New(slog.NewJSONHandler(&logged, nil)))))
	doc := Snapshot{Version: 1, Guards: []SnapshotGuard{
		{Name: "payments.new", Policy: "payments", Tags: []string{"batch"}, State: breaker.ForcedOpen, Override: &Override{State: breaker.ForcedOpen}},
		{Name: "unnamed", State: breaker.Disabled, Override: &Override{State: breaker.Disabled}}, // no policy in the snapshot
		{Name: "search", Policy: "search", State: breaker.Disabled, Override: &Override{State: breaker.Disabled}},
	}}
	var res RestoreResult
	a.do(http.MethodPost, "/v1/snapshot/restore", aliceSecret, RestoreRequest{Reason: "restart", Snapshot: doc}).ok(t, &res)
	if !slices.Equal(res.Created, []string{"payments.new", "unnamed"}) {
		t.Errorf("created %q", res.Created)
	}
	if g, _ := a.reg.Lookup("payments.new"); g == nil || g.Policy().Name != "payments" || g.Critical() {
		t.Fatalf("payments.new: %+v", g)
	}
	if g, _ := a.reg.Lookup("unnamed"); g == nil || g.Policy().Name != core.DefaultPolicyName {
		t.Fatalf("unnamed: %+v", g)
	}
	rec := a.audit("").Records[0]
	want := []CreatedGuard{
		{Guard: "payments.new", Policy: "payments", Tags: []string{"batch", "stripe"}},
		{Guard: "unnamed", Policy: core.DefaultPolicyName},
	}
	if len(rec.Created) != len(want) {
		t.Fatalf("audit record's created guards %+v, want %+v", rec.Created, want)
	}
	for i := range want {
		g, w := rec.Created[i], want[i]
		slices.Sort(g.Tags)
		if g.Guard != w.Guard || g.Policy != w.Policy || !slices.Equal(g.Tags, w.Tags) {
			t.Errorf("created[%d] = %+v, want %+v", i, g, w)
		}
	}
	if !strings.Contains(logged.String(), `"created":[{"guard":"payments.new","policy":"payments"`) {
		t.Errorf("the slog sink does not log the created guards: %s", logged.String())
	}
	page := a.do(http.MethodGet, "/debug", readSecret, nil)
	if !strings.Contains(string(page.body), "created: payments.new (policy payments), unnamed (policy default)") {
		t.Errorf("the debug page does not show the created guards:\n%s", page.body)
	}
}

// A restore may create at most WithMaxRestoreCreates guards (default
// DefaultMaxRestoreCreates); beyond, it is refused before anything is
// created.
func TestRestoreCapsTheGuardsItCreates(t *testing.T) {
	many := func(n int) Snapshot {
		doc := Snapshot{Version: 1}
		for i := range n {
			doc.Guards = append(doc.Guards, SnapshotGuard{Name: fmt.Sprintf("g%04d", i), State: breaker.ForcedOpen, Override: &Override{State: breaker.ForcedOpen}})
		}
		return doc
	}
	a := newTestAPI(t)
	p := a.do(http.MethodPost, "/v1/snapshot/restore", aliceSecret, RestoreRequest{Reason: "x", Snapshot: many(DefaultMaxRestoreCreates + 1)}).problem(t, 400, codeTooManyGuards)
	if !strings.Contains(p.Detail, fmt.Sprint(DefaultMaxRestoreCreates+1)) || !strings.Contains(p.Detail, fmt.Sprint(DefaultMaxRestoreCreates)) {
		t.Errorf("detail %q", p.Detail)
	}
	if _, ok := a.reg.Lookup("g0000"); ok {
		t.Error("the refused restore created guards")
	}

	b := newTestAPI(t, WithMaxRestoreCreates(2))
	b.do(http.MethodPost, "/v1/snapshot/restore", aliceSecret, RestoreRequest{Reason: "x", Snapshot: many(3)}).problem(t, 400, codeTooManyGuards)
	var res RestoreResult
	b.do(http.MethodPost, "/v1/snapshot/restore", aliceSecret, RestoreRequest{Reason: "x", Snapshot: many(2)}).ok(t, &res)
	if len(res.Created) != 2 {
		t.Errorf("created %q", res.Created)
	}
	if _, err := New(testRegistry(t), WithMaxRestoreCreates(-1)); err == nil {
		t.Error("WithMaxRestoreCreates(-1) accepted")
	}
}
