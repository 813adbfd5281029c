package core_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core"
)

// ParseDocument checks the operations sections on their own, every problem
// with its line, column, path and value.
func TestParseDocumentOperationsSections(t *testing.T) {
	src := `{
  "policies": [{"name": "db", "match": ["db.*"]}],
  "maintenance": [
    {"name": "nightly", "tags": ["db"], "mode": "forced-open", "schedule": "0 2 * *", "duration": "1h", "timeZone": "Mars/Base"},
    {"name": "move", "guards": ["db.main"], "mode": "metrics-only", "start": "2030-01-01T10:00:00Z", "end": "2030-01-01T09:00:00Z"},
    {"name": "bad", "guards": ["db.x"], "mode": "open", "start": "yesterday", "end": "2030-01-01T09:00:00Z"}
  ],
  "chaos": [
    {"id": "x", "fault": "error", "rate": 1.5, "duration": "5m"},
    {"id": "x", "fault": "latency", "rate": 0.1, "ends": "2030-01-01T09:00:00Z", "duration": "5m"}
  ]
}`
	_, err := core.ParseDocument([]byte(src))
	var de *core.DocumentError
	if !errors.As(err, &de) {
		t.Fatalf("err %v", err)
	}
	var got []string
	for _, p := range de.Problems {
		got = append(got, p.String())
	}
	want := []string{
		// The walker refuses a time that does not parse before anything else is checked.
		`6:66: maintenance[2].start: parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, err = core.ParseDocument([]byte(strings.Replace(src, `"yesterday"`, `"2030-01-01T08:00:00Z"`, 1)))
	if !errors.As(err, &de) {
		t.Fatalf("err %v", err)
	}
	got = got[:0]
	for _, p := range de.Problems {
		got = append(got, p.String())
	}
	want = []string{
		`4:76: maintenance[0].schedule: has 4 fields; a cron expression has five: minute, hour, day of month, month, day of week (such as "0 2 * * SUN") (value "0 2 * *")`,
		`4:117: maintenance[0].timeZone: is not an IANA time zone such as "Europe/Berlin" (value "Mars/Base")`,
		`5:109: maintenance[1].end: ends before it starts, at 2030-01-01T10:00:00Z (value "2030-01-01T09:00:00Z")`,
		`6:49: maintenance[2].mode: must be "forced-open" or "metrics-only" (value "open")`,
		`9:43: chaos[0].rate: is above 1 (a rate is a share of calls, from 0 to 1) (value 1.5)`,
		`10:5: chaos[1].latency: is required for a latency fault, such as "200ms"`,
		`10:12: chaos[1].id: duplicate experiment id "x" (chaos[0] has it already)`,
		`10:94: chaos[1].duration: give ends or duration, not both (value "5m0s")`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A document without the new sections hashes as it did before them, so
// stored versions keep their hashes.
func TestOperationsSectionsKeepOldHashes(t *testing.T) {
	d := core.Document{Policies: []core.Policy{{Name: "db"}}}
	if got := string(mustJSON(t, d)); got != `{"policies":[{"name":"db"}]}` {
		t.Fatalf("canonical JSON: %s", got)
	}
}

// A registry refuses guard names in the sections that are no policy, no
// name a pattern matches and no existing guard, as it does for dependsOn.
func TestOperationsSectionsUnknownGuard(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	err = reg.Check(core.Document{Maintenance: []core.MaintenanceWindow{{Name: "w", Guards: []string{"nope"}, Mode: "forced-open", Schedule: "@daily", Duration: core.Duration(3600e9)}}})
	var de *core.DocumentError
	if !errors.As(err, &de) {
		t.Fatalf("err %v", err)
	}
	paths := map[string]string{}
	for _, p := range de.Problems {
		paths[p.Path] = p.Value
	}
	if paths["maintenance[0].guards[0]"] != `"nope"` {
		t.Fatalf("problems: %+v", de.Problems)
	}
	if _, ok := paths["maintenance"]; !ok {
		t.Fatalf("no problem says no scheduler follows the registry: %+v", de.Problems)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestWithoutOperations(t *testing.T) {
	d := core.Document{Policies: []core.Policy{{Name: "db"}},
		Maintenance: []core.MaintenanceWindow{{Name: "w"}}, Chaos: []core.ChaosExperiment{{ID: "x"}}}
	p, dropped := d.WithoutOperations()
	if len(p.Maintenance)+len(p.Chaos) != 0 || len(p.Policies) != 1 || strings.Join(dropped, ",") != "maintenance,chaos" {
		t.Fatalf("%+v %q", p, dropped)
	}
	if len(d.Maintenance) != 1 {
		t.Fatal("the original document changed")
	}
	if p.Hash() != (core.Document{Policies: d.Policies}).Hash() {
		t.Fatal("the policies' hash differs")
	}
}
