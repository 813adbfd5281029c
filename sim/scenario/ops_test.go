package scenario_test

import (
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/sim/scenario"
)

// A document with maintenance windows and chaos experiments simulates its
// policies; the operations sections are left out.
func TestRunLeavesOutOperationsSections(t *testing.T) {
	sc, err := scenario.Parse("s.yaml", []byte(strings.TrimSpace(`
guard: payments
duration: 10s
traffic: 10
`)))
	if err != nil {
		t.Fatal(err)
	}
	doc := core.Document{
		Policies:    []core.Policy{{Name: "payments"}},
		Maintenance: []core.MaintenanceWindow{{Name: "nightly", Guards: []string{"payments"}, Mode: "forced-open", Schedule: "@daily", Duration: core.Duration(time.Hour)}},
	}
	if _, err := scenario.Run(sc, doc); err != nil {
		t.Fatal(err)
	}
}
