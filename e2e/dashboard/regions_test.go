package dashboard

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet/region"
)

// fakeRegions answers from a report the test changes, as a region agent
// answers from the summaries it last read. A real agent (region.Join) is
// tested with the admin API in package admin.
type fakeRegions struct {
	mu  sync.Mutex
	rep region.Report
}

func (f *fakeRegions) Regions() region.Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rep
}

func (f *fakeRegions) RegionState(string, string) (region.RegionGuardState, bool) {
	return region.RegionGuardState{}, false
}

// regionsScene is an admin server (reading region summaries, or not), its
// dashboard at url.
func regionsScene(t *testing.T, f admin.Regions) (ts *httptest.Server, url string) {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("payments.charge")
	opts := []admin.Option{
		admin.WithToken("alice", WriteToken, admin.Write),
		admin.WithToken("bob", readToken, admin.Read),
		admin.WithPushInterval(200 * time.Millisecond),
		admin.WithLogger(slog.New(slog.DiscardHandler)),
	}
	if f != nil {
		opts = append(opts, admin.WithRegions(f))
	}
	srv, err := admin.New(reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", srv))
	handleBlank(mux)
	ts = httptest.NewServer(mux)
	t.Cleanup(func() { _ = srv.Close(); ts.Close() })
	return ts, ts.URL + "/admin/"
}

// Issue 26: the regions panel shows every region side by side (one column
// per region, one row per guard), the global guards, values from other
// regions as text; it follows a change of the report; hidden without
// region summaries.
func TestDashboardRegionsPanel(t *testing.T) {
	browser := newBrowser(t)
	f := &fakeRegions{rep: region.Report{Region: "eu-west-1", Replica: "web-1", Leader: true,
		Regions: []region.RegionView{
			{Region: "eu-west-1", Self: true, Seq: 40, By: "web-1", Members: 3, Guards: []region.GuardSummary{
				{Guard: "api/v1/pay", Global: true, Open: true, OpenReplicas: 2, Share: 0.67, FailureRate: 60, State: "open"},
				{Guard: "search", State: "closed"}}},
			{Region: markup, Seq: 17, Age: 2, By: "web-9", Members: 2, Guards: []region.GuardSummary{
				{Guard: "api/v1/pay", Global: true, State: "closed"}}},
		},
		Global: []region.GlobalView{{Guard: "api/v1/pay", Regions: 2, OpenIn: []string{"eu-west-1"}}},
	}}
	ts, url := regionsScene(t, f)
	tb := newTab(t, browser)
	(&policyScene{server: ts, url: url}).signIn(tb, readToken)
	tb.do(chromedp.WaitVisible(chromedp.ID("regions-panel")))
	head := eval[[]string](tb, `[...document.querySelectorAll('#regions-head th')].map(c => c.textContent)`)
	if want := []string{"Guard", "eu-west-1 (this one)", markup}; strings.Join(head, "|") != strings.Join(want, "|") {
		t.Errorf("head %q, want %q", head, want)
	}
	rows := eval[[]string](tb, `[...document.querySelectorAll('#regions-guards tr')].map(tr => [...tr.cells].map(c => c.textContent).join('|'))`)
	want := []string{"api/v1/pay|open · 67% of replicas · 60% failing|closed · 0% of replicas · 0% failing", "search|closed · 0% of replicas · 0% failing|–"}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows\n%q\nwant\n%q", rows, want)
	}
	if got := eval[string](tb, `document.querySelector('#regions-guards tr[data-guard="api/v1/pay"] td[data-region="eu-west-1"]').dataset.open`); got != "true" {
		t.Errorf("data-open %q", got)
	}
	global := eval[[]string](tb, `[...document.querySelectorAll('#regions-global tr')].map(tr => [...tr.cells].map(c => c.textContent).join('|'))`)
	if len(global) != 1 || global[0] != "api/v1/pay|2|eu-west-1|no" {
		t.Errorf("global %q", global)
	}
	if n := eval[int](tb, `document.querySelectorAll('#regions-panel img').length`); n != 0 || eval[bool](tb, `window.pwned === 1`) {
		t.Error("a region's name was parsed as HTML")
	}

	// A second region reports the guard open: this replica holds it open.
	f.mu.Lock()
	f.rep.Regions[1].Guards[0] = region.GuardSummary{Guard: "api/v1/pay", Global: true, Open: true, OpenReplicas: 2, Share: 1, FailureRate: 100}
	f.rep.Global[0] = region.GlobalView{Guard: "api/v1/pay", Regions: 2, OpenIn: []string{"eu-west-1", markup}, Adopted: true}
	f.mu.Unlock()
	tb.waitFor("the global open", `document.querySelector('#regions-global tr td:nth-child(4)').textContent === 'yes, open'`, 15*time.Second)
	tb.noErrors()

	// Without region summaries the panel stays hidden, and the page asks
	// nothing that answers 404.
	ts2, url2 := regionsScene(t, nil)
	(&policyScene{server: ts2, url: url2}).signIn(tb, readToken)
	tb.waitFor("the regions answer", `document.getElementById('regions-panel').dataset.regions === 'off'`, 15*time.Second)
	if !eval[bool](tb, `document.getElementById('regions-panel').hidden`) {
		t.Error("the regions panel shows on a server without regions")
	}
	tb.noErrors()
}
