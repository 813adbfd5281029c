package testgen_test

import (
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/testgen"
)

// A document with maintenance windows and chaos experiments generates the
// tests of its policies: the operations sections act on a running
// application's guards, and are left out of the generated tests.
func TestGenerateLeavesOutOperationsSections(t *testing.T) {
	doc := core.Document{
		Policies:    []core.Policy{{Name: "payments", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 3}}},
		Maintenance: []core.MaintenanceWindow{{Name: "nightly", Guards: []string{"payments"}, Mode: "forced-open", Schedule: "@daily", Duration: core.Duration(time.Hour)}},
		Chaos:       []core.ChaosExperiment{{ID: "drill", Fault: "reject", Rate: 0.1, Guards: []string{"payments"}, Duration: core.Duration(time.Minute)}},
	}
	if _, err := testgen.Generate(doc, testgen.Options{}); err != nil {
		t.Fatal(err)
	}
}
