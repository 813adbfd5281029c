package otelbreaker_test

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/metrics"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

type snapshotSource struct{ snap fleet.Snapshot }

func (s *snapshotSource) Snapshot() fleet.Snapshot { return s.snap }

func TestInstrumentFleet(t *testing.T) {
	src := &snapshotSource{fleet.Snapshot{
		Members: []fleet.Member{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		Guards:  []fleet.GuardView{{Guard: "payments", OpenVotes: []string{"b", "c"}, Adopted: true}, {Guard: "search"}},
		Store:   fleet.StoreHealth{Up: false, Dropped: 4, Malformed: 2, AllowedByFailureMode: 17, Errors: 9, Timeouts: 7, Skipped: 30},
	}}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	fi, err := otelbreaker.InstrumentFleet(src, otelbreaker.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	collect := func() map[string]map[string]int64 {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		out := map[string]map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				series := map[string]int64{}
				var pts []metricdata.DataPoint[int64]
				switch d := m.Data.(type) {
				case metricdata.Sum[int64]:
					pts = d.DataPoints
					if !d.IsMonotonic {
						t.Errorf("%s: not monotonic", m.Name)
					}
				case metricdata.Gauge[int64]:
					pts = d.DataPoints
				default:
					t.Errorf("%s: data %T", m.Name, m.Data)
				}
				for _, p := range pts {
					g, _ := p.Attributes.Value(otelbreaker.GuardKey)
					series[g.AsString()] = p.Value
				}
				out[m.Name] = series
			}
		}
		return out
	}
	got := collect()
	want := map[string]map[string]int64{
		"breakerbox.fleet.store.up":                             {"": 0},
		"breakerbox.fleet.store.errors":                         {"": 9},
		"breakerbox.fleet.store.timeouts":                       {"": 7},
		"breakerbox.fleet.store.skipped":                        {"": 30},
		"breakerbox.fleet.publications.dropped":                 {"": 4},
		"breakerbox.fleet.values.malformed":                     {"": 2},
		"breakerbox.fleet.rate_limiter.allowed_by_failure_mode": {"": 17},
		"breakerbox.fleet.members":                              {"": 3},
		"breakerbox.fleet.guard.open_votes":                     {"payments": 2, "search": 0},
		"breakerbox.fleet.guard.adopted":                        {"payments": 1, "search": 0},
	}
	if len(got) != len(metrics.Fleet()) || len(got) != len(want) {
		t.Fatalf("%d instruments: %v", len(got), got)
	}
	for name, w := range want {
		for k, v := range w {
			if got[name][k] != v || len(got[name]) != len(w) {
				t.Errorf("%s = %v, want %v", name, got[name], w)
			}
		}
	}
	src.snap.Store.Up = true
	if v := collect()["breakerbox.fleet.store.up"][""]; v != 1 {
		t.Errorf("store up %d", v)
	}
	if err := fi.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := fi.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := collect(); len(got) != 0 {
		t.Errorf("after Shutdown: %v", got)
	}
}
