package otelbreaker

import (
	"context"
	"errors"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/metrics"
)

// FleetSource is what InstrumentFleet reads: a fleet agent (*fleet.Agent,
// from fleet.Join, implements it). Snapshot must not wait on the store; it
// reports what the agent last saw.
type FleetSource interface {
	Snapshot() fleet.Snapshot
}

// FleetInstrumentation reports a replica's fleet mode as OTel metrics; see
// InstrumentFleet.
type FleetInstrumentation struct {
	src    FleetSource
	table  []metrics.FleetMetric
	inst   []metric.Int64Observable // by table index
	reg    metric.Registration
	closed atomic.Bool
}

// InstrumentFleet reports the metrics package's Fleet metrics of src as
// observable instruments of the meter provider of opts (WithMeterProvider;
// the other options do not apply): breakerbox.fleet.store.up,
// .store.errors, .store.timeouts, .store.skipped, .publications.dropped, .values.malformed,
// .rate_limiter.allowed_by_failure_mode, .members, and per guard (attribute
// breakerbox.guard.name) .guard.open_votes and .guard.adopted. One Snapshot
// of the agent is read per collection. Shutdown unregisters them.
func InstrumentFleet(src FleetSource, opts ...Option) (*FleetInstrumentation, error) {
	if src == nil {
		return nil, errors.New("otelbreaker: InstrumentFleet: nil source")
	}
	cfg := newConfig(opts)
	meter := cfg.mp.Meter(ScopeName, metric.WithInstrumentationVersion(Version))
	fi := &FleetInstrumentation{src: src, table: metrics.Fleet()}
	var observables []metric.Observable
	var err error
	fi.inst, observables, err = int64Observables(meter, len(fi.table), func(i int) (string, string, string, bool) {
		m := &fi.table[i]
		return m.Name, m.Description, m.Unit, m.Kind == metrics.Counter
	})
	if err != nil {
		return nil, err
	}
	if fi.reg, err = meter.RegisterCallback(fi.observe, observables...); err != nil {
		return nil, err
	}
	return fi, nil
}

// observe reports one snapshot of the agent.
func (fi *FleetInstrumentation) observe(_ context.Context, o metric.Observer) error {
	if fi.closed.Load() {
		return nil
	}
	s := fi.src.Snapshot()
	for i := range fi.table {
		m := &fi.table[i]
		if !m.PerGuard {
			o.ObserveInt64(fi.inst[i], i64(m.Read(&s, nil)))
			continue
		}
		for j := range s.Guards {
			g := &s.Guards[j]
			o.ObserveInt64(fi.inst[i], i64(m.Read(&s, g)), metric.WithAttributeSet(attribute.NewSet(GuardKey.String(g.Guard))))
		}
	}
	return nil
}

// Shutdown unregisters the fleet instruments' callback. It is safe to call
// more than once.
func (fi *FleetInstrumentation) Shutdown(context.Context) error {
	if fi.closed.Swap(true) {
		return nil
	}
	return fi.reg.Unregister()
}
