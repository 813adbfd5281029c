package otelbreaker_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

// logSink is an in-memory Logs SDK processor: it keeps a copy of every
// record emitted.
type logSink struct {
	mu   sync.Mutex
	recs []sdklog.Record
}

func (s *logSink) Enabled(context.Context, sdklog.EnabledParameters) bool { return true }
func (s *logSink) OnEmit(_ context.Context, r *sdklog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, r.Clone())
	return nil
}
func (s *logSink) Shutdown(context.Context) error   { return nil }
func (s *logSink) ForceFlush(context.Context) error { return nil }

func (s *logSink) records() []sdklog.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sdklog.Record(nil), s.recs...)
}

// env is a registry instrumented with in-memory SDKs.
type env struct {
	reg    *core.Registry
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	logs   *logSink
	inst   *otelbreaker.Instrumentation
}

func newEnv(t testing.TB, regOpts []core.Option, opts ...otelbreaker.Option) *env {
	t.Helper()
	reg, err := core.NewRegistry(regOpts...)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{reg: reg, reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder(), logs: &logSink{}}
	e.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(e.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(e.reader))
	lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(e.logs))
	all := append([]otelbreaker.Option{
		otelbreaker.WithMeterProvider(mp),
		otelbreaker.WithTracerProvider(e.tp),
		otelbreaker.WithLoggerProvider(lp),
	}, opts...)
	e.inst, err = otelbreaker.Instrument(reg, all...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.inst.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return e
}

func (e *env) collect(t testing.TB) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := e.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return rm
}

// point is one data point flattened for assertions.
type point struct {
	metric string
	attrs  map[string]string
	value  float64
	count  uint64 // histograms
}

func flatten(rm metricdata.ResourceMetrics) []point {
	var out []point
	attrs := func(s attribute.Set) map[string]string {
		m := map[string]string{}
		for _, kv := range s.ToSlice() {
			m[string(kv.Key)] = kv.Value.Emit()
		}
		return m
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out = append(out, point{metric: m.Name, attrs: attrs(p.Attributes), value: float64(p.Value)})
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					out = append(out, point{metric: m.Name, attrs: attrs(p.Attributes), value: p.Value})
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out = append(out, point{metric: m.Name, attrs: attrs(p.Attributes), value: float64(p.Value)})
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out = append(out, point{metric: m.Name, attrs: attrs(p.Attributes), value: p.Sum, count: p.Count})
				}
			}
		}
	}
	return out
}

// find returns the value of the point of metric whose attributes include
// want (key=value pairs), failing unless exactly one matches.
func find(t testing.TB, pts []point, metric string, want ...string) point {
	t.Helper()
	var got []point
	for _, p := range pts {
		if p.metric != metric {
			continue
		}
		ok := true
		for _, kv := range want {
			k, v, _ := strings.Cut(kv, "=")
			if p.attrs[k] != v {
				ok = false
				break
			}
		}
		if ok {
			got = append(got, p)
		}
	}
	if len(got) != 1 {
		t.Fatalf("%s %v: %d points match, want 1; all points:\n%s", metric, want, len(got), dump(pts))
	}
	return got[0]
}

func dump(pts []point) string {
	var lines []string
	for _, p := range pts {
		keys := make([]string, 0, len(p.attrs))
		for k := range p.attrs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var kv []string
		for _, k := range keys {
			kv = append(kv, k+"="+p.attrs[k])
		}
		lines = append(lines, fmt.Sprintf("  %s{%s} %v (count %d)", p.metric, strings.Join(kv, ","), p.value, p.count))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func spanAttrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes() {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func kvMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

func logAttrs(r sdklog.Record) map[string]string {
	m := map[string]string{}
	r.WalkAttributes(func(kv attribute.KeyValue) bool {
		m[string(kv.Key)] = kv.Value.Emit()
		return true
	})
	return m
}

var errBoom = errors.New("boom")

// typedErr carries an ErrorType, as core.ErrorType reads it.
type typedErr struct{}

func (typedErr) Error() string     { return "upstream said no" }
func (typedErr) ErrorType() string { return "upstream_refused" }

func ms(d time.Duration) core.Duration { return core.Duration(d) }
