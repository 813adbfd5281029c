package otelbreaker_test

import (
	"context"
	"fmt"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/breakerbox/breakerbox/fleet/region"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

type regionsSource struct {
	rep region.Report
	h   region.Health
}

func (s *regionsSource) Regions() region.Report { return s.rep }
func (s *regionsSource) Health() region.Health  { return s.h }

func TestInstrumentRegions(t *testing.T) {
	src := &regionsSource{
		rep: region.Report{Regions: []region.RegionView{{Region: "eu", Members: 3}, {Region: "us", Age: 4, Members: 2}}},
		h:   region.Health{Store: region.StoreHealth{Up: true}, GlobalOpens: 5, Relay: &region.RelayHealth{RelayStats: region.RelayStats{Copied: 11, Errors: 3}}},
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	ri, err := otelbreaker.InstrumentRegions(src, otelbreaker.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			series := map[string]int64{}
			var pts []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				pts = d.DataPoints
			case metricdata.Gauge[int64]:
				pts = d.DataPoints
			}
			for _, p := range pts {
				r, _ := p.Attributes.Value(otelbreaker.RegionKey)
				series[r.AsString()] = p.Value
			}
			got[m.Name] = series
		}
	}
	if len(got) != 11 {
		t.Fatalf("%d instruments: %v", len(got), got)
	}
	if a := got["breakerbox.region.summary.age"]; a["eu"] != 0 || a["us"] != 4 || len(a) != 2 {
		t.Fatalf("age %v", a)
	}
	if got["breakerbox.region.relay.copies"][""] != 11 || got["breakerbox.region.global.opens"][""] != 5 || got["breakerbox.region.store.up"][""] != 1 {
		t.Fatalf("%v", got)
	}
	if err := ri.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	_ = ri.Shutdown(context.Background())
}

// Report a replica's region metrics through the global meter provider (or
// WithMeterProvider), next to the fleet's.
func ExampleInstrumentRegions() {
	src := &regionsSource{} // in a service: the *region.Agent from region.Join
	ri, err := otelbreaker.InstrumentRegions(src)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ri.Shutdown(context.Background())
	fmt.Println("region metrics registered")
	// Output: region metrics registered
}
