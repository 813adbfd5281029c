package metrics

import "github.com/breakerbox/breakerbox/fleet/region"

// RegionName is the attribute of the per-region series of the Regions
// metrics: the region's name ("eu-west-1").
var RegionName = Attribute{Key: "breakerbox.region.name", Label: "region"}

// RegionsSource is what the region metrics read at collection time: a
// region agent (*region.Agent, from region.Join, implements it). Both
// methods read memory only.
type RegionsSource interface {
	Regions() region.Report
	Health() region.Health
}

// RegionsSnapshot is one collection's reading of a RegionsSource.
type RegionsSnapshot struct {
	Report region.Report
	Health region.Health
}

// ReadRegions reads src once for a collection.
func ReadRegions(src RegionsSource) RegionsSnapshot {
	return RegionsSnapshot{Report: src.Regions(), Health: src.Health()}
}

// RegionMetric describes one metric of a replica's multi-region mode
// (package fleet/region), read from a RegionsSnapshot at collection time:
// the region store's and the relay's health, the age of each region's
// summary, and the global opens. Exporters render it as they render the
// Fleet metrics; the per-region series carry RegionName only.
type RegionMetric struct {
	// Name is the concept's name, dotted, breakerbox.region.<what>.
	Name string
	// Unit is the UCUM unit, as Metric.Unit.
	Unit string
	// Kind is the sort of instrument: Counter or Gauge.
	Kind Kind
	// Integer reports that the values are whole numbers.
	Integer bool
	// Description says what the metric counts or measures.
	Description string
	// PerRegion is true for a metric with one series per region with an
	// unexpired summary (s.Report.Regions), attribute RegionName; false
	// for one series for the replica.
	PerRegion bool
	// Read returns the value from s: of the replica, or with PerRegion of
	// the region v (one of s.Report.Regions). It does not allocate.
	Read func(s *RegionsSnapshot, v *region.RegionView) float64
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// regionsTable is the one description of the region metrics.
var regionsTable = [...]RegionMetric{
	{
		Name: "breakerbox.region.store.up", Unit: "1", Kind: Gauge, Integer: true,
		Description: "1 while the region's store answers this replica's region agent, 0 while it is unreachable: summaries expire and global opens are released.",
		Read:        func(s *RegionsSnapshot, _ *region.RegionView) float64 { return b2f(s.Health.Store.Up) },
	},
	{
		Name: "breakerbox.region.store.errors", Unit: "{call}", Kind: Counter, Integer: true,
		Description: "Region store calls of the region agent that failed, timeouts included.",
		Read:        func(s *RegionsSnapshot, _ *region.RegionView) float64 { return float64(s.Health.Store.Errors) },
	},
	{
		Name: "breakerbox.region.store.skipped", Unit: "{call}", Kind: Counter, Integer: true,
		Description: "Region store calls not made because the store's breaker was open.",
		Read:        func(s *RegionsSnapshot, _ *region.RegionView) float64 { return float64(s.Health.Store.Skipped) },
	},
	{
		Name: "breakerbox.region.summaries.malformed", Unit: "{summary}", Kind: Counter, Integer: true,
		Description: "Summaries read from the region store and skipped: malformed, or not matching their key.",
		Read:        func(s *RegionsSnapshot, _ *region.RegionView) float64 { return float64(s.Health.Malformed) },
	},
	{
		Name: "breakerbox.region.summary.age", Unit: "{period}", Kind: Gauge, Integer: true, PerRegion: true,
		Description: "Age of the region's summary in this replica's read periods since its sequence last advanced: 0 to 2 for a live region, more for one that stopped publishing (it disappears when its summary expires).",
		Read:        func(_ *RegionsSnapshot, v *region.RegionView) float64 { return float64(v.Age) },
	},
	{
		Name: "breakerbox.region.summary.members", Unit: "{replica}", Kind: Gauge, Integer: true, PerRegion: true,
		Description: "Live replicas of the region, as its summary reports them.",
		Read:        func(_ *RegionsSnapshot, v *region.RegionView) float64 { return float64(v.Members) },
	},
	{
		Name: "breakerbox.region.global.opens", Unit: "{open}", Kind: Counter, Integer: true,
		Description: "Guards scoped global this replica opened because at least k regions reported them open.",
		Read:        func(s *RegionsSnapshot, _ *region.RegionView) float64 { return float64(s.Health.GlobalOpens) },
	},
	{
		Name: "breakerbox.region.global.held", Unit: "{guard}", Kind: Gauge, Integer: true,
		Description: "Guards this replica holds open now because at least k regions report them open.",
		Read:        func(s *RegionsSnapshot, _ *region.RegionView) float64 { return float64(s.Health.Held) },
	},
	{
		Name: "breakerbox.region.relay.copies", Unit: "{summary}", Kind: Counter, Integer: true,
		Description: "Summaries the relay running in this process (region.WithRelay) wrote into another region's store; 0 without one.",
		Read: func(s *RegionsSnapshot, _ *region.RegionView) float64 {
			if s.Health.Relay == nil {
				return 0
			}
			return float64(s.Health.Relay.Copied)
		},
	},
	{
		Name: "breakerbox.region.relay.failures", Unit: "{call}", Kind: Counter, Integer: true,
		Description: "Store calls of the relay running in this process that failed or were skipped by a store's breaker; 0 without one.",
		Read: func(s *RegionsSnapshot, _ *region.RegionView) float64 {
			if s.Health.Relay == nil {
				return 0
			}
			return float64(s.Health.Relay.Errors)
		},
	},
	{
		Name: "breakerbox.region.relay.links_down", Unit: "{link}", Kind: Gauge, Integer: true,
		Description: "Region stores the relay running in this process cannot reach now; 0 without one.",
		Read: func(s *RegionsSnapshot, _ *region.RegionView) float64 {
			n := 0
			if s.Health.Relay != nil {
				for i := range s.Health.Relay.Links {
					if !s.Health.Relay.Links[i].Up {
						n++
					}
				}
			}
			return float64(n)
		},
	},
}

// Regions returns the description of every region metric, in a fixed
// order. The slice is a fresh copy.
func Regions() []RegionMetric {
	out := make([]RegionMetric, len(regionsTable))
	copy(out, regionsTable[:])
	return out
}
