package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/metrics"
)

// A minimal exporter: at collection time, read every metric the table
// describes from every guard's snapshot, as otelbreaker and the exporters
// do. Here it prints the breaker's calls as OTel-style series.
func ExampleTable() {
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	g := reg.MustGuard("payments.charge")
	_ = g.Do(context.Background(), func(context.Context) error { return nil })
	_ = g.Do(context.Background(), func(context.Context) error { return errors.New("502") })

	for _, s := range reg.Snapshot() {
		have := metrics.PrimitivesOf(reg, &s)
		for _, m := range metrics.Table() {
			if m.Name != "breakerbox.circuit_breaker.calls" || !have.Has(m.Requires) {
				continue
			}
			v := make([]float64, m.Len())
			if !m.Read(&s, v) {
				continue
			}
			for i, value := range m.Values {
				fmt.Printf("%s{%s=%q, %s=%q} %v\n", m.Name, metrics.GuardName.Key, s.Name, m.Attribute.Key, value, v[i])
			}
		}
	}
	// Output:
	// breakerbox.circuit_breaker.calls{breakerbox.guard.name="payments.charge", breakerbox.outcome="success"} 1
	// breakerbox.circuit_breaker.calls{breakerbox.guard.name="payments.charge", breakerbox.outcome="failure"} 1
	// breakerbox.circuit_breaker.calls{breakerbox.guard.name="payments.charge", breakerbox.outcome="ignored"} 0
	// breakerbox.circuit_breaker.calls{breakerbox.guard.name="payments.charge", breakerbox.outcome="rejected"} 0
}
