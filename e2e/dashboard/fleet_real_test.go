package dashboard

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// fleetPolicies are the two replicas' policies: payments.charge trips
// after 5 calls of which half failed, stays open long past the test, and
// adopts the fleet's verdict on one replica's vote ("any"); search ignores
// the fleet.
var fleetPolicies = []core.Policy{
	{
		Name:  "payments",
		Match: []string{"payments.*"},
		Breaker: &core.BreakerPolicy{
			WindowSize: 10, MinCalls: 5, FailureRate: 50,
			OpenDuration: core.Duration(time.Hour), MaxOpenDuration: core.Duration(time.Hour),
		},
		Fleet: &core.FleetPolicy{Adopt: core.FleetAdoptAny},
	},
	{Name: "search", Match: []string{"search"}, Fleet: &core.FleetPolicy{Adopt: core.FleetAdoptLocal}},
}

// joinFleet builds a registry with fleetPolicies, its guards, and joins it
// to store as replica id, with the real agent.
func joinFleet(t *testing.T, store *fleet.MemoryStore, id string) (*core.Registry, *fleet.Agent) {
	t.Helper()
	reg, err := core.NewRegistry(core.WithPolicies(fleetPolicies...))
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("payments.charge", core.WithTags("stripe"))
	reg.MustGuard("search")
	agent, err := fleet.Join(reg, store.Client(), fleet.WithReplicaID(id), fleet.WithRegion("eu-west-1"),
		fleet.WithHeartbeat(50*time.Millisecond), fleet.WithReconcileEvery(200*time.Millisecond),
		fleet.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Close() })
	return reg, agent
}

// Issue 20: the fleet panel over the real agent (fleet.Join on one
// MemoryStore, two replicas) rather than a stand-in. replica-b's
// payments.charge trips on its own failures and votes; replica-a, whose
// dashboard the browser reads, adopts the vote: its panel lists both
// replicas and shows payments.charge adopted and open, with replica-b's
// vote.
func TestDashboardFleetPanelRealAgent(t *testing.T) {
	browser := newBrowser(t)
	store := fleet.NewMemoryStore()
	regA, agentA := joinFleet(t, store, "replica-a")
	regB, _ := joinFleet(t, store, "replica-b")

	srv, err := admin.New(regA,
		admin.WithToken("alice", WriteToken, admin.Write),
		admin.WithToken("bob", readToken, admin.Read),
		admin.WithPushInterval(200*time.Millisecond),
		admin.WithLogger(slog.New(slog.DiscardHandler)),
		admin.WithFleet(agentA))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", srv))
	handleBlank(mux)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() { _ = srv.Close(); ts.Close() }) // srv first: it ends the event streams ts.Close waits for
	url := ts.URL + "/admin/"

	// replica-b's payments.charge fails until it opens on its own
	// evidence.
	gB := regB.MustGuard("payments.charge")
	down := errors.New("payment provider down")
	for i := 0; gB.Breaker().State() != breaker.Open; i++ {
		if i == 100 {
			t.Fatalf("replica-b's payments.charge is %s after 100 failed calls", gB.Breaker().State())
		}
		_ = gB.Do(context.Background(), func(context.Context) error { return down })
	}
	// replica-a adopts the verdict (the agents converge in the background;
	// the bound is generous, and nothing is timed).
	gA := regA.MustGuard("payments.charge")
	for deadline := time.Now().Add(20 * time.Second); gA.Breaker().State() != breaker.Open; {
		if time.Now().After(deadline) {
			t.Fatalf("replica-a's payments.charge is %s 20s after replica-b opened; fleet view %+v", gA.Breaker().State(), agentA.Snapshot())
		}
		time.Sleep(10 * time.Millisecond)
	}

	tb := newTab(t, browser)
	(&policyScene{server: ts, url: url}).signIn(tb, readToken)
	tb.do(chromedp.WaitVisible(chromedp.ID("fleet-panel")))
	tb.waitFor("both replicas in the panel", `document.querySelectorAll('#fleet-members tr').length === 2`, 15*time.Second)
	tb.waitFor("payments.charge adopted in the panel",
		`(document.querySelector('#fleet-guards tr[data-guard="payments.charge"] td:nth-child(4)') || {}).textContent === 'yes, open'`, 15*time.Second)

	if got := eval[string](tb, `document.getElementById('fleet-store').dataset.store`); got != "up" {
		t.Errorf("store badge %q, want up", got)
	}
	members := eval[[]string](tb, `[...document.querySelectorAll('#fleet-members tr')].map(tr => tr.cells[0].textContent + '|' + tr.cells[1].textContent)`)
	if want := []string{"replica-a (this one)|eu-west-1", "replica-b|eu-west-1"}; !slices.Equal(members, want) {
		t.Errorf("members %q, want %q", members, want)
	}
	row := eval[[]string](tb, `[...document.querySelector('#fleet-guards tr[data-guard="payments.charge"]').cells].map(c => c.textContent)`)
	if len(row) < 4 || row[1] != "any" || row[2] != "1 of 2" || row[3] != "yes, open" {
		t.Errorf("payments.charge's row %q, want rule any, 1 of 2 votes, adopted", row)
	}
	if got := eval[string](tb, `document.querySelector('#fleet-guards tr[data-guard="payments.charge"] td:nth-child(3)').title`); got != "replica-b" {
		t.Errorf("votes' title %q, want replica-b", got)
	}
	tb.noErrors()
}
