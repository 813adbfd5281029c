package chaos_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
)

// TestPolicyExperimentCenturies: experiments of a hundred years, of
// MaxDuration, ending in year 9999, or adding a century of latency are
// refused by the document with the field and value named, and nothing
// starts; even with Config.MaxDuration a century.
func TestPolicyExperimentCenturies(t *testing.T) {
	const century = core.Duration(100 * 365 * 24 * time.Hour)
	for _, maxD := range []time.Duration{0, time.Duration(century)} {
		synctest.Test(t, func(t *testing.T) {
			reg, inj, _ := policyRegistry(t, chaos.Config{MaxGuards: 2, MaxDuration: maxD})
			for _, tc := range []struct {
				e     core.ChaosExperiment
				field string
			}{
				{core.ChaosExperiment{ID: "a", Fault: "reject", Rate: 1, Guards: []string{"search"}, Duration: century * 2}, "chaos[0]"},
				{core.ChaosExperiment{ID: "b", Fault: "reject", Rate: 1, Guards: []string{"search"}, Duration: core.Duration(core.MaxDuration)}, "chaos[0]"},
				{core.ChaosExperiment{ID: "c", Fault: "reject", Rate: 1, Guards: []string{"search"}, Ends: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}, "chaos[0]"},
				{core.ChaosExperiment{ID: "d", Fault: "latency", Rate: 1, Latency: century, Guards: []string{"search"}, Duration: core.Duration(time.Minute)}, "chaos[0].latency"},
			} {
				_, err := reg.Apply(docWith(tc.e), core.AppliedBy("carol"))
				if err == nil {
					t.Errorf("max %v: experiment %+v applied", maxD, tc.e)
					continue
				}
				if !strings.Contains(err.Error(), tc.field) {
					t.Errorf("max %v: experiment %s: %v, want the field %s named", maxD, tc.e.ID, err, tc.field)
				}
				if n := len(inj.Active()); n != 0 {
					t.Fatalf("refused experiment %s left %d active", tc.e.ID, n)
				}
			}
		})
	}
}
