package schedule_test

import (
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/maintenance/schedule"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	berlin, err := schedule.Zone("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	s, err := schedule.Parse("30 2 * * *", berlin, now)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Next(now); !got.Equal(time.Date(2026, 12, 8, 1, 30, 0, 0, time.UTC)) {
		t.Fatalf("next %s", got)
	}
	for expr, want := range map[string]string{
		"0 25 * * *":       "above maximum",
		"@every 1h":        "@every is not",
		"TZ=UTC 0 2 * * *": "in timeZone",
		"0 0 31 2 *":       "never starts",
		"* * * *":          "five-field",
	} {
		if _, err := schedule.Parse(expr, time.UTC, now); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", expr, err, want)
		}
	}
	if _, err := schedule.Zone("Local"); err == nil {
		t.Error(`"Local" accepted`)
	}
}

// Linter lets a registry check windows' schedules without a scheduler.
func TestLinter(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Follow(schedule.Linter{}); err != nil {
		t.Fatal(err)
	}
	doc := core.Document{Maintenance: []core.MaintenanceWindow{{Name: "w", Tags: []string{"db"}, Mode: "forced-open", Schedule: "0 2 * * FUN", Duration: core.Duration(time.Hour)}}}
	err = reg.Check(doc)
	if err == nil || !strings.Contains(err.Error(), `maintenance[0].schedule`) || !strings.Contains(err.Error(), `"0 2 * * FUN"`) {
		t.Fatalf("Check: %v", err)
	}
	doc.Maintenance[0].Schedule = "0 2 * * SUN"
	if err := reg.Check(doc); err != nil {
		t.Fatal(err)
	}
}
