package replay_test

import (
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/record"
	"github.com/breakerbox/breakerbox/replay"
)

// A document with maintenance windows and chaos experiments replays its
// policies: the operations sections are left out, with a note (their
// effects on the recorded run are in the recording as overrides).
func TestReplayLeavesOutOperationsSections(t *testing.T) {
	rec, err := record.Read(strings.NewReader(`{"kind":"header","format":1,"sampleEvery":1}
{"kind":"call","at":"2026-03-01T12:00:01Z","guard":"payments","result":"failure","latencyNs":50000000}
`), 0)
	if err != nil {
		t.Fatal(err)
	}
	doc := core.Document{
		Policies:    []core.Policy{{Name: "payments", Match: []string{"*"}}},
		Maintenance: []core.MaintenanceWindow{{Name: "nightly", Guards: []string{"payments"}, Mode: "forced-open", Schedule: "@daily", Duration: core.Duration(time.Hour)}},
		Chaos:       []core.ChaosExperiment{{ID: "drill", Fault: "reject", Rate: 0.1, Duration: core.Duration(time.Minute)}},
	}
	rep, err := replay.Run(rec, doc)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Join(rep.Notes, "; "); !strings.Contains(n, "maintenance") || !strings.Contains(n, "chaos") {
		t.Errorf("notes %q do not say the sections were left out", n)
	}
}
