package admin

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// The real agent implements Fleet.
var _ Fleet = (*fleet.Agent)(nil)

// eventually polls cond until it holds, failing after a generous bound: the
// agents converge in the background (hints, heartbeats), and the test
// asserts where they end, not how fast.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 20s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Two replicas joined by fleet.Join on one in-memory store, the admin API
// on the first: an action posted there reaches the second replica's guard;
// the report lists both; with the store down the action is refused and
// /health warns.
func TestFleetEndpointsWithTheRealAgent(t *testing.T) {
	store := fleet.NewMemoryStore()
	clientA := store.Client() // replica-a's connection, which the test takes down
	join := func(id string, st fleet.Store) (*core.Registry, *fleet.Agent) {
		reg := testRegistry(t)
		ag, err := fleet.Join(reg, st, fleet.WithReplicaID(id), fleet.WithRegion("eu-west-1"),
			fleet.WithHeartbeat(50*time.Millisecond), fleet.WithReconcileEvery(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ag.Close() })
		return reg, ag
	}
	regA, agA := join("replica-a", clientA)
	regB, _ := join("replica-b", store.Client())
	a := newTestAPIFor(t, regA, WithFleet(agA))

	eventually(t, "both replicas in the report", func() bool {
		var rep FleetReport
		a.do(http.MethodGet, "/v1/fleet", readSecret, nil).ok(t, &rep)
		return len(rep.Members) == 2 && rep.Store.Up
	})
	var res FleetActionResult
	a.do(http.MethodPost, "/v1/fleet/actions", aliceSecret, FleetActionRequest{Target: "payments.refund", Action: fleet.ActionForceOpen, Reason: "incident 4711"}).ok(t, &res)
	if res.Override.Version == 0 || res.Override.By != "replica-a" || res.Override.Actor != "alice" {
		t.Fatalf("stored %+v", res.Override)
	}
	for _, reg := range []*core.Registry{regA, regB} {
		g := reg.MustGuard("payments.refund")
		eventually(t, "payments.refund forced open on every replica", func() bool { return g.Breaker().State() == breaker.ForcedOpen })
	}
	var page AuditPage
	a.do(http.MethodGet, "/v1/audit", readSecret, nil).ok(t, &page)
	if len(page.Records) != 1 || page.Records[0].Op != OpFleetAction {
		t.Fatalf("audit %+v", page.Records)
	}

	clientA.SetDown(true)
	p := a.do(http.MethodPost, "/v1/fleet/actions", aliceSecret, FleetActionRequest{Target: "payments.refund", Action: fleet.ActionRelease, Reason: "over"}).problem(t, http.StatusServiceUnavailable, codeFleetDown)
	if !strings.Contains(p.Detail, "not stored fleet-wide") {
		t.Fatalf("detail %q", p.Detail)
	}
	if st := regB.MustGuard("payments.refund").Breaker().State(); st != breaker.ForcedOpen {
		t.Fatalf("a refused release reached replica-b: %s", st)
	}
	// payments.refund is not critical: open, it warns, and so does the
	// store; nothing fails.
	eventually(t, "/health warning on the store", func() bool {
		r := a.do(http.MethodGet, "/health", "", nil)
		return r.status == http.StatusOK && strings.Contains(string(r.body), `"fleet:store"`) && strings.Contains(string(r.body), `"status":"warn"`)
	})
	clientA.SetDown(false)
	eventually(t, "the store back in /health", func() bool {
		return !strings.Contains(string(a.do(http.MethodGet, "/health", "", nil).body), `"fleet:store"`)
	})
}
