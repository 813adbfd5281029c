package otelbreaker_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

// The maintenance and dependency rows, collected by the OTel SDK: 1 for
// the guard a window or a dependency holds, 0 for the others; released, 0.
func TestMaintenanceAndDependencyInstruments(t *testing.T) {
	e := newEnv(t, []core.Option{core.WithPolicies(core.Policy{Name: "pg"}, core.Policy{Name: "db"}, core.Policy{Name: "orders", DependsOn: []string{"pg"}})})
	reg := e.reg
	reg.MustGuard("orders")
	reg.MustGuard("pg").ForceOpen(breaker.Manual{Actor: "alice", Reason: "failover"})
	reg.MustGuard("db").ForceOpen(breaker.Manual{Actor: core.MaintenanceActor, Reason: "nightly"})
	pts := flatten(e.collect(t))
	want := map[[2]string]float64{
		{"breakerbox.maintenance.active", "db"}: 1, {"breakerbox.maintenance.active", "orders"}: 0, {"breakerbox.maintenance.active", "pg"}: 0,
		{"breakerbox.dependency.open", "orders"}: 1, {"breakerbox.dependency.open", "pg"}: 0, {"breakerbox.dependency.open", "db"}: 0,
	}
	for k, v := range want {
		if p := find(t, pts, k[0], "breakerbox.guard.name="+k[1], "breakerbox.policy.name="+k[1]); p.value != v {
			t.Errorf("%s %s = %v, want %v", k[0], k[1], p.value, v)
		}
	}
	reg.MustGuard("pg").Release(breaker.Manual{Actor: "alice", Reason: "back"})
	reg.MustGuard("db").Release(breaker.Manual{Actor: core.MaintenanceActor, Reason: "nightly"})
	pts = flatten(e.collect(t))
	if p := find(t, pts, "breakerbox.maintenance.active", "breakerbox.guard.name=db"); p.value != 0 {
		t.Errorf("released: maintenance.active db = %v", p.value)
	}
	if p := find(t, pts, "breakerbox.dependency.open", "breakerbox.guard.name=orders"); p.value != 0 {
		t.Errorf("released: dependency.open orders = %v", p.value)
	}
}

type counts struct{ active, upcoming int }

func (c counts) WindowCounts() (int, int) { return c.active, c.upcoming }

// With WithWindows, the SDK collects the windows' counts by state, without
// guard attributes.
func TestMaintenanceWindowsInstrument(t *testing.T) {
	e := newEnv(t, nil, otelbreaker.WithWindows(counts{1, 4}))
	e.reg.MustGuard("db")
	pts := flatten(e.collect(t))
	for state, want := range map[string]float64{"active": 1, "upcoming": 4} {
		p := find(t, pts, "breakerbox.maintenance.windows", "breakerbox.maintenance.state="+state)
		if p.value != want {
			t.Errorf("%s = %v, want %v", state, p.value, want)
		}
		if _, ok := p.attrs["breakerbox.guard.name"]; ok {
			t.Errorf("%s has a guard attribute", state)
		}
	}
	// Without the option, no such instrument.
	e2 := newEnv(t, nil)
	for _, p := range flatten(e2.collect(t)) {
		if p.metric == "breakerbox.maintenance.windows" {
			t.Fatal("observed without WithWindows")
		}
	}
}
