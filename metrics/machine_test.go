package metrics_test

import (
	"context"
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/metrics"
)

// The machine metrics read the current state's index and the admission
// counts from the snapshot.
func TestReadMachine(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "m", Match: []string{"m.*"}, Machine: &core.MachinePolicy{
		Initial:     "healthy",
		States:      []core.MachineState{{Name: "healthy"}, {Name: "closedShop", Admit: "none"}},
		Transitions: []core.MachineTransition{{From: "healthy", To: "closedShop", When: core.MachineCondition{ConsecutiveFailures: 3}}, {From: "closedShop", To: "healthy", When: core.MachineCondition{After: core.Duration(3.6e12)}}},
	}}))
	g := reg.MustGuard("m.x")
	_ = g.Do(context.Background(), func(context.Context) error { return nil })
	if _, err := g.SetMachineState("closedShop", breaker.Manual{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	_ = g.Do(context.Background(), func(context.Context) error { return nil })
	s := g.Snapshot()
	if !metrics.PrimitivesOf(reg, &s).Has(metrics.Machine) {
		t.Fatal("a guard with a machine does not have the machine primitive")
	}
	got := map[string][]float64{}
	for _, m := range metrics.Table() {
		v := make([]float64, m.Len())
		if m.Read(&s, v) {
			got[m.Name] = v
		}
	}
	if v := got["breakerbox.machine.state"]; len(v) != 1 || v[0] != 1 {
		t.Errorf("state %v", v)
	}
	if v := got["breakerbox.machine.calls"]; len(v) != 2 || v[0] != 1 || v[1] != 1 {
		t.Errorf("calls %v", v)
	}
}
