package datadog_test

import (
	"strings"
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

type counts struct{ active, upcoming int }

func (c counts) WindowCounts() (int, int) { return c.active, c.upcoming }

// With WithWindows, every push sends the windows' counts by state, with the
// exporter's tags and no guard tag.
func TestMaintenanceWindowsGauge(t *testing.T) {
	a := newAgent(t)
	reg := newRegistry(t)
	reg.MustGuard("db")
	exp := datadog.New(reg, a.client, datadog.WithWindows(counts{2, 5}), datadog.WithTags("env:test"))
	defer exp.Close()
	got := a.flush(t, exp)
	if v := got.gauge(t, datadog.MetricMaintenanceWindows, "state:active", "env:test"); v != 2 {
		t.Errorf("active %v", v)
	}
	if v := got.gauge(t, datadog.MetricMaintenanceWindows, "state:upcoming", "env:test"); v != 5 {
		t.Errorf("upcoming %v", v)
	}
	for _, p := range got.find("g", datadog.MetricMaintenanceWindows) {
		for _, tag := range p.tags {
			if strings.HasPrefix(tag, "guard:") {
				t.Errorf("%s has a guard tag", p)
			}
		}
	}
	exp2 := datadog.New(reg, a.client)
	defer exp2.Close()
	if n := len(a.flush(t, exp2).find("g", datadog.MetricMaintenanceWindows)); n != 0 {
		t.Errorf("sent without WithWindows: %d", n)
	}
}
