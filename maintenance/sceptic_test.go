package maintenance_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// TestPolicyWindowCenturies: windows of a hundred years (recurring or
// one-off), of MaxDuration, from year 1 to year 9999, are refused by the
// document with the window's field named; nothing is held.
func TestPolicyWindowCenturies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, s, _ := following(t, nil, "db.a")
		now := time.Now()
		const century = 100 * 365 * 24 * time.Hour
		for _, tc := range []struct {
			w     core.MaintenanceWindow
			field string
		}{
			{core.MaintenanceWindow{Name: "a", Guards: []string{"db.a"}, Mode: "forced-open", Schedule: "@daily", Duration: core.Duration(century)}, "maintenance[0]"},
			{core.MaintenanceWindow{Name: "b", Guards: []string{"db.a"}, Mode: "forced-open", Schedule: "@yearly", Duration: core.Duration(core.MaxDuration)}, "maintenance[0]"},
			{core.MaintenanceWindow{Name: "c", Guards: []string{"db.a"}, Mode: "forced-open", Start: now, End: now.Add(century)}, "maintenance[0]"},
			{core.MaintenanceWindow{Name: "d", Guards: []string{"db.a"}, Mode: "forced-open", Start: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}, "maintenance[0]"},
		} {
			_, err := reg.Apply(doc(tc.w), core.AppliedBy("carol"))
			if err == nil {
				t.Errorf("window %+v applied", tc.w)
				continue
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("window %s: %v, want %s named", tc.w.Name, err, tc.field)
			}
		}
		synctest.Wait()
		if ws := s.Windows(); len(ws) != 0 {
			t.Fatalf("refused windows left %d windows", len(ws))
		}
		if st := reg.MustGuard("db.a").Breaker().State(); st.Manual() {
			t.Fatalf("refused windows left db.a %s", st)
		}
	})
}
