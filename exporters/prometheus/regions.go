package prometheus

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/breakerbox/breakerbox/metrics"
)

// RegionsCollector is a prometheus.Collector of one replica's multi-region
// mode: it reads the region agent's report and health at every scrape and
// renders the metrics package's Regions descriptions (region store up,
// errors and skipped calls, malformed summaries, per region the summary's
// age and members, global opens made and held, and the in-process relay's
// copies, failures and links down). Names follow the table's rendering:
// breakerbox_region_summary_age{region="eu-west-1"},
// breakerbox_region_relay_copies_total. Register it beside the fleet's:
//
//	prometheus.MustRegister(bbprom.NewFleetCollector(fa), bbprom.NewRegionsCollector(ra))
//
// It is safe for concurrent use.
type RegionsCollector struct {
	src   metrics.RegionsSource
	table []metrics.RegionMetric
	descs []*prometheus.Desc // by table index
}

// NewRegionsCollector returns a RegionsCollector reading src
// (*region.Agent implements metrics.RegionsSource). Of the options,
// WithConstLabels applies.
func NewRegionsCollector(src metrics.RegionsSource, opts ...Option) *RegionsCollector {
	cfg := newConfig(opts)
	c := &RegionsCollector{src: src, table: metrics.Regions()}
	for i := range c.table {
		m := &c.table[i]
		var labels []string
		if m.PerRegion {
			labels = []string{metrics.RegionName.Label}
		}
		name := promName(&metrics.Metric{Unit: m.Unit, Kind: m.Kind}, m.Name)
		c.descs = append(c.descs, prometheus.NewDesc(name, m.Description, labels, cfg.constLabels))
	}
	return c
}

// Describe sends the descriptor of every region metric.
func (c *RegionsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads the agent once and sends the region metrics.
func (c *RegionsCollector) Collect(ch chan<- prometheus.Metric) {
	s := metrics.ReadRegions(c.src)
	for i := range c.table {
		m := &c.table[i]
		vt := prometheus.GaugeValue
		if m.Kind == metrics.Counter {
			vt = prometheus.CounterValue
		}
		if !m.PerRegion {
			ch <- prometheus.MustNewConstMetric(c.descs[i], vt, m.Read(&s, nil))
			continue
		}
		for j := range s.Report.Regions {
			v := &s.Report.Regions[j]
			ch <- prometheus.MustNewConstMetric(c.descs[i], vt, m.Read(&s, v), labelValue(v.Region))
		}
	}
}
