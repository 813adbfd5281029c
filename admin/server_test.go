package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

func guardNames(gs []GuardStatus) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.Name)
	}
	return out
}

func TestListGuards(t *testing.T) {
	a := newTestAPI(t)
	g := a.reg.MustGuard("payments.charge")
	for i := 0; i < 3; i++ {
		p, err := g.Allow(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			p.Done(errors.New("boom"))
		} else {
			p.Done(nil)
		}
	}

	var list GuardList
	a.do(http.MethodGet, "/v1/guards", readSecret, nil).ok(t, &list)
	want := []string{"GET /users/{id}", "payments.charge", "payments.refund", "search"}
	if got := guardNames(list.Guards); !slices.Equal(got, want) {
		t.Fatalf("guards %q, want %q", got, want)
	}
	if list.TakenAt.IsZero() {
		t.Error("takenAt is zero")
	}
	pc := list.Guards[1]
	if pc.Policy != "critical-payments" || !pc.Critical || !slices.Equal(pc.Tags, []string{"payments", "stripe"}) {
		t.Errorf("payments.charge: %+v", pc)
	}
	if pc.State != breaker.Closed || pc.Counters.Admitted != 3 || pc.Counters.Failed != 1 || pc.Counters.Succeeded != 2 {
		t.Errorf("payments.charge counters: %+v state %v", pc.Counters, pc.State)
	}
	if pc.Window.Calls != 3 || pc.Window.FailureRate < 33 || pc.Window.FailureRate > 34 {
		t.Errorf("payments.charge window: %+v", pc.Window)
	}
	if pc.PolicyConfig != nil {
		t.Error("the list includes policy configs")
	}
	if s := list.Guards[3]; s.Bulkhead == nil || s.Bulkhead.MaxConcurrent != 4 {
		t.Errorf("search bulkhead: %+v", s.Bulkhead)
	}

	a.do(http.MethodGet, "/v1/guards?tag=stripe", readSecret, nil).ok(t, &list)
	if got := guardNames(list.Guards); !slices.Equal(got, []string{"payments.charge", "payments.refund"}) {
		t.Errorf("tag=stripe: %q", got)
	}
	a.reg.MustGuard("search").ForceOpen(breaker.Manual{Actor: "t", Reason: "r"})
	a.do(http.MethodGet, "/v1/guards?state=forced-open", readSecret, nil).ok(t, &list)
	if got := guardNames(list.Guards); !slices.Equal(got, []string{"search"}) {
		t.Errorf("state=forced-open: %q", got)
	}
	a.do(http.MethodGet, "/v1/guards?state=shut", readSecret, nil).problem(t, 400, codeInvalid)
	a.do(http.MethodGet, "/v1/guards?tag=nope", readSecret, nil).ok(t, &list)
	if list.Guards == nil || len(list.Guards) != 0 {
		t.Errorf("tag=nope: %#v, want an empty list", list.Guards)
	}
}

func TestGetGuard(t *testing.T) {
	a := newTestAPI(t)
	for _, name := range []string{"payments.charge", "GET /users/{id}"} {
		var st GuardStatus
		a.do(http.MethodGet, "/v1/guards/"+url.PathEscape(name), readSecret, nil).ok(t, &st)
		if st.Name != name || st.PolicyConfig == nil {
			t.Fatalf("%q: %+v", name, st)
		}
	}
	var st GuardStatus
	a.do(http.MethodGet, "/v1/guards/payments.charge", readSecret, nil).ok(t, &st)
	if st.PolicyConfig.Name != "critical-payments" || st.PolicyConfig.Extends != "payments" || !st.PolicyConfig.Critical {
		t.Errorf("policy config: %+v", st.PolicyConfig)
	}
	p := a.do(http.MethodGet, "/v1/guards/nope", readSecret, nil).problem(t, 404, codeUnknownGuard)
	if p.Guard != "nope" || !strings.Contains(p.Detail, `"nope"`) || p.Instance != "/v1/guards/nope" {
		t.Errorf("problem %+v", p)
	}
	if _, ok := a.reg.Lookup("nope"); ok {
		t.Error("GET created the guard")
	}
}

func TestOperationsByName(t *testing.T) {
	a := newTestAPI(t)
	steps := []struct {
		op   Op
		want breaker.State
	}{
		{OpOpen, breaker.ForcedOpen},
		{OpRelease, breaker.Closed},
		{OpDisable, breaker.Disabled},
		{OpMetricsOnly, breaker.MetricsOnly},
		{OpReset, breaker.MetricsOnly}, // reset keeps a manual state
		{OpRelease, breaker.Closed},
		{OpClose, breaker.Disabled},
		{OpRelease, breaker.Closed},
		{OpReset, breaker.Closed},
	}
	from := breaker.Closed
	for i, s := range steps {
		var res OperationResult
		a.op(s.op, aliceSecret, OperationRequest{Name: "GET /users/{id}", Reason: "step " + string(s.op)}).ok(t, &res)
		wantOp, _ := canonicalOp(s.op)
		if res.Op != wantOp || res.Actor != "alice" || res.Reason != "step "+string(s.op) || res.Target.Name != "GET /users/{id}" {
			t.Fatalf("step %d %s: result %+v", i, s.op, res)
		}
		if len(res.Changes) != 1 || res.Changes[0].Guard != "GET /users/{id}" || res.Changes[0].From != from || res.Changes[0].To != s.want {
			t.Fatalf("step %d %s: changes %+v, want %v -> %v", i, s.op, res.Changes, from, s.want)
		}
		if got := a.state("GET /users/{id}"); got != s.want.String() {
			t.Fatalf("step %d %s: state %s, want %s", i, s.op, got, s.want)
		}
		if res.AuditSeq != uint64(i+1) {
			t.Fatalf("step %d: auditSeq %d", i, res.AuditSeq)
		}
		from = s.want
	}
	// The breaker records who and why.
	last := a.reg.MustGuard("GET /users/{id}").Breaker().Snapshot().LastTransition
	if last.Actor != "alice" || !strings.HasPrefix(last.Reason, "step ") {
		t.Errorf("last transition %+v", last)
	}
}

func TestOpenForAndUntil(t *testing.T) {
	a := newTestAPI(t)
	before := time.Now()
	var res OperationResult
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "deploy", Duration: core.Duration(time.Hour)}).ok(t, &res)
	c := res.Changes[0]
	if c.To != breaker.Open || c.OpenUntil == nil || c.OpenUntil.Before(before.Add(time.Hour)) || c.OpenUntil.After(time.Now().Add(time.Hour)) {
		t.Fatalf("open for 1h: %+v", c)
	}
	var st GuardStatus
	a.do(http.MethodGet, "/v1/guards/search", readSecret, nil).ok(t, &st)
	if st.Override == nil || st.Override.State != breaker.Open || st.Override.Until == nil || st.Override.Actor != "alice" || st.Override.Reason != "deploy" {
		t.Fatalf("override %+v", st.Override)
	}
	if st.RetryAfter <= 0 || time.Duration(st.RetryAfter) > time.Hour {
		t.Errorf("retryAfter %v", st.RetryAfter)
	}

	until := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	a.op(OpOpen, aliceSecret, OperationRequest{Tag: "stripe", Reason: "maintenance", Until: &until}).ok(t, &res)
	for _, c := range res.Changes {
		if c.To != breaker.Open || c.OpenUntil == nil || c.OpenUntil.Sub(until).Abs() > time.Second {
			t.Errorf("open until: %+v, want until %v", c, until)
		}
	}
	p := a.audit("").Records
	if got := p[len(p)-1].Params["until"]; got != formatTime(until) {
		t.Errorf("audit params until %q", got)
	}
	if got := p[0].Params["duration"]; got != "1h0m0s" {
		t.Errorf("audit params duration %q", got)
	}

	past := time.Now().Add(-time.Minute)
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "x", Until: &past}).problem(t, 400, codeInvalid)
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "x", Until: &until, Duration: core.Duration(time.Minute)}).problem(t, 400, codeInvalid)
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "x", Duration: core.Duration(-time.Minute)}).problem(t, 400, codeInvalid)
	p2 := a.op(OpDisable, aliceSecret, OperationRequest{Name: "search", Reason: "x", Duration: core.Duration(time.Minute)}).problem(t, 400, codeInvalid)
	if !strings.Contains(p2.Detail, "open only") {
		t.Errorf("detail %q", p2.Detail)
	}
}

func TestOperationsByTagAndAll(t *testing.T) {
	a := newTestAPI(t)
	var res OperationResult
	a.op(OpOpen, aliceSecret, OperationRequest{Tag: "stripe", Reason: "provider down"}).ok(t, &res)
	if len(res.Changes) != 2 || res.Changes[0].Guard != "payments.charge" || res.Changes[1].Guard != "payments.refund" {
		t.Fatalf("changes %+v", res.Changes)
	}
	if a.state("payments.charge") != "forced-open" || a.state("payments.refund") != "forced-open" || a.state("search") != "closed" {
		t.Fatal("tag open changed the wrong guards")
	}
	a.op(OpRelease, bobSecret, OperationRequest{All: true, Reason: "all clear"}).ok(t, &res)
	if len(res.Changes) != 4 || res.Actor != "bob" {
		t.Fatalf("release all: %+v", res)
	}
	for _, n := range []string{"payments.charge", "payments.refund", "search", "GET /users/{id}"} {
		if a.state(n) != "closed" {
			t.Errorf("%s: %s after release all", n, a.state(n))
		}
	}
	a.op(OpOpen, aliceSecret, OperationRequest{Tag: "nope", Reason: "x"}).problem(t, 404, codeNoGuards)
}

func TestOperationErrors(t *testing.T) {
	a := newTestAPI(t)
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "nope", Reason: "x"}).problem(t, 404, codeUnknownGuard)
	if _, ok := a.reg.Lookup("nope"); ok {
		t.Fatal("an operation created an unknown guard")
	}
	a.op("explode", aliceSecret, OperationRequest{Name: "search", Reason: "x"}).problem(t, 404, codeNotFound)
	a.op(OpOpen, aliceSecret, OperationRequest{Reason: "x"}).problem(t, 400, codeInvalid)
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Tag: "stripe", Reason: "x"}).problem(t, 400, codeInvalid)
	p := a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "  "}).problem(t, 400, codeInvalid)
	if !strings.Contains(p.Detail, "reason") {
		t.Errorf("detail %q", p.Detail)
	}
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: strings.Repeat("x", MaxReasonLength+1)}).problem(t, 400, codeInvalid)
	r := a.do(http.MethodGet, "/v1/operations/open", aliceSecret, nil)
	r.problem(t, 405, codeMethod)
	if r.header.Get("Allow") != "POST" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	a.do(http.MethodDelete, "/v1/guards", aliceSecret, nil).problem(t, 405, codeMethod)
	a.do(http.MethodGet, "/v2/guards", aliceSecret, nil).problem(t, 404, codeNotFound)
	a.do(http.MethodGet, "/dashboard", aliceSecret, nil).problem(t, 404, codeNotFound)
	if n := len(a.audit("").Records); n != 0 {
		t.Errorf("refused operations left %d audit records", n)
	}
	if a.state("search") != "closed" {
		t.Error("a refused operation changed state")
	}
}

func TestAuth(t *testing.T) {
	a := newTestAPI(t)
	req := OperationRequest{Name: "search", Reason: "x"}

	p := a.op(OpOpen, "", req).problem(t, 401, codeUnauthorized)
	if !strings.Contains(p.Detail, "missing") {
		t.Errorf("no token: %q", p.Detail)
	}
	a.op(OpOpen, "wrong-secret-0123456789", req).problem(t, 401, codeUnauthorized)
	a.op(OpOpen, aliceSecret[:len(aliceSecret)-1], req).problem(t, 401, codeUnauthorized)
	p = a.op(OpOpen, readSecret, req).problem(t, 403, codeForbidden)
	if !strings.Contains(p.Detail, `"grafana"`) {
		t.Errorf("read-only token: %q", p.Detail)
	}
	a.do(http.MethodPost, "/v1/snapshot/restore", readSecret, RestoreRequest{Reason: "x", Snapshot: Snapshot{Version: 1}}).problem(t, 403, codeForbidden)
	a.do(http.MethodPost, "/v1/prune", readSecret, PruneRequest{Idle: core.Duration(time.Hour), Reason: "x"}).problem(t, 403, codeForbidden)
	if a.state("search") != "closed" {
		t.Fatal("a refused write changed state")
	}

	r := a.do(http.MethodGet, "/v1/guards", "", nil)
	r.problem(t, 401, codeUnauthorized)
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
	}
	for _, path := range []string{"/v1/guards", "/v1/guards/search", "/v1/snapshot", "/v1/audit", "/debug"} {
		a.do(http.MethodGet, path, "wrong-secret-0123456789", nil).problem(t, 401, codeUnauthorized)
		a.do(http.MethodGet, path, readSecret, nil)
		if r := a.do(http.MethodGet, path, readSecret, nil); r.status != 200 {
			t.Errorf("%s with the read token: %d", path, r.status)
		}
		if r := a.do(http.MethodGet, path, aliceSecret, nil); r.status != 200 {
			t.Errorf("%s with a write token: %d", path, r.status)
		}
	}
	// Scheme names are case-insensitive; other schemes are refused.
	hr, _ := http.NewRequest(http.MethodGet, a.ts.URL+"/v1/guards", nil)
	hr.Header.Set("Authorization", "bearer "+readSecret)
	if r := a.send(hr); r.status != 200 {
		t.Errorf("lower-case bearer: %d", r.status)
	}
	hr.Header.Set("Authorization", "Token "+readSecret)
	a.send(hr).problem(t, 401, codeUnauthorized)
	// Health needs no token.
	if r := a.do(http.MethodGet, "/live", "", nil); r.status != 200 {
		t.Errorf("/live without a token: %d", r.status)
	}
}

func TestBasicAuthOnDebugPage(t *testing.T) {
	a := newTestAPI(t)
	r := a.do(http.MethodGet, "/debug", "", nil)
	r.problem(t, 401, codeUnauthorized)
	if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("WWW-Authenticate %q, want a Basic challenge for browsers", r.header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest(http.MethodGet, a.ts.URL+"/debug", nil)
	req.SetBasicAuth("grafana", readSecret)
	if r := a.send(req); r.status != 200 {
		t.Errorf("basic auth: %d %s", r.status, r.body)
	}
	req.SetBasicAuth("alice", readSecret) // right secret, wrong name
	a.send(req).problem(t, 401, codeUnauthorized)
}

func TestNoTokensMeansReadOnly(t *testing.T) {
	reg := testRegistry(t)
	s, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	a := &testAPI{t: t, reg: reg, srv: s}
	a.ts = newServer(t, s)
	var list GuardList
	a.do(http.MethodGet, "/v1/guards", "", nil).ok(t, &list)
	if len(list.Guards) != 4 {
		t.Fatalf("%d guards", len(list.Guards))
	}
	p := a.op(OpOpen, "", OperationRequest{Name: "search", Reason: "x"}).problem(t, 403, codeReadOnly)
	if !strings.Contains(p.Detail, "read-only") {
		t.Errorf("detail %q", p.Detail)
	}
	// A made-up token does not open writes either.
	a.op(OpOpen, "anything-at-all-12345", OperationRequest{Name: "search", Reason: "x"}).problem(t, 403, codeReadOnly)
	a.do(http.MethodPost, "/v1/prune", "", PruneRequest{Idle: core.Duration(time.Nanosecond), Reason: "x"}).problem(t, 403, codeReadOnly)
	if a.state("search") != "closed" || len(reg.Snapshot()) != 4 {
		t.Fatal("a write went through without a token")
	}
}

func TestOpenRead(t *testing.T) {
	a := newTestAPI(t, WithOpenRead())
	if r := a.do(http.MethodGet, "/v1/guards", "", nil); r.status != 200 {
		t.Fatalf("open read: %d", r.status)
	}
	a.op(OpOpen, "", OperationRequest{Name: "search", Reason: "x"}).problem(t, 401, codeUnauthorized)
	a.do(http.MethodGet, "/v1/guards", "wrong-secret-0123456789", nil).problem(t, 401, codeUnauthorized)
}

func TestMountedUnderPrefix(t *testing.T) {
	reg := testRegistry(t)
	mux := http.NewServeMux()
	mux.Handle("/ops/admin/", http.StripPrefix("/ops/admin", Handler(reg, WithToken("alice", aliceSecret, Write))))
	a := &testAPI{t: t, reg: reg, ts: newServer(t, mux)}
	var st GuardStatus
	a.do(http.MethodGet, "/ops/admin/v1/guards/"+url.PathEscape("GET /users/{id}"), aliceSecret, nil).ok(t, &st)
	if st.Name != "GET /users/{id}" {
		t.Fatalf("name %q", st.Name)
	}
	var res OperationResult
	a.do(http.MethodPost, "/ops/admin/v1/operations/open", aliceSecret, OperationRequest{Name: "search", Reason: "x"}).ok(t, &res)
	if r := a.do(http.MethodGet, "/ops/admin/ready", "", nil); r.status != 200 {
		t.Errorf("ready under prefix: %d", r.status)
	}
}

func TestMisconfigured(t *testing.T) {
	reg := testRegistry(t)
	for _, opts := range [][]Option{
		{WithToken("alice", "short", Write)},
		{WithToken("", aliceSecret, Write)},
		{WithToken("a:b", aliceSecret, Write)},
		{WithToken("alice", aliceSecret, 0)},
		{WithToken("alice", aliceSecret, Write), WithToken("alice", bobSecret, Read)},
		{WithToken("alice", aliceSecret, Write), WithToken("bob", aliceSecret, Read)},
		{WithMaxBodyBytes(0)},
		{WithRecent(0)},
		{WithAuditSink(nil)},
		{WithLogger(nil)},
	} {
		if _, err := New(reg, opts...); err == nil {
			t.Errorf("New accepted a bad configuration (%d options)", len(opts))
		}
	}
	if _, err := New(nil); err == nil {
		t.Error("New(nil) succeeded")
	}
	a := &testAPI{t: t, reg: reg, ts: newServer(t, Handler(reg, WithToken("alice", "short", Write)))}
	// The answer says the handler is misconfigured, not how: that is for
	// the server's log (see TestMisorderedTokenEntryEchoesNoSecret).
	p := a.do(http.MethodGet, "/v1/guards", "", nil).problem(t, 500, codeMisconfigured)
	if !strings.Contains(p.Detail, "misconfigured") || strings.Contains(p.Detail, "secret") {
		t.Errorf("detail %q", p.Detail)
	}
	a.op(OpOpen, "short", OperationRequest{Name: "search", Reason: "x"}).problem(t, 500, codeMisconfigured)
}
