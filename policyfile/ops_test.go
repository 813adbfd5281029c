package policyfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The maintenance and chaos sections, in YAML: a good document parses; a
// bad window or experiment is reported at its line and column with its
// field path and value, the cron expression parsed by package maintenance.
func TestParseOperationsSections(t *testing.T) {
	good := `policies:
  - name: db
    match: ["db.*"]
maintenance:
  - name: nightly
    tags: [db]
    mode: metrics-only
    schedule: "30 2 * * *"
    duration: 1h
    timeZone: Europe/Berlin
  - name: move
    guards: [db]
    mode: forced-open
    start: 2030-01-01T10:00:00Z
    end: 2030-01-01T12:00:00Z
chaos:
  - id: slow-db
    fault: latency
    rate: 0.1
    latency: 50ms
    guards: [db]
    duration: 10m
`
	doc, err := Parse("ops.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Maintenance) != 2 || doc.Maintenance[1].End.Sub(doc.Maintenance[1].Start) != 2*time.Hour || len(doc.Chaos) != 1 || time.Duration(doc.Chaos[0].Duration) != 10*time.Minute {
		t.Fatalf("document: %+v", doc)
	}

	bad := `policies:
  - name: db
    match: ["db.*"]
maintenance:
  - name: nightly
    tags: [db]
    mode: metrics-only
    schedule: "30 26 * * *"
    duration: 1h
    timeZone: Mars/Base
  - name: move
    guards: [payments]
    mode: forced-open
    start: 2030-01-01T10:00:00Z
    end: 2030-01-01T09:00:00Z
chaos:
  - id: slow-db
    fault: latency
    rate: 1.5
    latency: 50ms
    duration: 10m
`
	_, err = Parse("ops.yaml", []byte(bad))
	checkProblems(t, problemsOf(t, err),
		// The schema refuses the rate first; the rest are core's.
		want{File: "ops.yaml", Line: 19, Column: 11, Path: "chaos[0].rate", Value: "1.5", Message: "1"},
	)
	fixed := []byte(bad[:len(bad)-len("    rate: 1.5\n    latency: 50ms\n    duration: 10m\n")] + "    rate: 0.5\n    latency: 50ms\n    duration: 10m\n")
	_, err = Parse("ops.yaml", fixed)
	checkProblems(t, problemsOf(t, err),
		want{File: "ops.yaml", Line: 10, Column: 15, Path: "maintenance[0].timeZone", Value: `"Mars/Base"`, Message: "IANA time zone"},
		want{File: "ops.yaml", Line: 15, Column: 10, Path: "maintenance[1].end", Value: `"2030-01-01T09:00:00Z"`, Message: "ends before it starts"},
	)
	// Once core's own checks pass, package maintenance parses the cron
	// expression, and an unknown guard is found.
	fixed2 := []byte(replaceAll(string(fixed), map[string]string{"Mars/Base": "Europe/Berlin", "end: 2030-01-01T09:00:00Z": "end: 2030-01-01T11:00:00Z"}))
	_, err = Parse("ops.yaml", fixed2)
	checkProblems(t, problemsOf(t, err),
		want{File: "ops.yaml", Line: 12, Column: 14, Path: "maintenance[1].guards[0]", Value: `"payments"`, Message: "no policy of the document"},
	)
	fixed3 := []byte(replaceAll(string(fixed2), map[string]string{"[payments]": "[db.main]"}))
	_, err = Parse("ops.yaml", fixed3)
	checkProblems(t, problemsOf(t, err),
		want{File: "ops.yaml", Line: 8, Column: 15, Path: "maintenance[0].schedule", Value: `"30 26 * * *"`, Message: "not a five-field cron expression"},
	)
}

// Windows and experiments of several files keep their places.
func TestLoadOperationsSectionsAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.yaml", "policies:\n  - name: db\nmaintenance:\n  - {name: w1, guards: [db], mode: forced-open, schedule: '@daily', duration: 1h}\n")
	write("b.yaml", "policies: []\nmaintenance:\n  - {name: w2, guards: [db], mode: forced-open, schedule: '0 0 31 2 *', duration: 1h}\n")
	_, err := Load(dir)
	checkProblems(t, problemsOf(t, err),
		want{File: filepath.Join(dir, "b.yaml"), Line: 3, Column: 59, Path: "maintenance[0].schedule", Value: `"0 0 31 2 *"`, Message: "never starts"},
	)
}

func replaceAll(s string, m map[string]string) string {
	for k, v := range m {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}
