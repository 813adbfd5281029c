package datadog

import (
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/metrics"
)

// FleetSource is what WithFleet reads: a fleet agent (*fleet.Agent), or
// anything with its Snapshot.
type FleetSource interface {
	Snapshot() fleet.Snapshot
}

// WithFleet makes every push also send the metrics of a replica's fleet
// mode, read from src's Snapshot (the agent's memory, never the store), as
// the metrics package's Fleet describes them and under its names
// (breakerbox.fleet.store.up, breakerbox.fleet.store.errors, ...):
// counters as counts (the increase since the previous push), gauges at
// every push; the per-guard ones (breakerbox.fleet.guard.open_votes,
// breakerbox.fleet.guard.adopted) tagged "guard:<name>", one series per
// guard of which the fleet has a view. WithTags applies to them too.
func WithFleet(src FleetSource) Option {
	return optionFunc(func(c *config) { c.fleet = src })
}

// fleetState is what the exporter keeps of the fleet metrics between
// pushes (under Exporter.mu).
type fleetState struct {
	table []metrics.FleetMetric
	prev  map[string]uint64   // counter name and guard -> the value last sent
	tags  map[string][]string // guard -> its tags ("" for the replica's)
}

// pushFleet sends the fleet metrics of src. e.mu is held.
func (e *Exporter) pushFleet(src FleetSource, errs *sendErrors) {
	f := &e.fleet
	if f.table == nil {
		f.table = metrics.Fleet()
		f.prev = map[string]uint64{}
		f.tags = map[string][]string{"": e.cfg.tags}
	}
	s := src.Snapshot()
	seen := map[string]bool{"": true}
	send := func(m *metrics.FleetMetric, g *fleet.GuardView) {
		guard := ""
		if g != nil {
			guard = g.Guard
			seen[guard] = true
		}
		tags, ok := f.tags[guard]
		if !ok {
			tags = withTag(e.cfg.tags, "guard:"+tagValue(guard))
			f.tags[guard] = tags
		}
		v := m.Read(&s, g)
		if m.Kind != metrics.Counter {
			errs.add(e.client.Gauge(m.Name, v, tags, 1))
			return
		}
		key := m.Name + "\x00" + guard
		cur := u64(v)
		if d := delta(f.prev[key], cur); d > 0 {
			errs.add(e.client.Count(m.Name, d, tags, 1))
		}
		f.prev[key] = cur
	}
	for i := range f.table {
		m := &f.table[i]
		if !m.PerGuard {
			send(m, nil)
			continue
		}
		for j := range s.Guards {
			send(m, &s.Guards[j])
		}
	}
	for guard := range f.tags {
		if !seen[guard] {
			delete(f.tags, guard)
		}
	}
}
