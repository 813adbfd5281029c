package prometheus

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/metrics"
)

// FleetSource is what a FleetCollector reads: a fleet agent
// (*fleet.Agent, from fleet.Join, implements it). Snapshot must not wait
// on the store; it reports what the agent last saw.
type FleetSource interface {
	Snapshot() fleet.Snapshot
}

// Fleet metric names: the names of the metrics package's Fleet
// descriptions, rendered as the table's are (dots become underscores,
// counters end in _total). The per-guard ones carry the label guard.
const (
	// MetricFleetStoreUp is 1 while the fleet's store answers, 0 while it is
	// unreachable (fleet mode degraded; guards decide alone).
	MetricFleetStoreUp = "breakerbox_fleet_store_up"
	// MetricFleetStoreErrors counts store calls that failed, timeouts
	// included.
	MetricFleetStoreErrors = "breakerbox_fleet_store_errors_total"
	// MetricFleetStoreTimeouts counts store calls that ran out of their
	// timeout.
	MetricFleetStoreTimeouts = "breakerbox_fleet_store_timeouts_total"
	// MetricFleetStoreSkipped counts store calls not made because the
	// store's breaker was open.
	MetricFleetStoreSkipped = "breakerbox_fleet_store_skipped_total"
	// MetricFleetPublicationsDropped counts verdicts and heartbeats not
	// published because the publication queue was full.
	MetricFleetPublicationsDropped = "breakerbox_fleet_publications_dropped_total"
	// MetricFleetValuesMalformed counts values read from the store and
	// skipped: malformed, foreign, or of another protocol version.
	MetricFleetValuesMalformed = "breakerbox_fleet_values_malformed_total"
	// MetricFleetAllowedByFailureMode counts calls a global rate limit
	// admitted at the local share while the store was unreachable.
	MetricFleetAllowedByFailureMode = "breakerbox_fleet_rate_limiter_allowed_by_failure_mode_total"
	// MetricFleetMembers is the number of live replicas, this one included.
	MetricFleetMembers = "breakerbox_fleet_members"
	// MetricFleetGuardOpenVotes is, per guard, the replicas holding an
	// open vote.
	MetricFleetGuardOpenVotes = "breakerbox_fleet_guard_open_votes"
	// MetricFleetGuardAdopted is, per guard, 1 while this replica holds it
	// open because of the fleet's verdict.
	MetricFleetGuardAdopted = "breakerbox_fleet_guard_adopted"
)

// FleetCollector is a prometheus.Collector of one replica's fleet mode: it
// reads the agent's Snapshot at every scrape and renders the metrics
// package's Fleet descriptions (store up, dropped publications, malformed
// values, calls allowed by failure mode, members, and per guard the open
// votes and whether this replica adopted the fleet's open verdict).
// Register it beside the registry's Collector:
//
//	prometheus.MustRegister(bbprom.NewCollector(reg), bbprom.NewFleetCollector(agent))
//
// It is safe for concurrent use.
type FleetCollector struct {
	src   FleetSource
	table []metrics.FleetMetric
	descs []*prometheus.Desc // by table index
}

// NewFleetCollector returns a FleetCollector reading src. Of the options,
// WithConstLabels applies.
func NewFleetCollector(src FleetSource, opts ...Option) *FleetCollector {
	cfg := newConfig(opts)
	c := &FleetCollector{src: src, table: metrics.Fleet()}
	for i := range c.table {
		m := &c.table[i]
		var labels []string
		if m.PerGuard {
			labels = []string{metrics.GuardName.Label}
		}
		c.descs = append(c.descs, prometheus.NewDesc(fleetPromName(m), m.Description, labels, cfg.constLabels))
	}
	return c
}

// fleetPromName renders a fleet metric's name as promName does a table
// metric's.
func fleetPromName(m *metrics.FleetMetric) string {
	return promName(&metrics.Metric{Unit: m.Unit, Kind: m.Kind}, m.Name)
}

// Describe sends the descriptor of every fleet metric.
func (c *FleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads the agent's Snapshot and sends the fleet metrics.
func (c *FleetCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Snapshot()
	for i := range c.table {
		m := &c.table[i]
		vt := prometheus.GaugeValue
		if m.Kind == metrics.Counter {
			vt = prometheus.CounterValue
		}
		if !m.PerGuard {
			ch <- prometheus.MustNewConstMetric(c.descs[i], vt, m.Read(&s, nil))
			continue
		}
		for j := range s.Guards {
			g := &s.Guards[j]
			ch <- prometheus.MustNewConstMetric(c.descs[i], vt, m.Read(&s, g), labelValue(g.Guard))
		}
	}
}
