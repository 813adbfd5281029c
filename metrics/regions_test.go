package metrics_test

import (
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/fleet/region"
	"github.com/breakerbox/breakerbox/metrics"
)

// The region agent is a RegionsSource.
var _ metrics.RegionsSource = (*region.Agent)(nil)

func TestRegionsWellFormed(t *testing.T) {
	s := metrics.RegionsSnapshot{
		Report: region.Report{Regions: []region.RegionView{{Region: "eu", Age: 3, Members: 4}}},
		Health: region.Health{Store: region.StoreHealth{Up: true, Errors: 5, Skipped: 6}, Malformed: 2, GlobalOpens: 7, Held: 1,
			Relay: &region.RelayHealth{Links: []region.StoreHealth{{Region: "eu", Up: true}, {Region: "us"}}, RelayStats: region.RelayStats{Copied: 9, Errors: 8}}},
	}
	want := map[string]float64{
		"breakerbox.region.store.up": 1, "breakerbox.region.store.errors": 5, "breakerbox.region.store.skipped": 6,
		"breakerbox.region.summaries.malformed": 2, "breakerbox.region.summary.age": 3, "breakerbox.region.summary.members": 4,
		"breakerbox.region.global.opens": 7, "breakerbox.region.global.held": 1,
		"breakerbox.region.relay.copies": 9, "breakerbox.region.relay.failures": 8, "breakerbox.region.relay.links_down": 1,
	}
	ms := metrics.Regions()
	if len(ms) != len(want) {
		t.Fatalf("%d region metrics, want %d", len(ms), len(want))
	}
	for _, m := range ms {
		if !m.Integer || !strings.HasPrefix(m.Name, "breakerbox.region.") || m.Description == "" || m.Unit == "" || (m.Kind != metrics.Counter && m.Kind != metrics.Gauge) {
			t.Errorf("%+v", m)
		}
		var v *region.RegionView
		if m.PerRegion {
			v = &s.Report.Regions[0]
		}
		if got := m.Read(&s, v); got != want[m.Name] {
			t.Errorf("%s = %v, want %v", m.Name, got, want[m.Name])
		}
		if n := testing.AllocsPerRun(10, func() { m.Read(&s, v) }); n != 0 {
			t.Errorf("%s: Read allocates %v", m.Name, n)
		}
	}
	s.Health.Relay = nil
	for _, m := range ms {
		if strings.Contains(m.Name, ".relay.") && m.Read(&s, nil) != 0 {
			t.Errorf("%s without a relay reads %v", m.Name, m.Read(&s, nil))
		}
	}
}
