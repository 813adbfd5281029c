package admin

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

func TestSnapshotRoundTrip(t *testing.T) {
	a := newTestAPI(t)
	a.reg.MustGuard("ephemeral", core.WithTags("batch"))
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "payments.charge", Reason: "incident 42"}).ok(t, nil)
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "payments.refund", Reason: "incident 42", Duration: core.Duration(time.Hour)}).ok(t, nil)
	a.op(OpDisable, aliceSecret, OperationRequest{Name: "search", Reason: "noisy"}).ok(t, nil)
	a.op(OpMetricsOnly, aliceSecret, OperationRequest{Name: "ephemeral", Reason: "trial"}).ok(t, nil)

	var doc Snapshot
	a.do(http.MethodGet, "/v1/snapshot", readSecret, nil).ok(t, &doc)
	if doc.Version != SnapshotVersion || doc.TakenAt.IsZero() || len(doc.Guards) != 5 {
		t.Fatalf("snapshot %+v", doc)
	}
	byName := map[string]SnapshotGuard{}
	for _, g := range doc.Guards {
		byName[g.Name] = g
	}
	if o := byName["payments.charge"].Override; o == nil || o.State != breaker.ForcedOpen || o.Actor != "alice" || o.Reason != "incident 42" || o.Until != nil {
		t.Errorf("payments.charge override %+v", o)
	}
	refundUntil := byName["payments.refund"].Override.Until
	if o := byName["payments.refund"].Override; o.State != breaker.Open || refundUntil == nil {
		t.Errorf("payments.refund override %+v", o)
	}
	if byName["GET /users/{id}"].Override != nil || byName["GET /users/{id}"].State != breaker.Closed {
		t.Errorf("automatic guard: %+v", byName["GET /users/{id}"])
	}

	// Another process: "ephemeral" does not exist yet, "GET /users/{id}"
	// is disabled there (the snapshot says automatic), and "legacy" is
	// not in the snapshot at all.
	b := newTestAPI(t)
	b.reg.MustGuard("GET /users/{id}").Disable(breaker.Manual{Actor: "x", Reason: "y"})
	b.reg.MustGuard("legacy").ForceOpen(breaker.Manual{Actor: "x", Reason: "y"})

	var res RestoreResult
	b.do(http.MethodPost, "/v1/snapshot/restore", bobSecret, RestoreRequest{Reason: "restart", Snapshot: doc}).ok(t, &res)
	if !slices.Equal(res.Created, []string{"ephemeral"}) || len(res.Skipped) != 0 || res.AuditSeq != 1 {
		t.Errorf("result %+v", res)
	}
	var changed []string
	for _, c := range res.Changes {
		changed = append(changed, c.Guard)
	}
	if want := []string{"GET /users/{id}", "ephemeral", "payments.charge", "payments.refund", "search"}; !slices.Equal(changed, want) {
		t.Errorf("changes %q, want %q", changed, want)
	}
	want := map[string]string{
		"payments.charge": "forced-open", "payments.refund": "open", "search": "disabled",
		"ephemeral": "metrics-only", "GET /users/{id}": "closed", "legacy": "forced-open",
	}
	for n, st := range want {
		if got := b.state(n); got != st {
			t.Errorf("%s: %s after restore, want %s", n, got, st)
		}
	}
	if !b.reg.MustGuard("ephemeral").HasTag("batch") {
		t.Error("the created guard lost its tags")
	}
	if u := b.reg.MustGuard("payments.refund").Breaker().Snapshot().OpenUntil; u.Sub(*refundUntil).Abs() > time.Second {
		t.Errorf("open until %v, want %v", u, *refundUntil)
	}
	if last := b.reg.MustGuard("search").Breaker().Snapshot().LastTransition; last.Actor != "bob" || last.Reason != "restart" {
		t.Errorf("restore's transition %+v", last)
	}

	// Saving again gives the same overrides.
	var doc2 Snapshot
	b.do(http.MethodGet, "/v1/snapshot", readSecret, nil).ok(t, &doc2)
	for _, g := range doc2.Guards {
		o1, o2 := byName[g.Name].Override, g.Override
		if g.Name == "legacy" {
			continue
		}
		if (o1 == nil) != (o2 == nil) || o1 != nil && (o1.State != o2.State || (o1.Until == nil) != (o2.Until == nil)) {
			t.Errorf("%s: override %+v after the round trip, want %+v", g.Name, o2, o1)
		}
	}

	// The restore is audited like any write.
	rec := b.audit("").Records[0]
	if rec.Op != OpRestore || rec.Actor != "bob" || rec.Reason != "restart" || len(rec.Before) != 5 || len(rec.After) != 5 || rec.Params["snapshotTakenAt"] == "" {
		t.Errorf("audit %+v", rec)
	}
}

func TestRestoreSkipsExpiredOpens(t *testing.T) {
	a := newTestAPI(t)
	past := time.Now().Add(-time.Minute)
	doc := Snapshot{Version: 1, Guards: []SnapshotGuard{
		{Name: "search", State: breaker.Open, Override: &Override{State: breaker.Open, Until: &past}},
		{Name: "new-guard", State: breaker.Open, Override: &Override{State: breaker.Open, Until: &past}},
	}}
	var res RestoreResult
	a.do(http.MethodPost, "/v1/snapshot/restore", aliceSecret, RestoreRequest{Reason: "x", Snapshot: doc}).ok(t, &res)
	if !slices.Equal(res.Skipped, []string{"new-guard", "search"}) || len(res.Changes) != 0 || len(res.Created) != 0 {
		t.Fatalf("%+v", res)
	}
	if a.state("search") != "closed" {
		t.Error("an expired open was applied")
	}
	if _, ok := a.reg.Lookup("new-guard"); ok {
		t.Error("a guard was created for an expired override")
	}
}

func TestRestoreRefusesBadDocuments(t *testing.T) {
	a := newTestAPI(t)
	soon := time.Now().Add(time.Hour)
	cases := []struct {
		name   string
		doc    Snapshot
		detail string
	}{
		{"version", Snapshot{Version: 2}, "version: 2"},
		{"empty name", Snapshot{Version: 1, Guards: []SnapshotGuard{{}}}, "guards[0].name"},
		{"twice", Snapshot{Version: 1, Guards: []SnapshotGuard{{Name: "a"}, {Name: "a"}}}, `"a" appears twice`},
		{"open without until", Snapshot{Version: 1, Guards: []SnapshotGuard{{Name: "a", Override: &Override{State: breaker.Open}}}}, "override.until"},
		{"until on forced-open", Snapshot{Version: 1, Guards: []SnapshotGuard{{Name: "a", Override: &Override{State: breaker.ForcedOpen, Until: &soon}}}}, "override.until"},
		{"automatic override", Snapshot{Version: 1, Guards: []SnapshotGuard{{Name: "a", Override: &Override{State: breaker.HalfOpen}}}}, "override.state"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := a.do(http.MethodPost, "/v1/snapshot/restore", aliceSecret, RestoreRequest{Reason: "x", Snapshot: c.doc}).problem(t, 400, codeInvalid)
			if !strings.Contains(p.Detail, c.detail) {
				t.Errorf("detail %q, want %q", p.Detail, c.detail)
			}
		})
	}
	a.do(http.MethodPost, "/v1/snapshot/restore", aliceSecret, RestoreRequest{Snapshot: Snapshot{Version: 1}}).problem(t, 400, codeInvalid)
	if _, ok := a.reg.Lookup("a"); ok {
		t.Error("a refused restore created a guard")
	}
	if n := len(a.audit("").Records); n != 0 {
		t.Errorf("%d audit records", n)
	}
}

func TestPrune(t *testing.T) {
	a := newTestAPI(t)
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "keep"}).ok(t, nil)
	idle := core.Duration(time.Nanosecond)

	// A dry run is a read: the read token may ask, nothing is removed and
	// nothing recorded. It names exactly the guards a prune would remove
	// (Registry.IdleAt), so asking twice gives the same answer.
	var res PruneResult
	want := []string{"GET /users/{id}", "payments.charge", "payments.refund"}
	for range 2 {
		a.do(http.MethodPost, "/v1/prune", readSecret, PruneRequest{Idle: idle, DryRun: true}).ok(t, &res)
		if !res.DryRun || !slices.Equal(res.Pruned, want) {
			t.Fatalf("dry run %+v, want %q (search is forced open)", res, want)
		}
	}
	if len(a.reg.Snapshot()) != 4 {
		t.Fatal("a dry run pruned")
	}
	a.do(http.MethodPost, "/v1/prune", readSecret, PruneRequest{Idle: core.Duration(time.Hour), DryRun: true}).ok(t, &res)
	if len(res.Pruned) != 0 {
		t.Fatalf("dry run with idle 1h: %q", res.Pruned)
	}

	a.do(http.MethodPost, "/v1/prune", aliceSecret, PruneRequest{Idle: idle}).problem(t, 400, codeInvalid) // no reason
	a.do(http.MethodPost, "/v1/prune", aliceSecret, PruneRequest{Reason: "x"}).problem(t, 400, codeInvalid)
	a.do(http.MethodPost, "/v1/prune", aliceSecret, `{"idle":"1h","reason":"x","dry":true}`).problem(t, 400, codeUnknownField)

	res = PruneResult{}
	a.do(http.MethodPost, "/v1/prune", aliceSecret, PruneRequest{Idle: idle, Reason: "cleanup"}).ok(t, &res)
	if !slices.Equal(res.Pruned, want) || res.DryRun || res.AuditSeq != 2 {
		t.Fatalf("prune %+v", res)
	}
	a.do(http.MethodGet, "/v1/guards/payments.charge", readSecret, nil).problem(t, 404, codeUnknownGuard)
	rec := a.audit("?after=1").Records[0]
	if rec.Op != OpPrune || rec.Params["idle"] != "1ns" || len(rec.Before) != 3 || !rec.After[0].Gone || rec.Before[0].Guard != "GET /users/{id}" {
		t.Errorf("audit %+v", rec)
	}
}

func TestHealth(t *testing.T) {
	reg := testRegistry(t)
	mux := http.NewServeMux()
	// A bad option meant for Handler does not break the probes.
	mux.Handle("/probes/", http.StripPrefix("/probes", HealthHandler(reg, WithToken("x", "short", Write), WithService("checkout", "the checkout service", "1.2.3"))))
	a := &testAPI{t: t, reg: reg, ts: newServer(t, mux)}

	get := func(path string, wantStatus int) Health {
		t.Helper()
		r := a.do(http.MethodGet, "/probes"+path, "", nil)
		if r.status != wantStatus {
			t.Fatalf("%s: %d, want %d: %s", path, r.status, wantStatus, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/health+json" {
			t.Fatalf("%s: Content-Type %q", path, ct)
		}
		var h Health
		if err := jsonUnmarshal(r.body, &h); err != nil {
			t.Fatal(err)
		}
		return h
	}

	h := get("/health", 200)
	if h.Status != StatusPass || len(h.Checks) != 4 || h.ServiceID != "checkout" || h.Version != "1.2.3" {
		t.Fatalf("all closed: %+v", h)
	}
	c := h.Checks["payments.charge:circuitBreaker"]
	if len(c) != 1 || c[0].ComponentID != "payments.charge" || c[0].ObservedValue != "closed" || c[0].Status != StatusPass || !c[0].Critical || c[0].Time.IsZero() {
		t.Fatalf("check %+v", c)
	}

	reg.MustGuard("payments.refund").ForceOpen(breaker.Manual{Actor: "t", Reason: "maintenance"})
	h = get("/health", 200)
	if h.Status != StatusWarn || h.Checks["payments.refund:circuitBreaker"][0].Status != StatusWarn || h.Checks["payments.refund:circuitBreaker"][0].Output != "set by an operator" {
		t.Fatalf("non-critical open: %+v", h)
	}
	if r := get("/ready", 200); r.Status != StatusPass || len(r.Checks) != 0 {
		t.Fatalf("ready with a non-critical guard open: %+v", r)
	}

	reg.MustGuard("payments.charge").OpenFor(time.Hour, breaker.Manual{Actor: "t", Reason: "down"})
	h = get("/health", 503)
	if h.Status != StatusFail || h.Checks["payments.charge:circuitBreaker"][0].Status != StatusFail || !strings.Contains(h.Output, "payments.charge") {
		t.Fatalf("critical open: %+v", h)
	}
	r := get("/ready", 503)
	if r.Status != StatusFail || len(r.Checks) != 1 || r.Checks["payments.charge:circuitBreaker"] == nil {
		t.Fatalf("ready with a critical guard open: %+v", r)
	}
	if l := get("/live", 200); l.Status != StatusPass || len(l.Checks) != 0 {
		t.Fatalf("live: %+v", l)
	}

	// Half-open warns: open briefly and wait (bounded) for the probe state.
	reg.MustGuard("payments.charge").Reset(breaker.Manual{Actor: "t", Reason: "ok"})
	reg.MustGuard("search").OpenFor(time.Millisecond, breaker.Manual{Actor: "t", Reason: "blip"})
	for i := 0; reg.MustGuard("search").Breaker().State() != breaker.HalfOpen; i++ {
		if i > 5000 {
			t.Fatal("search never half-opened")
		}
		time.Sleep(time.Millisecond)
	}
	h = get("/health", 200)
	if h.Checks["search:circuitBreaker"][0].Status != StatusWarn || h.Checks["search:circuitBreaker"][0].ObservedValue != "half-open" {
		t.Fatalf("half-open: %+v", h.Checks["search:circuitBreaker"])
	}
	get("/ready", 200)

	a.do(http.MethodPost, "/probes/health", "", `{}`).problem(t, 405, codeMethod)
	a.do(http.MethodGet, "/probes/healthz", "", nil).problem(t, 404, codeNotFound)
	req, _ := http.NewRequest(http.MethodHead, a.ts.URL+"/probes/live", nil)
	if r := a.send(req); r.status != 200 || len(r.body) != 0 {
		t.Errorf("HEAD /live: %d %q", r.status, r.body)
	}
}

func TestDebugPage(t *testing.T) {
	a := newTestAPI(t)
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "GET /users/{id}", Reason: "<script>alert(1)</script>"}).ok(t, nil)
	a.op(OpRelease, aliceSecret, OperationRequest{Name: "GET /users/{id}", Reason: "done"}).ok(t, nil)
	r := a.do(http.MethodGet, "/debug", readSecret, nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s", r.status, r.header.Get("Content-Type"))
	}
	body := string(r.body)
	for _, want := range []string{"<title>breakerbox /debug</title>", "payments.charge", "GET /users/{id}", "&lt;script&gt;alert(1)&lt;/script&gt;", "forced-open", "alice", "done"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("the page has an unescaped reason")
	}
	// Newest first: the release is listed before the open.
	if strings.Index(body, ">done<") > strings.Index(body, "&lt;script&gt;") {
		t.Error("operations are not newest first")
	}
}
