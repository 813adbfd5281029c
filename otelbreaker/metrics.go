package otelbreaker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/metrics"
)

// metricSet holds the observable instruments, one per metric of the
// metrics package's table, all fed by one callback that takes one registry
// snapshot per collection.
type metricSet struct {
	in  *Instrumentation
	reg metric.Registration

	table []metrics.Metric
	inst  []instrument // by table index
	first []int        // by table index: the index of its first series
	n     int          // series per guard
	width int          // the most values of one metric

	// attrs caches each guard's prebuilt observe options; collections may
	// run concurrently (several readers), so mu guards it.
	mu    sync.Mutex
	attrs map[string]*guardAttrs
}

// instrument is one metric's instrument: i64 for integer metrics, f64 for
// the others.
type instrument struct {
	i64 metric.Int64Observable
	f64 metric.Float64Observable
}

// guardAttrs are one guard's prebuilt attribute sets, as observe options.
type guardAttrs struct {
	policy string
	opts   [][]metric.ObserveOption // by series: guard, policy and the value's attribute
}

func (ms *metricSet) newGuardAttrs(name, policy string) *guardAttrs {
	a := &guardAttrs{policy: policy, opts: make([][]metric.ObserveOption, 0, ms.n)}
	g, p := GuardKey.String(name), PolicyKey.String(policy)
	base := []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(g, p))}
	for i := range ms.table {
		m := &ms.table[i]
		if len(m.Values) == 0 {
			a.opts = append(a.opts, base)
			continue
		}
		key := attribute.Key(m.Attribute.Key)
		for _, v := range m.Values {
			a.opts = append(a.opts, []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(g, p, key.String(v)))})
		}
	}
	return a
}

func newMetricSet(m metric.Meter, in *Instrumentation) (*metricSet, error) {
	ms := &metricSet{in: in, table: metrics.Table(), attrs: map[string]*guardAttrs{}}
	ms.inst = make([]instrument, len(ms.table))
	var errs []error
	observables := make([]metric.Observable, 0, len(ms.table))
	for i := range ms.table {
		mt := &ms.table[i]
		ms.first = append(ms.first, ms.n)
		ms.n += mt.Len()
		ms.width = max(ms.width, mt.Len())
		in, err := newInstrument(m, mt)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ms.inst[i] = in
		if in.i64 != nil {
			observables = append(observables, in.i64)
		} else {
			observables = append(observables, in.f64)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var err error
	ms.reg, err = m.RegisterCallback(ms.observe, observables...)
	if err != nil {
		return nil, err
	}
	return ms, nil
}

// newInstrument makes the observable instrument of mt: its kind, int64 for
// integer metrics and float64 for the others.
func newInstrument(m metric.Meter, mt *metrics.Metric) (instrument, error) {
	desc, unit := metric.WithDescription(mt.Description), metric.WithUnit(mt.Unit)
	var in instrument
	var err error
	switch {
	case mt.Kind == metrics.Counter && mt.Integer:
		in.i64, err = m.Int64ObservableCounter(mt.Name, desc, unit)
	case mt.Kind == metrics.Counter:
		in.f64, err = m.Float64ObservableCounter(mt.Name, desc, unit)
	case mt.Kind == metrics.UpDownCounter && mt.Integer:
		in.i64, err = m.Int64ObservableUpDownCounter(mt.Name, desc, unit)
	case mt.Kind == metrics.UpDownCounter:
		in.f64, err = m.Float64ObservableUpDownCounter(mt.Name, desc, unit)
	case mt.Kind == metrics.Gauge && mt.Integer:
		in.i64, err = m.Int64ObservableGauge(mt.Name, desc, unit)
	case mt.Kind == metrics.Gauge:
		in.f64, err = m.Float64ObservableGauge(mt.Name, desc, unit)
	default:
		err = fmt.Errorf("otelbreaker: metric %s: kind %v cannot be observed", mt.Name, mt.Kind)
	}
	return in, err
}

// observe reports one snapshot of every guard.
func (ms *metricSet) observe(_ context.Context, o metric.Observer) error {
	if ms.in.closed.Load() {
		return nil
	}
	snaps := ms.in.reg.Snapshot()
	ms.mu.Lock()
	defer ms.mu.Unlock()
	live := make(map[string]string, len(snaps))
	buf := make([]float64, ms.width)
	for i := range snaps {
		s := &snaps[i]
		live[s.Name] = s.Policy
		a := ms.attrs[s.Name]
		if a == nil || a.policy != s.Policy {
			a = ms.newGuardAttrs(s.Name, s.Policy)
			ms.attrs[s.Name] = a
		}
		ms.observeGuard(o, s, a, buf)
	}
	for name := range ms.attrs {
		if _, ok := live[name]; !ok {
			delete(ms.attrs, name)
		}
	}
	ms.in.forget(live)
	return nil
}

// observeGuard reports every metric the guard has.
func (ms *metricSet) observeGuard(o metric.Observer, s *core.GuardSnapshot, a *guardAttrs, buf []float64) {
	has := metrics.PrimitivesOf(ms.in.reg, s)
	for i := range ms.table {
		m := &ms.table[i]
		v := buf[:m.Len()]
		if !has.Has(m.Requires) || !m.Read(s, v) {
			continue
		}
		opts := a.opts[ms.first[i]:]
		in := &ms.inst[i]
		for j, x := range v {
			if in.i64 != nil {
				o.ObserveInt64(in.i64, i64(x), opts[j]...)
			} else {
				o.ObserveFloat64(in.f64, x, opts[j]...)
			}
		}
	}
}

// i64 converts a whole-number value to int64, saturating rather than
// wrapping.
func i64(v float64) int64 {
	if v >= 1<<63 {
		return math.MaxInt64
	}
	return int64(v)
}
