package mesh

import (
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core"
)

// A policy's custom states cannot be written for a mesh: the export says so.
func TestMachineIsReportedLost(t *testing.T) {
	doc := core.Document{Policies: []core.Policy{{Name: "search", Machine: &core.MachinePolicy{
		Initial: "healthy",
		States:  []core.MachineState{{Name: "healthy"}, {Name: "readOnly", Admit: "readOnly"}},
		Transitions: []core.MachineTransition{
			{From: "healthy", To: "readOnly", When: core.MachineCondition{ConsecutiveFailures: 5}},
			{From: "readOnly", To: "healthy", When: core.MachineCondition{After: core.Duration(6e10)}},
		},
	}}}}
	for _, f := range []Format{Envoy, Istio, Linkerd} {
		res, err := Export(doc, f, Options{Service: "search"})
		if err != nil {
			t.Fatal(err)
		}
		if l, ok := findLoss(res, "search", "machine", Lost); !ok || !strings.Contains(l.Message, `starting in "healthy"`) {
			t.Errorf("%v: machine loss %+v", f, l)
		}
	}
}
