package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"github.com/breakerbox/breakerbox/fleet"
)

// fakeFleet is the least a fleet agent does for the admin API: it keeps
// the actions it is given, numbered from 1 as the store's version counter
// would, and has a store that is up or down as the test says. A real agent
// (fleet.Join) replaces it where a store is at hand.
type fakeFleet struct {
	mu   sync.Mutex
	snap fleet.Snapshot
	down error
}

func (f *fakeFleet) Snapshot() fleet.Snapshot {
	h := f.Health()
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snap
	s.Overrides = append([]fleet.Override(nil), f.snap.Overrides...)
	s.Store = h
	return s
}

func (f *fakeFleet) Act(_ context.Context, o fleet.Override) (fleet.Override, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return fleet.Override{}, f.down
	}
	o.Version, o.By = uint64(len(f.snap.Overrides)+1), f.snap.Self.ID
	f.snap.Overrides = append(f.snap.Overrides, o)
	return o, nil
}

func (f *fakeFleet) Health() fleet.StoreHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return fleet.StoreHealth{LastError: f.down.Error(), Since: time.Now().Add(-time.Minute), Dropped: 2, Errors: 5, Timeouts: 5}
	}
	return fleet.StoreHealth{Up: true}
}

// markup is a region label that would run script if the page parsed the
// fleet's values as HTML.
const markup = `<img src=x onerror="window.pwned=1">`

// fleetScene is an admin server (with a fleet, or without) over two
// guards, its dashboard at url.
func fleetScene(t *testing.T, f admin.Fleet) (ts *httptest.Server, url string) {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("payments.charge", core.WithTags("stripe"))
	reg.MustGuard("search")
	opts := []admin.Option{
		admin.WithToken("alice", WriteToken, admin.Write),
		admin.WithToken("bob", readToken, admin.Read),
		admin.WithPushInterval(200 * time.Millisecond),
		admin.WithLogger(slog.New(slog.DiscardHandler)),
	}
	if f != nil {
		opts = append(opts, admin.WithFleet(f))
	}
	srv, err := admin.New(reg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/", http.StripPrefix("/admin", srv))
	handleBlank(mux)
	ts = httptest.NewServer(mux)
	t.Cleanup(func() { _ = srv.Close(); ts.Close() }) // srv first: it ends the event streams ts.Close waits for
	return ts, ts.URL + "/admin/"
}

// Issue 20: the fleet panel against a real admin server with a fleet
// attached: replicas, votes, adoption, the probe, the operator actions,
// and the store's badge going from up to degraded; hidden without a fleet.
func TestDashboardFleetPanel(t *testing.T) {
	browser := newBrowser(t)
	self := fleet.Member{ID: "web-1", Region: "eu-west-1", Version: "v2.3.0", Policy: 4}
	f := &fakeFleet{snap: fleet.Snapshot{
		Self:    self,
		Members: []fleet.Member{self, {ID: "web-2", Region: markup, Policy: 4}, {ID: "web-3", Region: "us-east-1", Policy: 3}},
		Guards: []fleet.GuardView{
			{Guard: "payments.charge", Rule: "quorum", OpenVotes: []string{"web-2", "web-3"}, Adopted: true,
				Lease: &fleet.Lease{Guard: "payments.charge", Holder: "web-3", Outcome: fleet.ProbeRunning}},
			{Guard: "search", Rule: "local"},
		},
	}}
	ts, url := fleetScene(t, f)

	// An action through the API, as breakerctl fleet act sends it.
	body, _ := json.Marshal(admin.FleetActionRequest{Target: "tag:stripe", Action: fleet.ActionForceOpen, Reason: "e2e: provider incident"})
	req, _ := http.NewRequest(http.MethodPost, url+"v1/fleet/actions", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+WriteToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST v1/fleet/actions: %s", res.Status)
	}

	tb := newTab(t, browser)
	(&policyScene{server: ts, url: url}).signIn(tb, readToken)
	tb.do(chromedp.WaitVisible(chromedp.ID("fleet-panel")))
	if got := eval[string](tb, `document.getElementById('fleet-store').dataset.store + ': ' + document.getElementById('fleet-store').textContent`); got != "up: store up" {
		t.Errorf("store badge %q", got)
	}
	members := eval[[]string](tb, `[...document.querySelectorAll('#fleet-members tr')].map(tr => [...tr.cells].map(c => c.textContent).join('|'))`)
	want := []string{"web-1 (this one)|eu-west-1|v2.3.0|v4", "web-2|" + markup + "|–|v4", "web-3|us-east-1|–|v3"}
	if strings.Join(members, "\n") != strings.Join(want, "\n") {
		t.Errorf("members\n%q\nwant\n%q", members, want)
	}
	guards := eval[[]string](tb, `[...document.querySelectorAll('#fleet-guards tr')].map(tr => [...tr.cells].map(c => c.textContent).join('|'))`)
	want = []string{"payments.charge|quorum|2 of 3|yes, open|web-3 (running)", "search|local|0 of 3|no|–"}
	if strings.Join(guards, "\n") != strings.Join(want, "\n") {
		t.Errorf("guards\n%q\nwant\n%q", guards, want)
	}
	if got := eval[string](tb, `document.querySelector('#fleet-guards tr[data-guard="payments.charge"] td:nth-child(3)').title`); got != "web-2, web-3" {
		t.Errorf("votes' title %q", got)
	}
	ovs := eval[[]string](tb, `[...document.querySelectorAll('#fleet-overrides tr')].map(tr => [...tr.cells].map(c => c.textContent).join('|'))`)
	if len(ovs) != 1 || ovs[0] != "1|tag:stripe|force-open|alice|e2e: provider incident" {
		t.Errorf("overrides %q", ovs)
	}
	// The store's values are text, never markup.
	if n := eval[int](tb, `document.querySelectorAll('#fleet-panel img').length`); n != 0 || eval[bool](tb, `window.pwned === 1`) {
		t.Error("a region label was parsed as HTML")
	}

	// The store goes down: the badge says degraded, with the error.
	f.mu.Lock()
	f.down = errors.New("nats: timeout")
	f.mu.Unlock()
	tb.waitFor("the degraded badge", `document.getElementById('fleet-store').dataset.store === 'degraded'`, 15*time.Second)
	if got := eval[string](tb, `document.getElementById('fleet-store').title`); !strings.HasPrefix(got, "nats: timeout (since ") {
		t.Errorf("badge title %q", got)
	}
	if got := eval[string](tb, `document.getElementById('fleet-summary').textContent`); !strings.Contains(got, "The store is unreachable: nats: timeout.") || !strings.Contains(got, "Publications dropped: 2") || !strings.Contains(got, "Store calls failed: 5 (timed out: 5)") {
		t.Errorf("summary %q", got)
	}
	tb.noErrors()

	// Without a fleet the panel stays hidden once the page has asked (in
	// the same tab: a background tab is document.hidden, and panels do not
	// poll there).
	ts2, url2 := fleetScene(t, nil)
	(&policyScene{server: ts2, url: url2}).signIn(tb, readToken)
	tb.waitFor("the fleet answer", `document.getElementById('fleet-panel').dataset.fleet === 'off'`, 15*time.Second)
	if !eval[bool](tb, `document.getElementById('fleet-panel').hidden`) {
		t.Error("the fleet panel shows on a server without a fleet")
	}
	// The 404 of a server without a fleet is no error on the page: the
	// other dashboard tests run without one.
	tb.noErrors()
}
