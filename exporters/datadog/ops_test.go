package datadog_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/exporters/datadog"
)

// The maintenance and dependency rows reach a DogStatsD agent (a real UDP
// socket): 1 for the guard a window or a dependency holds, 0 for the
// others; released, 0.
func TestMaintenanceAndDependencyGauges(t *testing.T) {
	a := newAgent(t)
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "pg"}, core.Policy{Name: "db"}, core.Policy{Name: "orders", DependsOn: []string{"pg"}}))
	reg.MustGuard("orders")
	reg.MustGuard("pg").ForceOpen(breaker.Manual{Actor: "alice", Reason: "failover"})
	reg.MustGuard("db").ForceOpen(breaker.Manual{Actor: core.MaintenanceActor, Reason: "nightly"})
	exp := datadog.New(reg, a.client)
	defer exp.Close()
	got := a.flush(t, exp)
	want := map[[2]string]float64{
		{datadog.MetricMaintenanceActive, "db"}: 1, {datadog.MetricMaintenanceActive, "orders"}: 0, {datadog.MetricMaintenanceActive, "pg"}: 0,
		{datadog.MetricDependencyOpen, "orders"}: 1, {datadog.MetricDependencyOpen, "pg"}: 0, {datadog.MetricDependencyOpen, "db"}: 0,
	}
	for k, v := range want {
		if g := got.gauge(t, k[0], "guard:"+k[1], "policy:"+k[1]); g != v {
			t.Errorf("%s guard:%s = %v, want %v", k[0], k[1], g, v)
		}
	}
	reg.MustGuard("pg").Release(breaker.Manual{Actor: "alice", Reason: "back"})
	reg.MustGuard("db").Release(breaker.Manual{Actor: core.MaintenanceActor, Reason: "nightly"})
	got = a.flush(t, exp)
	if g := got.gauge(t, datadog.MetricMaintenanceActive, "guard:db"); g != 0 {
		t.Errorf("released: maintenance.active guard:db = %v", g)
	}
	if g := got.gauge(t, datadog.MetricDependencyOpen, "guard:orders"); g != 0 {
		t.Errorf("released: dependency.open guard:orders = %v", g)
	}
}
