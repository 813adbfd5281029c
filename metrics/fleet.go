package metrics

import "github.com/breakerbox/breakerbox/fleet"

// FleetMetric describes one metric of a replica's fleet mode (package
// fleet), read from the agent's fleet.Snapshot at collection time rather
// than from a guard's snapshot: the store's health and counts, the number
// of live replicas, and the fleet's view of each guard. Exporters render it
// as they render the Table's metrics; the series carry no policy name, and
// the per-guard ones only the guard's name (GuardName).
type FleetMetric struct {
	// Name is the concept's name, dotted, breakerbox.fleet.<what>.
	Name string
	// Unit is the UCUM unit, as Metric.Unit.
	Unit string
	// Kind is the sort of instrument: Counter or Gauge.
	Kind Kind
	// Integer reports that the values are whole numbers.
	Integer bool
	// Description says what the metric counts or measures.
	Description string
	// PerGuard is true for a metric with one series per guard the fleet
	// has a view of (fleet.Snapshot.Guards), attribute GuardName; false for
	// one series for the replica.
	PerGuard bool
	// Read returns the value from s: of the replica, or with PerGuard of
	// the guard g (one of s.Guards). It does not allocate.
	Read func(s *fleet.Snapshot, g *fleet.GuardView) float64
}

// fleetTable is the one description of the fleet metrics.
var fleetTable = [...]FleetMetric{
	{
		Name: "breakerbox.fleet.store.up", Unit: "1", Kind: Gauge, Integer: true,
		Description: "1 while the fleet's store answers this replica, 0 while it is unreachable (its calls fail or its breaker is open): fleet mode is degraded, and guards decide alone.",
		Read: func(s *fleet.Snapshot, _ *fleet.GuardView) float64 {
			if s.Store.Up {
				return 1
			}
			return 0
		},
	},
	{
		Name: "breakerbox.fleet.store.errors", Unit: "{call}", Kind: Counter, Integer: true,
		Description: "Store calls that failed, timeouts included.",
		Read:        func(s *fleet.Snapshot, _ *fleet.GuardView) float64 { return float64(s.Store.Errors) },
	},
	{
		Name: "breakerbox.fleet.store.timeouts", Unit: "{call}", Kind: Counter, Integer: true,
		Description: "Store calls that ran out of their timeout (counted among the errors too).",
		Read:        func(s *fleet.Snapshot, _ *fleet.GuardView) float64 { return float64(s.Store.Timeouts) },
	},
	{
		Name: "breakerbox.fleet.store.skipped", Unit: "{call}", Kind: Counter, Integer: true,
		Description: "Store calls not made because the store's own breaker was open.",
		Read:        func(s *fleet.Snapshot, _ *fleet.GuardView) float64 { return float64(s.Store.Skipped) },
	},
	{
		Name: "breakerbox.fleet.publications.dropped", Unit: "{publication}", Kind: Counter, Integer: true,
		Description: "Verdicts and heartbeats this replica did not publish because its bounded publication queue was full (the store slow or down).",
		Read:        func(s *fleet.Snapshot, _ *fleet.GuardView) float64 { return float64(s.Store.Dropped) },
	},
	{
		Name: "breakerbox.fleet.values.malformed", Unit: "{value}", Kind: Counter, Integer: true,
		Description: "Values read from the store that this replica skipped: malformed, foreign, or of another protocol version.",
		Read:        func(s *fleet.Snapshot, _ *fleet.GuardView) float64 { return float64(s.Store.Malformed) },
	},
	{
		Name: "breakerbox.fleet.rate_limiter.allowed_by_failure_mode", Unit: "{call}", Kind: Counter, Integer: true,
		Description: "Calls a global rate limit admitted at this replica's local share while the store was unreachable.",
		Read:        func(s *fleet.Snapshot, _ *fleet.GuardView) float64 { return float64(s.Store.AllowedByFailureMode) },
	},
	{
		Name: "breakerbox.fleet.members", Unit: "{replica}", Kind: Gauge, Integer: true,
		Description: "Live replicas of the fleet as this replica sees them, itself included.",
		Read:        func(s *fleet.Snapshot, _ *fleet.GuardView) float64 { return float64(len(s.Members)) },
	},
	{
		Name: "breakerbox.fleet.guard.open_votes", Unit: "{replica}", Kind: Gauge, Integer: true, PerGuard: true,
		Description: "Replicas holding an unexpired open vote on the guard (opened on their own evidence).",
		Read:        func(_ *fleet.Snapshot, g *fleet.GuardView) float64 { return float64(len(g.OpenVotes)) },
	},
	{
		Name: "breakerbox.fleet.guard.adopted", Unit: "1", Kind: Gauge, Integer: true, PerGuard: true,
		Description: "1 while this replica holds the guard open because of the fleet's verdict (its adoption rule), 0 otherwise.",
		Read: func(_ *fleet.Snapshot, g *fleet.GuardView) float64 {
			if g.Adopted {
				return 1
			}
			return 0
		},
	},
}

// Fleet returns the description of every fleet metric, in a fixed order.
// The slice is a fresh copy.
func Fleet() []FleetMetric {
	out := make([]FleetMetric, len(fleetTable))
	copy(out, fleetTable[:])
	return out
}
