package admin

import (
	"net/http"
	"slices"
	"testing"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

func TestDependenciesReportsTheGraphAndTheCauseChain(t *testing.T) {
	reg := testRegistry(t)
	if _, err := reg.Apply(core.Document{Policies: []core.Policy{
		{Name: "postgres"},
		{Name: "orders", DependsOn: []string{"postgres"}},
		{Name: "checkout", DependsOn: []string{"orders"}},
	}}); err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("checkout")
	reg.MustGuard("orders")
	reg.MustGuard("postgres").ForceOpen(breaker.Manual{Actor: "alice", Reason: "failover"})
	a := newTestAPIFor(t, reg)

	a.do(http.MethodGet, "/v1/dependencies", "", nil).problem(t, 401, codeUnauthorized)
	var g wire.DependencyGraph
	a.do(http.MethodGet, "/v1/dependencies", readSecret, nil).ok(t, &g)
	wantEdges := []wire.DependencyEdge{{Guard: "checkout", On: "orders"}, {Guard: "orders", On: "postgres"}}
	if !slices.Equal(g.Edges, wantEdges) || len(g.Guards) != 3 {
		t.Fatalf("graph %+v", g)
	}
	if n := g.Guards[0]; n.Name != "checkout" || n.State != "forced-open" || !slices.Equal(n.Causes, []string{"orders", "postgres"}) {
		t.Fatalf("checkout node %+v", n)
	}
	a.do(http.MethodGet, "/v1/dependencies?guard=orders", readSecret, nil).ok(t, &g)
	if len(g.Guards) != 1 || !slices.Equal(g.Guards[0].Causes, []string{"postgres"}) {
		t.Fatalf("?guard=orders: %+v", g)
	}
	a.do(http.MethodGet, "/v1/dependencies?guard=nope", readSecret, nil).problem(t, 404, codeUnknownGuard)
}

func TestMaintenanceWithoutASchedulerListsNoWindowsAndRefusesWrites(t *testing.T) {
	a := newTestAPI(t)
	var l wire.MaintenanceList
	a.do(http.MethodGet, "/v1/maintenance", readSecret, nil).ok(t, &l)
	if l.Windows == nil || len(l.Windows) != 0 {
		t.Fatalf("windows %+v", l)
	}
	a.do(http.MethodGet, "/v1/maintenance", "", nil).problem(t, 401, codeUnauthorized)
	w := wire.MaintenanceWindow{Name: "x", Guard: "search", Action: "open", Reason: "r"}
	a.do(http.MethodPost, "/v1/maintenance", readSecret, w).problem(t, 403, codeForbidden)
	a.do(http.MethodPost, "/v1/maintenance", aliceSecret, w).problem(t, 501, codeNoMaintenance)
}
