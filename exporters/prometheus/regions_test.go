package prometheus_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	bbprom "github.com/breakerbox/breakerbox/exporters/prometheus"
	"github.com/breakerbox/breakerbox/fleet/region"
)

// regionsSource returns a fixed report and health, as a region agent would
// at one scrape.
type regionsSource struct {
	rep region.Report
	h   region.Health
}

func (s *regionsSource) Regions() region.Report { return s.rep }
func (s *regionsSource) Health() region.Health  { return s.h }

func TestRegionsCollectorValues(t *testing.T) {
	src := &regionsSource{
		rep: region.Report{Region: "eu", Regions: []region.RegionView{{Region: "eu", Age: 0, Members: 3}, {Region: "us", Age: 4, Members: 2}}},
		h: region.Health{Store: region.StoreHealth{Up: true, Errors: 2}, GlobalOpens: 5, Held: 1,
			Relay: &region.RelayHealth{Links: []region.StoreHealth{{Region: "eu", Up: true}, {Region: "us", Up: false}}, RelayStats: region.RelayStats{Copied: 11, Errors: 3}}},
	}
	c := bbprom.NewRegionsCollector(src)
	want := `
# HELP breakerbox_region_summary_age Age of the region's summary in this replica's read periods since its sequence last advanced: 0 to 2 for a live region, more for one that stopped publishing (it disappears when its summary expires).
# TYPE breakerbox_region_summary_age gauge
breakerbox_region_summary_age{region="eu"} 0
breakerbox_region_summary_age{region="us"} 4
# HELP breakerbox_region_relay_copies_total Summaries the relay running in this process (region.WithRelay) wrote into another region's store; 0 without one.
# TYPE breakerbox_region_relay_copies_total counter
breakerbox_region_relay_copies_total 11
# HELP breakerbox_region_relay_links_down Region stores the relay running in this process cannot reach now; 0 without one.
# TYPE breakerbox_region_relay_links_down gauge
breakerbox_region_relay_links_down 1
# HELP breakerbox_region_global_opens_total Guards scoped global this replica opened because at least k regions reported them open.
# TYPE breakerbox_region_global_opens_total counter
breakerbox_region_global_opens_total 5
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want),
		"breakerbox_region_summary_age", "breakerbox_region_relay_copies_total", "breakerbox_region_relay_links_down", "breakerbox_region_global_opens_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c); n != 13 {
		t.Fatalf("%d series, want 13 (9 of the replica, 2 per region for 2 regions)", n)
	}
}

// A replica's region metrics: here each region's summary age.
func ExampleNewRegionsCollector() {
	src := &regionsSource{rep: region.Report{Regions: []region.RegionView{{Region: "eu-west-1"}, {Region: "us-east-1", Age: 5}}}}
	c := bbprom.NewRegionsCollector(src) // in a service: bbprom.NewRegionsCollector(regionAgent)
	out, _ := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, "breakerbox_region_summary_age")
	for line := range strings.Lines(string(out)) {
		if !strings.HasPrefix(line, "#") {
			fmt.Print(line)
		}
	}
	// Output:
	// breakerbox_region_summary_age{region="eu-west-1"} 0
	// breakerbox_region_summary_age{region="us-east-1"} 5
}
