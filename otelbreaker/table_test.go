package otelbreaker_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/metrics"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

// instrumentShape is what the SDK collected for one metric: its kind, value
// type, unit, description and the attribute sets of its points.
type instrumentShape struct {
	kind       metrics.Kind
	integer    bool
	unit, desc string
	attrs      []attribute.Set
}

func shapeOf(m metricdata.Metrics) instrumentShape {
	sh := instrumentShape{unit: m.Unit, desc: m.Description}
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		sh.kind, sh.integer = metrics.UpDownCounter, true
		if d.IsMonotonic {
			sh.kind = metrics.Counter
		}
		for _, p := range d.DataPoints {
			sh.attrs = append(sh.attrs, p.Attributes)
		}
	case metricdata.Sum[float64]:
		sh.kind = metrics.UpDownCounter
		if d.IsMonotonic {
			sh.kind = metrics.Counter
		}
		for _, p := range d.DataPoints {
			sh.attrs = append(sh.attrs, p.Attributes)
		}
	case metricdata.Gauge[int64]:
		sh.kind, sh.integer = metrics.Gauge, true
		for _, p := range d.DataPoints {
			sh.attrs = append(sh.attrs, p.Attributes)
		}
	case metricdata.Gauge[float64]:
		sh.kind = metrics.Gauge
		for _, p := range d.DataPoints {
			sh.attrs = append(sh.attrs, p.Attributes)
		}
	case metricdata.Histogram[float64]:
		sh.kind = metrics.Histogram
		for _, p := range d.DataPoints {
			sh.attrs = append(sh.attrs, p.Attributes)
		}
	}
	return sh
}

// The instrumentation renders every metric of the table as an instrument
// of the table's name, kind, value type, unit and description, with the
// table's attribute and values, and nothing else (the duration histogram
// when asked for, described by metrics.CallDuration).
func TestMetricsRenderTheTable(t *testing.T) {
	e := newEnv(t, policies(), otelbreaker.WithDurationHistogram())
	ctx := context.Background()
	for _, name := range []string{"pay.charge", "limited.search", "retrying.quote", "adaptive.dep"} {
		_ = e.reg.MustGuard(name).Do(ctx, ok)
	}
	// Enough calls for an overhead sample, on a guard with a cost.
	for range breaker.SampleEvery + 1 {
		_ = e.reg.MustGuard("priced.llm").Do(ctx, ok)
	}
	got := map[string]instrumentShape{}
	for _, sm := range e.collect(t).ScopeMetrics {
		for _, m := range sm.Metrics {
			got[m.Name] = shapeOf(m)
		}
	}
	want := append(metrics.Table(), metrics.CallDuration())
	for _, m := range want {
		sh, ok := got[m.Name]
		if !ok {
			t.Errorf("%s: not exported", m.Name)
			continue
		}
		delete(got, m.Name)
		if sh.kind != m.Kind || sh.unit != m.Unit || sh.desc != m.Description {
			t.Errorf("%s: %v %q %q, want %v %q %q", m.Name, sh.kind, sh.unit, sh.desc, m.Kind, m.Unit, m.Description)
		}
		if m.Kind != metrics.Histogram && sh.integer != m.Integer {
			t.Errorf("%s: int64 %v, want %v", m.Name, sh.integer, m.Integer)
		}
		seen := map[string]bool{}
		for _, set := range sh.attrs {
			keys := []string{}
			for _, kv := range set.ToSlice() {
				keys = append(keys, string(kv.Key))
				if string(kv.Key) == m.Attribute.Key {
					seen[kv.Value.AsString()] = true
				}
			}
			wantKeys := []string{metrics.GuardName.Key, metrics.PolicyName.Key}
			if m.Attribute.Key != "" {
				wantKeys = append(wantKeys, m.Attribute.Key)
			}
			if m.Kind == metrics.Histogram {
				keys = slices.DeleteFunc(keys, func(k string) bool { return k == string(otelbreaker.ErrorTypeKey) })
			}
			slices.Sort(wantKeys)
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("%s: attributes %v, want %v", m.Name, keys, wantKeys)
			}
		}
		for _, v := range m.Values {
			if !seen[v] && m.Kind != metrics.Histogram {
				t.Errorf("%s: no point with %s=%q", m.Name, m.Attribute.Key, v)
			}
			delete(seen, v)
		}
		if len(seen) > 0 {
			t.Errorf("%s: %s values %v not in the table", m.Name, m.Attribute.Key, seen)
		}
	}
	for name := range got {
		t.Errorf("%s is exported but is not in the metrics table", name)
	}
}

// The attribute keys this package exports are those of the metrics
// package.
func TestKeysAreTheTables(t *testing.T) {
	for got, want := range map[attribute.Key]string{
		otelbreaker.GuardKey: metrics.GuardName.Key, otelbreaker.PolicyKey: metrics.PolicyName.Key,
		otelbreaker.OutcomeKey: metrics.Outcome.Key, otelbreaker.StateKey: metrics.State.Key,
		otelbreaker.RejectionReasonKey: metrics.Reason.Key, otelbreaker.BulkheadStateKey: metrics.BulkheadState.Key,
	} {
		if string(got) != want {
			t.Errorf("key %q, the table's %q", got, want)
		}
	}
}

// The package documentation lists every metric of the table, and the
// duration histogram, and no other.
func TestDocListsTheTable(t *testing.T) {
	raw, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for line := range strings.Lines(string(raw)) {
		if rest, ok := strings.CutPrefix(line, "//\tbreakerbox."); ok {
			listed = append(listed, "breakerbox."+strings.Fields(rest)[0])
		}
	}
	var want []string
	for _, m := range append(metrics.Table(), metrics.CallDuration()) {
		want = append(want, m.Name)
	}
	slices.Sort(listed)
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Errorf("doc.go lists\n%v\nthe table has\n%v", listed, want)
	}
}
