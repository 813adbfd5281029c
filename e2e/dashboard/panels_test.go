package dashboard

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/maintenance"
)

// The issue 23 panels test's guards: orders depends on postgres; reports
// is in a maintenance window; search is under a chaos experiment; orders
// and search are priced (only orders is called).
const (
	panelsCurrency = "EUR"
	maintWindow    = "reports-upgrade"
	policyWindow   = "new-year-vacuum"
	chaosID        = "e2e-search-errors"
	overheadCalls  = 5000 // about five sampled calls at one in 1024
)

// panelsScene is an admin server with a maintenance scheduler over a
// registry with dependencies, chaos and costs, after some calls.
func panelsScene(t *testing.T) (ts *httptest.Server, url string) {
	t.Helper()
	inj, err := chaos.New(chaos.Config{MaxGuards: 1, MaxDuration: time.Hour, Seed: 23})
	if err != nil {
		t.Fatal(err)
	}
	price := &core.CostPolicy{PerCall: 0.002, Currency: panelsCurrency}
	policies := []core.Policy{
		{Name: "postgres", Match: []string{"postgres"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5}},
		{Name: "orders", Match: []string{"orders"}, DependsOn: []string{"postgres"}, Cost: price,
			Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5}},
		{Name: "search", Match: []string{"search"}, Cost: price, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5}},
		{Name: "reports", Match: []string{"reports"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5}},
	}
	reg, err := core.NewRegistry(core.WithChaos(inj), core.WithPolicies(policies...))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"postgres", "orders", "search", "reports"} {
		reg.MustGuard(name)
	}
	sched, err := maintenance.Open(reg, maintenance.FollowPolicy())
	if err != nil {
		t.Fatal(err)
	}
	sched.Start()
	// A window of the policy document, upcoming (the first of January).
	if _, err := reg.Apply(core.Document{Policies: policies, Maintenance: []core.MaintenanceWindow{{
		Name: policyWindow, Guards: []string{"postgres"}, Mode: core.MaintenanceMetricsOnly, Schedule: "0 3 1 1 *", Duration: core.Duration(time.Hour),
	}}}, core.AppliedBy("carol")); err != nil {
		t.Fatal(err)
	}
	srv, err := admin.New(reg,
		admin.WithToken("alice", WriteToken, admin.Write),
		admin.WithMaintenance(sched),
		admin.WithPushInterval(200*time.Millisecond),
		admin.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", srv))
	handleBlank(mux)
	// Calls to orders between samples at the last two minute marks, taken
	// at explicit times before the first request starts the server's
	// sampler (whose samples must come later): the cost panel (GET
	// v1/cost?since=24h) reads complete one-minute rollups, and this one
	// holds every call.
	end := time.Now().Truncate(time.Minute)
	srv.SampleAt(end.Add(-time.Minute))
	ctx := context.Background()
	orders := reg.MustGuard("orders")
	for range overheadCalls {
		_, _ = core.Do(ctx, orders, func(context.Context) (struct{}, error) { return struct{}{}, nil })
	}
	srv.SampleAt(end)

	ts = httptest.NewServer(mux)
	t.Cleanup(func() { ts.Close(); _ = srv.Close(); sched.Close() })
	url = ts.URL + "/admin/"

	post := func(path string, body any) {
		t.Helper()
		data, _ := json.Marshal(body)
		req, err := http.NewRequest(http.MethodPost, url+path, strings.NewReader(string(data)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+WriteToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusCreated {
			var p map[string]any
			_ = json.NewDecoder(res.Body).Decode(&p)
			t.Fatalf("POST %s: %s: %v", path, res.Status, p)
		}
	}
	now := time.Now()
	post("v1/maintenance", wire.MaintenanceWindow{Name: maintWindow, Guard: "reports", Action: "open",
		Start: now.Add(-time.Minute), End: now.Add(time.Hour), Reason: "e2e: reporting database upgrade"})
	post("v1/chaos/experiments", admin.ChaosStartRequest{
		Experiment: chaos.Experiment{ID: chaosID, Fault: chaos.FaultError, Rate: 0.5, Guards: []string{"search"}, Reason: "e2e: game day"},
		For:        core.Duration(10 * time.Minute),
	})

	// postgres fails five times: it opens, and orders with it.
	pg := reg.MustGuard("postgres")
	for range 5 {
		_, _ = core.Do(ctx, pg, func(context.Context) (struct{}, error) { return struct{}{}, errBoom })
	}
	if st := pg.Breaker().State(); st != breaker.Open {
		t.Fatalf("postgres is %s after five failures", st)
	}
	if c := reg.Causes("orders"); len(c) != 1 || c[0] != "postgres" {
		t.Fatalf("orders' causes %q", c)
	}
	return ts, url
}

// Issue 23: the dependency graph, maintenance, chaos, cost and overhead
// panels against a real admin server, scheduler and injector.
func TestDashboardIssue23Panels(t *testing.T) {
	browser := newBrowser(t)
	ts, url := panelsScene(t)
	tb := newTab(t, browser)
	// Signed in with the write token (no 401 on the way), as in the
	// policy test.
	(&policyScene{server: ts, url: url}).signIn(tb, WriteToken)
	tb.waitFor("the guards", `document.querySelectorAll('#grid .tile').length === 4`, 20*time.Second)

	// The dependency graph: both guards, orders down, the cause named.
	tb.do(chromedp.WaitVisible(chromedp.ID("deps-panel")))
	tb.waitFor("the graph", `[...document.querySelectorAll('#deps-svg g')].length === 2`, 15*time.Second)
	nodes := eval[[]string](tb, `[...document.querySelectorAll('#deps-svg g')].map(g => g.querySelector('text').textContent + ':' + g.getAttribute('class'))`)
	for _, want := range []string{"postgres:down", "orders:down"} {
		if !strings.Contains(strings.Join(nodes, " "), want) {
			t.Errorf("graph nodes %q, want %s", nodes, want)
		}
	}
	if n := eval[int](tb, `document.querySelectorAll('#deps-svg line').length`); n != 1 {
		t.Errorf("%d arrows, want 1 (orders → postgres)", n)
	}
	causes := eval[string](tb, `document.getElementById('deps-causes').textContent`)
	if !strings.Contains(causes, "orders is forced-open because postgres is open") {
		t.Errorf("causes %q", causes)
	}
	tb.openDetail("orders")
	tb.waitFor("the cause in the detail view", `document.getElementById('detail-reason').textContent.includes('dependency postgres open')`, 10*time.Second)
	tb.do(chromedp.Click(chromedp.ID("detail-close")))
	tb.setFilter("")

	// The maintenance window, active.
	tb.do(chromedp.WaitVisible(chromedp.ID("maint-panel")))
	row := eval[[]string](tb, `[...document.querySelectorAll('#maint-rows tr:first-child td')].map(td => td.textContent)`)
	if len(row) != 7 || row[0] != maintWindow || row[1] != "guard reports" || row[2] != "open" || row[4] != "active" {
		t.Errorf("maintenance row %q", row)
	}
	// The window of the policy document, marked as such.
	row = eval[[]string](tb, `[...document.querySelectorAll('#maint-rows tr:nth-child(2) td')].map(td => td.textContent)`)
	if len(row) != 7 || row[0] != policyWindow+" policy v1" || row[1] != "guard postgres" || row[2] != "metrics-only" || row[4] != "upcoming" {
		t.Errorf("policy window row %q", row)
	}
	// The scheduler opens the guard in its window.
	tb.waitFor("reports forced open by its window", tileState("reports")+` === 'forced-open'`, 10*time.Second)

	// The chaos experiment.
	tb.do(chromedp.WaitVisible(chromedp.ID("chaos-panel")))
	row = eval[[]string](tb, `[...document.querySelectorAll('#chaos-rows tr:first-child td')].map(td => td.textContent)`)
	if len(row) != 7 || row[0] != chaosID || row[1] != "error at 50%" || row[2] != "search" || row[6] != "alice" {
		t.Errorf("chaos row %q", row)
	}

	// The spend, in euros: the calls to orders at 0.002.
	tb.do(chromedp.WaitVisible(chromedp.ID("cost-panel")))
	row = eval[[]string](tb, `[...document.querySelectorAll('#cost-rows tr:first-child td')].map(td => td.textContent)`)
	if want := strconv.FormatFloat(overheadCalls*0.002, 'f', 2, 64); len(row) != 4 || row[0] != panelsCurrency || row[1] != want {
		t.Errorf("cost row %q, want %s %s spent", row, panelsCurrency, want)
	}

	// The cost of protection.
	tb.do(chromedp.WaitVisible(chromedp.ID("overhead-panel")))
	if got := eval[string](tb, `document.getElementById('overhead-summary').textContent`); !strings.HasPrefix(got, "breakerbox adds ") || !strings.Contains(got, "one in 1024") {
		t.Errorf("overhead summary %q", got)
	}
	if n := eval[int](tb, `document.querySelectorAll('#overhead-rows tr').length`); n == 0 {
		t.Error("no guard in the overhead table")
	}
	tb.noErrors()
}
