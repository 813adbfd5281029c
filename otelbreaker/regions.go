package otelbreaker

import (
	"context"
	"errors"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/breakerbox/breakerbox/metrics"
)

// RegionKey is the attribute of the per-region series of InstrumentRegions.
var RegionKey = attribute.Key(metrics.RegionName.Key)

// RegionsInstrumentation reports a replica's multi-region mode as OTel
// metrics; see InstrumentRegions.
type RegionsInstrumentation struct {
	src    metrics.RegionsSource
	table  []metrics.RegionMetric
	inst   []metric.Int64Observable // by table index
	reg    metric.Registration
	closed atomic.Bool
}

// InstrumentRegions reports the metrics package's Regions metrics of src
// (*region.Agent implements metrics.RegionsSource) as observable
// instruments of the meter provider of opts (WithMeterProvider; the other
// options do not apply): breakerbox.region.store.up, .store.errors,
// .store.skipped, .summaries.malformed, per region (attribute
// breakerbox.region.name) .summary.age and .summary.members, and
// .global.opens, .global.held, .relay.copies, .relay.failures,
// .relay.links_down. The agent is read once per collection. Shutdown
// unregisters them.
func InstrumentRegions(src metrics.RegionsSource, opts ...Option) (*RegionsInstrumentation, error) {
	if src == nil {
		return nil, errors.New("otelbreaker: InstrumentRegions: nil source")
	}
	cfg := newConfig(opts)
	meter := cfg.mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	ri := &RegionsInstrumentation{src: src, table: metrics.Regions()}
	var observables []metric.Observable
	var err error
	ri.inst, observables, err = int64Observables(meter, len(ri.table), func(i int) (string, string, string, bool) {
		m := &ri.table[i]
		return m.Name, m.Description, m.Unit, m.Kind == metrics.Counter
	})
	if err != nil {
		return nil, err
	}
	if ri.reg, err = meter.RegisterCallback(ri.observe, observables...); err != nil {
		return nil, err
	}
	return ri, nil
}

// observe reports one reading of the agent.
func (ri *RegionsInstrumentation) observe(_ context.Context, o metric.Observer) error {
	if ri.closed.Load() {
		return nil
	}
	s := metrics.ReadRegions(ri.src)
	for i := range ri.table {
		m := &ri.table[i]
		if !m.PerRegion {
			o.ObserveInt64(ri.inst[i], i64(m.Read(&s, nil)))
			continue
		}
		for j := range s.Report.Regions {
			v := &s.Report.Regions[j]
			o.ObserveInt64(ri.inst[i], i64(m.Read(&s, v)), metric.WithAttributeSet(attribute.NewSet(RegionKey.String(v.Region))))
		}
	}
	return nil
}

// Shutdown unregisters the region instruments' callback. It is safe to
// call more than once.
func (ri *RegionsInstrumentation) Shutdown(context.Context) error {
	if ri.closed.Swap(true) {
		return nil
	}
	return ri.reg.Unregister()
}
