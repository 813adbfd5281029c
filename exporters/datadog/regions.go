package datadog

import (
	"github.com/breakerbox/breakerbox/fleet/region"
	"github.com/breakerbox/breakerbox/metrics"
)

// WithRegions makes every push also send the metrics of a replica's
// multi-region mode, read from src (a *region.Agent: its report and
// health, from memory, never a store), as the metrics package's Regions
// describes them and under its names (breakerbox.region.store.up,
// breakerbox.region.summary.age, breakerbox.region.relay.copies, ...):
// counters as counts (the increase since the previous push), gauges at
// every push; the per-region ones tagged "region:<name>", one series per
// region with an unexpired summary. WithTags applies to them too.
func WithRegions(src metrics.RegionsSource) Option {
	return optionFunc(func(c *config) { c.regions = src })
}

// regionsState is what the exporter keeps of the region metrics between
// pushes (under Exporter.mu).
type regionsState struct {
	table []metrics.RegionMetric
	prev  map[string]uint64   // counter name and region -> the value last sent
	tags  map[string][]string // region -> its tags ("" for the replica's)
}

// pushRegions sends the region metrics of src. e.mu is held.
func (e *Exporter) pushRegions(src metrics.RegionsSource, errs *sendErrors) {
	r := &e.regions
	if r.table == nil {
		r.table = metrics.Regions()
		r.prev = map[string]uint64{}
		r.tags = map[string][]string{"": e.cfg.tags}
	}
	s := metrics.ReadRegions(src)
	seen := map[string]bool{"": true}
	send := func(m *metrics.RegionMetric, v *region.RegionView) {
		name := ""
		if v != nil {
			name = v.Region
			seen[name] = true
		}
		tags, ok := r.tags[name]
		if !ok {
			tags = withTag(e.cfg.tags, metrics.RegionName.Label+":"+tagValue(name))
			r.tags[name] = tags
		}
		val := m.Read(&s, v)
		if m.Kind != metrics.Counter {
			errs.add(e.client.Gauge(m.Name, val, tags, 1))
			return
		}
		key := m.Name + "\x00" + name
		cur := u64(val)
		if d := delta(r.prev[key], cur); d > 0 {
			errs.add(e.client.Count(m.Name, d, tags, 1))
		}
		r.prev[key] = cur
	}
	for i := range r.table {
		m := &r.table[i]
		if !m.PerRegion {
			send(m, nil)
			continue
		}
		for j := range s.Report.Regions {
			send(m, &s.Report.Regions[j])
		}
	}
	for name := range r.tags {
		if !seen[name] {
			delete(r.tags, name)
		}
	}
}
