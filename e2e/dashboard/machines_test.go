package dashboard

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

// machinesScene is an admin server over a registry with one guard with
// custom states (inventory: healthy, degraded, readOnly and the manual
// maintenance) and one without (search), after three failures of
// inventory put it in degraded.
func machinesScene(t *testing.T) (ts *httptest.Server, url string, reg *core.Registry) {
	t.Helper()
	reg, err := core.NewRegistry(core.WithPolicies(
		core.Policy{Name: "inventory", Match: []string{"inventory"}, Breaker: &core.BreakerPolicy{Mode: "disabled"}, Machine: &core.MachinePolicy{
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
				{From: "degraded", To: "healthy", When: core.MachineCondition{FailureRateBelow: 0.1, MinCalls: 20}},
				{From: "readOnly", To: "degraded", When: core.MachineCondition{After: core.Duration(time.Minute)}},
				{From: "maintenance", To: "healthy", When: core.MachineCondition{After: core.Duration(time.Hour)}},
			},
		}},
		core.Policy{Name: "search", Match: []string{"search"}},
	))
	if err != nil {
		t.Fatal(err)
	}
	inv := reg.MustGuard("inventory")
	reg.MustGuard("search")
	for range 3 {
		_ = inv.Do(context.Background(), func(context.Context) error { return errBoom })
	}
	srv, err := admin.New(reg,
		admin.WithToken("alice", WriteToken, admin.Write),
		admin.WithPushInterval(200*time.Millisecond),
		admin.WithLogger(slog.New(slog.DiscardHandler)),
	)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", srv))
	handleBlank(mux)
	ts = httptest.NewServer(mux)
	t.Cleanup(func() { ts.Close(); _ = srv.Close() })
	return ts, ts.URL + "/admin/", reg
}

// Issue 23, custom states: the panel draws the machine of the guard that
// has one, its current state highlighted, and follows an operator's move.
func TestDashboardMachinesPanel(t *testing.T) {
	browser := newBrowser(t)
	ts, url, reg := machinesScene(t)
	tb := newTab(t, browser)
	(&policyScene{server: ts, url: url}).signIn(tb, WriteToken)
	tb.waitFor("the guards", `document.querySelectorAll('#grid .tile').length === 2`, 20*time.Second)

	tb.do(chromedp.WaitVisible(chromedp.ID("machines-panel")))
	tb.waitFor("the machine", `document.querySelectorAll('#machines-list figure.machine').length === 1`, 15*time.Second)
	if g := eval[string](tb, `document.querySelector('#machines-list figure.machine').dataset.guard`); g != "inventory" {
		t.Fatalf("the panel draws guard %q", g)
	}
	states := eval[[]string](tb, `[...document.querySelectorAll('#machines-list svg g.state')].map(g => g.dataset.state + ':' + g.getAttribute('class'))`)
	if got := strings.Join(states, " "); got != "healthy:state degraded:state current readOnly:state maintenance:state manual" {
		t.Errorf("states %q", got)
	}
	if n := eval[int](tb, `document.querySelectorAll('#machines-list svg g.edge path').length`); n != 5 {
		t.Errorf("%d arrows, want 5", n)
	}
	labels := eval[[]string](tb, `[...document.querySelectorAll('#machines-list svg g.edge text')].map(t => t.textContent)`)
	if !strings.Contains(strings.Join(labels, "|"), "consecutiveFailures >= 3") || !strings.Contains(strings.Join(labels, "|"), "failureRate < 0.1 and calls >= 20") {
		t.Errorf("arrow labels %q", labels)
	}
	admitText := eval[string](tb, `document.querySelector('#machines-list g.state.current text.admit').textContent`)
	if admitText != "admits 50%" {
		t.Errorf("degraded's admission %q", admitText)
	}
	if cap := eval[string](tb, `document.querySelector('#machines-list figcaption').textContent`); !strings.Contains(cap, "inventory (policy inventory) is degraded") {
		t.Errorf("caption %q", cap)
	}

	// An operator moves the guard: the highlight follows.
	data, _ := json.Marshal(wire.MachineStateRequest{State: "maintenance", Reason: "e2e: warehouse move"})
	req, err := http.NewRequest(http.MethodPost, url+"v1/machines/inventory/state", strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+WriteToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST state: %s", res.Status)
	}
	if st := reg.MustGuard("inventory").Machine().State(); st != "maintenance" {
		t.Fatalf("inventory is %s", st)
	}
	tb.waitFor("the highlight on maintenance", `(document.querySelector('#machines-list g.state.current') || {dataset: {}}).dataset.state === 'maintenance'`, 15*time.Second)
	if n := eval[int](tb, `document.querySelectorAll('#machines-list g.state.current').length`); n != 1 {
		t.Errorf("%d states highlighted", n)
	}
	tb.noErrors()
}
