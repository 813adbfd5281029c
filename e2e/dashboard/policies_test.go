package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
)

// readToken is the secret of the policy test's read token, named "bob".
const readToken = "e2e-bob-read-token-0123456789abcd"

// The policy test's variants: an A/B variant of payments for half the
// segment keys, and a shadow variant of search for every key.
const (
	abVariant     = "fast-open"
	shadowVariant = "strict-search"
	abPercent     = 50
)

// policyDocument is the test's document; payFailures is the payments
// policy's threshold, the field the second version changes.
func policyDocument(payFailures int) core.Document {
	return core.Document{
		Policies: []core.Policy{
			{Name: "payments", Match: []string{"payments.*"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: payFailures}},
			{Name: "search", Match: []string{"search.*"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5}},
			{Name: "inventory", Match: []string{"inventory.*"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5}},
		},
		Tenants: &core.TenantPolicy{MaxGuards: 2, Overrides: []core.TenantOverride{{
			Tenant: "*", Policies: []core.Policy{{Name: "inventory", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 2}}},
		}}},
		Variants: []core.VariantPolicy{
			{Name: abVariant, Policy: "payments", Percent: abPercent, Override: core.Policy{Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1}}},
			{Name: shadowVariant, Policy: "search", Percent: 100, Shadow: true, Override: core.Policy{Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1}}},
		},
	}
}

// policyScene is an admin server with a policy manager over a registry
// that ran two versions of the document and some calls through its
// variants and tenant guards.
type policyScene struct {
	reg     *core.Registry
	server  *httptest.Server
	url     string // the dashboard, ending in "/"
	v1Hash  string
	abCalls [2]uint64 // calls of the A/B variant's control and variant arms
}

func newPolicyScene(t *testing.T) *policyScene {
	t.Helper()
	ctx := context.Background()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	m, err := policy.NewManager(ctx, reg, policy.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	v1, err := m.Apply(ctx, policyDocument(5), policy.Meta{Source: "e2e", Actor: "ci", Reason: "first document"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(ctx, policyDocument(3), policy.Meta{Source: "e2e", Actor: "ci", Reason: "payments trip sooner"}); err != nil {
		t.Fatal(err)
	}
	srv, err := admin.New(reg,
		admin.WithToken("alice", WriteToken, admin.Write),
		admin.WithToken("bob", readToken, admin.Read),
		admin.WithPolicyManager(m),
		admin.WithPushInterval(200*time.Millisecond),
		admin.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", srv))
	handleBlank(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })
	ps := &policyScene{reg: reg, server: ts, url: ts.URL + "/admin/", v1Hash: v1.Record.Hash}

	call := func(ctx context.Context, name string, fail bool) {
		t.Helper()
		g, err := reg.GuardFor(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = core.Do(ctx, g, func(context.Context) (struct{}, error) {
			if fail {
				return struct{}{}, errBoom
			}
			return struct{}{}, nil
		})
	}
	// Twenty users through payments: the stable hash puts some of them in
	// the A/B variant.
	for i := range 20 {
		key := "user-" + strconv.Itoa(i)
		arm := 0
		if core.SegmentBucket(abVariant, key) < abPercent*10_000 {
			arm = 1
		}
		ps.abCalls[arm]++
		call(core.WithSegment(ctx, key), "payments.charge", false)
	}
	if ps.abCalls[0] == 0 || ps.abCalls[1] == 0 {
		t.Fatalf("the keys fall in one arm only: %v", ps.abCalls)
	}
	// Ten users through search, the first call failing: the shadow breaker
	// (one failure) would have tripped, the control (five) does not.
	for i := range 10 {
		call(core.WithSegment(ctx, "user-"+strconv.Itoa(i)), "search.query", i == 0)
	}
	// Three tenants for two tenant guards: one call overflows.
	for _, tenant := range []string{"acme", "globex", "initech"} {
		call(core.WithTenant(ctx, tenant), "inventory.lookup", false)
	}
	return ps
}

// handleBlank serves a blank page of the same origin at "/", where a tab
// puts its token in session storage before it opens the dashboard.
func handleBlank(mux *http.ServeMux) {
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprint(w, `<!DOCTYPE html><html><head><link rel="icon" href="data:,"><title>blank</title></head><body></body></html>`)
	})
}

// signIn opens the dashboard in tb with token in the tab's session
// storage, as the sign-in dialog leaves it, and waits for the guards.
func (ps *policyScene) signIn(tb *tab, token string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(ps.server.URL + "/"))
	tb.do(chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('breakerbox.token', ` + strconv.Quote(token) + `)`))
	tb.do(chromedp.Navigate(ps.url))
	tb.waitFor("the guards", `window.breakerbox && breakerbox.stats.hellos > 0 && document.querySelectorAll('#grid .tile').length > 0`, 20*time.Second)
}

// openPolicies opens the Policies view and waits until it shows version v.
func (tb *tab) openPolicies(v int) {
	tb.t.Helper()
	tb.do(chromedp.Click(chromedp.ID("policies-button")))
	tb.waitFor("the policies view at version "+strconv.Itoa(v),
		`!document.getElementById('policies').hidden && !document.getElementById('policies-body').hidden && document.getElementById('policies-version').textContent === '`+strconv.Itoa(v)+`'`, 15*time.Second)
}

// audit reads the audit log with the write token.
func (ps *policyScene) audit(t *testing.T) admin.AuditPage {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ps.url+"v1/audit?limit=1000", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+WriteToken)
	res, err := ps.server.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var p admin.AuditPage
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET v1/audit: %s", res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 19: the Policies view and the variants panel, with a read token
// and with a write token, against a real admin server and policy manager.
func TestDashboardPoliciesAndVariants(t *testing.T) {
	browser := newBrowser(t)
	ps := newPolicyScene(t)
	_, v2Hash := ps.reg.PolicyVersion()

	t.Run("policies view with a read token", func(t *testing.T) {
		tb := newTab(t, browser)
		ps.signIn(tb, readToken)
		tb.waitFor("sign-in", `document.getElementById('who').textContent.includes('bob (read-only)')`, 10*time.Second)
		tb.openPolicies(2)
		if got := eval[string](tb, `document.getElementById('policies-hash').textContent`); got != v2Hash {
			t.Errorf("hash %q, want %q", got, v2Hash)
		}
		rows := eval[[]string](tb, `[...document.querySelectorAll('#policies-history tr')].map(tr => tr.textContent)`)
		if len(rows) != 2 || !strings.HasPrefix(rows[0], "2 live") || !strings.Contains(rows[0], "payments trip sooner") || !strings.HasPrefix(rows[1], "1") || strings.Contains(rows[1], "live") {
			t.Errorf("history rows %q", rows)
		}
		// The documentation: Markdown rendered, not shown as source.
		tb.waitFor("the docs", `[...document.querySelectorAll('#policies-docs h4 code')].some(c => c.textContent === 'payments')`, 5*time.Second)
		if h := eval[string](tb, `(document.querySelector('#policies-docs h3') || {}).textContent`); h != "Policies" {
			t.Errorf("docs heading %q", h)
		}
		docs := eval[string](tb, `document.getElementById('policies-docs').textContent`)
		for _, want := range []string{"inventory", abVariant, shadowVariant} {
			if !strings.Contains(docs, want) {
				t.Errorf("the docs do not name %s", want)
			}
		}
		if strings.Contains(docs, "## ") || strings.Contains(docs, "**") {
			t.Errorf("Markdown marks in the rendered docs: %.200q", docs)
		}
		// A read token cannot roll back: no buttons, no column.
		if n := eval[int](tb, `document.querySelectorAll('#policies-history button').length`); n != 0 {
			t.Errorf("%d rollback buttons for a read token", n)
		}
		if !eval[bool](tb, `document.getElementById('policies-actions-col').hidden`) {
			t.Error("the rollback column is shown to a read token")
		}
		tb.noErrors()
	})

	t.Run("variants panel", func(t *testing.T) {
		tb := newTab(t, browser)
		ps.signIn(tb, readToken)
		tb.do(chromedp.WaitVisible(chromedp.ID("variants-panel")))
		tb.waitFor("the variants' rows", `document.querySelectorAll('#variants-rows tr').length === 4`, 15*time.Second)
		type row struct {
			Head  string   `json:"head"`
			Cells []string `json:"cells"`
		}
		rows := eval[[]row](tb, `[...document.querySelectorAll('#variants-rows tr')].map(tr => ({head: (tr.querySelector('th') || {}).textContent || '', cells: [...tr.querySelectorAll('td')].map(td => td.textContent)}))`)
		stats := ps.reg.Variants()
		if len(stats) != 2 {
			t.Fatalf("the registry has %d variants", len(stats))
		}
		// Columns: arm, guards, calls, failure rate, rejections, trips.
		check := func(i int, head, arm string, calls uint64) {
			t.Helper()
			r := rows[i]
			if r.Head != head || len(r.Cells) != 6 || r.Cells[0] != arm || r.Cells[2] != strconv.FormatUint(calls, 10) {
				t.Errorf("row %d: %+v, want %q, arm %q, %d calls", i, r, head, arm, calls)
			}
		}
		check(0, abVariant+" (payments, 50%)", "control", ps.abCalls[0])
		check(1, "", "variant", ps.abCalls[1])
		check(2, shadowVariant+" (search, 100%, shadow)", "control", 10)
		check(3, "", "shadow (would-be)", 10)
		// The figures are the registry's: the shadow breaker's would-be
		// trip and rejections, the control's failure rate.
		sh := stats[1]
		if sh.Variant.Trips != 1 || sh.Control.Trips != 0 {
			t.Errorf("shadow variant %+v", sh)
		}
		if got, want := rows[3].Cells[4:], []string{strconv.FormatUint(sh.Variant.Rejections, 10), "1"}; got[0] != want[0] || got[1] != want[1] {
			t.Errorf("shadow arm rejections, trips %q, want %q", got, want)
		}
		if got := rows[2].Cells[3]; got != "10.0%" {
			t.Errorf("the shadow's control failure rate %q", got)
		}
		tenants := eval[string](tb, `document.getElementById('variants-tenants').textContent`)
		if !strings.Contains(tenants, "2 of at most 2") || !strings.Contains(tenants, "bound (on their base guard): 1.") {
			t.Errorf("tenants %q", tenants)
		}
		tb.noErrors()
	})

	t.Run("rollback with a write token", func(t *testing.T) {
		const reason = "e2e: payments trip too soon"
		tb := newTab(t, browser)
		ps.signIn(tb, WriteToken)
		tb.waitFor("sign-in", `document.getElementById('who').textContent.includes('alice (write)')`, 10*time.Second)
		tb.openPolicies(2)
		// The live version has no button; version 1 has one.
		if n := eval[int](tb, `document.querySelectorAll('#policies-history button').length`); n != 1 {
			t.Fatalf("%d rollback buttons, want 1", n)
		}
		btn := `#policies-history tr:nth-child(2) button`
		if got := eval[string](tb, `document.querySelector('`+btn+`').textContent`); got != "Roll back to 1…" {
			t.Fatalf("button %q", got)
		}
		tb.do(chromedp.Click(chromedp.CSS(btn)), chromedp.WaitVisible(chromedp.ID("policy-rollback-reason")))
		// No reason, no rollback.
		tb.do(chromedp.Click(chromedp.ID("policy-rollback-confirm")))
		tb.waitFor("the reason prompt", `document.getElementById('policy-rollback-error').textContent !== ''`, 5*time.Second)
		if v, _ := ps.reg.PolicyVersion(); v != 2 {
			t.Fatalf("version %d after a rollback without a reason", v)
		}
		tb.do(chromedp.SendKeys(chromedp.ID("policy-rollback-reason"), reason), chromedp.Click(chromedp.ID("policy-rollback-confirm")))
		tb.waitFor("the dialog to close", `!document.getElementById('policy-rollback-dialog').open`, 10*time.Second)
		tb.waitFor("version 3", `document.getElementById('policies-version').textContent === '3' && document.querySelectorAll('#policies-history tr').length === 3`, 15*time.Second)
		if got := eval[string](tb, `document.getElementById('policies-source').textContent`); !strings.Contains(got, "rollback of version 1") || !strings.Contains(got, "alice") {
			t.Errorf("applied %q", got)
		}
		if got := eval[string](tb, `document.getElementById('policies-hash').textContent`); got != ps.v1Hash {
			t.Errorf("hash %q after the rollback, want version 1's %q", got, ps.v1Hash)
		}
		if got := eval[string](tb, `document.querySelector('#policies-history tr').textContent`); !strings.Contains(got, "(rollback of 1) "+reason) {
			t.Errorf("newest history row %q", got)
		}
		if got := eval[[]string](tb, `[...document.querySelectorAll('#policies-history .badge.live')].map(b => b.closest('tr').firstChild.textContent)`); len(got) != 1 || got[0] != "3 live" {
			t.Errorf("live badges on %q, want on version 3 only", got)
		}
		// Every control of the view has an accessible name.
		if unnamed := eval[[]string](tb, `[...document.querySelectorAll('#policies button, #policy-rollback-dialog button, #policy-rollback-dialog textarea')].filter(e => !(e.getAttribute('aria-label') || e.labels?.length || e.textContent.trim())).map(e => e.outerHTML.slice(0, 80))`); len(unnamed) > 0 {
			t.Errorf("controls without a name: %q", unnamed)
		}
		if v, h := ps.reg.PolicyVersion(); v != 3 || h != ps.v1Hash {
			t.Fatalf("the registry runs version %d (%s), want 3 (%s)", v, h, ps.v1Hash)
		}
		var rec *admin.AuditRecord
		for _, r := range ps.audit(t).Records {
			if r.Op == admin.OpPolicyRollback {
				rec = &r
			}
		}
		if rec == nil || rec.Actor != "alice" || rec.Reason != reason || rec.Params["version"] != "3" || rec.Params["rollbackOf"] != "1" || rec.Params["previousVersion"] != "2" {
			t.Fatalf("audit record %+v", rec)
		}
		tb.noErrors()
	})
}
