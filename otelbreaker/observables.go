package otelbreaker

import (
	"errors"

	"go.opentelemetry.io/otel/metric"
)

// int64Observables makes one observable instrument per row of a metrics
// table of n rows (the fleet's, the regions'): a counter when row i says
// so, a gauge otherwise. It returns the instruments by row, and the same
// as Observables for RegisterCallback.
func int64Observables(meter metric.Meter, n int, row func(i int) (name, description, unit string, counter bool)) ([]metric.Int64Observable, []metric.Observable, error) {
	inst := make([]metric.Int64Observable, 0, n)
	observables := make([]metric.Observable, 0, n)
	var errs []error
	for i := range n {
		name, description, unit, counter := row(i)
		desc, u := metric.WithDescription(description), metric.WithUnit(unit)
		var in metric.Int64Observable
		var err error
		if counter {
			in, err = meter.Int64ObservableCounter(name, desc, u)
		} else {
			in, err = meter.Int64ObservableGauge(name, desc, u)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		inst = append(inst, in)
		observables = append(observables, in)
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	return inst, observables, nil
}
