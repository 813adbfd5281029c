package otelbreaker_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

// benchGuards returns the same guard without instrumentation, with the
// default instrumentation (counters read at collection time) and with the
// duration histogram.
func benchGuards(b *testing.B) map[string]*core.Guard {
	bare, err := core.NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	return map[string]*core.Guard{
		"bare":      bare.MustGuard("g"),
		"counters":  newEnv(b, nil).reg.MustGuard("g"),
		"histogram": newEnv(b, nil, otelbreakerHistogram()...).reg.MustGuard("g"),
	}
}

var benchCases = []string{"bare", "counters", "histogram"}

// BenchmarkAdmitted measures an admitted call (Allow, then Done) through a
// closed breaker.
func BenchmarkAdmitted(b *testing.B) {
	guards := benchGuards(b)
	ctx := context.Background()
	for _, name := range benchCases {
		g := guards[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p, _ := g.Allow(ctx)
				p.Done(nil)
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					p, _ := g.Allow(ctx)
					p.Done(nil)
				}
			})
		})
	}
}

// BenchmarkRejected measures a rejection by an open breaker, with and
// without a recording span in the context.
func BenchmarkRejected(b *testing.B) {
	guards := benchGuards(b)
	e := newEnv(b, nil)
	spanCtx, span := e.tp.Tracer("bench").Start(context.Background(), "op")
	defer span.End()
	cases := []struct {
		name string
		g    *core.Guard
		ctx  context.Context
	}{
		{"bare", guards["bare"], context.Background()},
		{"counters", guards["counters"], context.Background()},
		{"counters/recording-span", e.reg.MustGuard("g"), spanCtx},
	}
	for _, c := range cases {
		c.g.ForceOpen(breaker.Manual{})
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = c.g.Allow(c.ctx)
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = c.g.Allow(c.ctx)
				}
			})
		})
	}
}

// BenchmarkHistogramRecord is the reference for the duration histogram:
// one bare OTel Histogram.Record with a prebuilt attribute set, on the
// same SDK.
func BenchmarkHistogramRecord(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	h, err := mp.Meter("bench").Float64Histogram("d", metric.WithUnit("s"))
	if err != nil {
		b.Fatal(err)
	}
	opts := []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(
		attribute.String("breakerbox.guard.name", "g"), attribute.String("breakerbox.policy.name", "default"),
		attribute.String("breakerbox.outcome", "success")))}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		h.Record(ctx, 0.001, opts...)
	}
}

// BenchmarkCollect measures one collection of every metric for 100 guards.
func BenchmarkCollect(b *testing.B) {
	e := newEnv(b, policies())
	for i := range 100 {
		_ = e.reg.MustGuard("pay."+string(rune('a'+i%26))+string(rune('a'+i/26))).Do(context.Background(), ok)
	}
	b.ReportAllocs()
	for b.Loop() {
		e.collect(b)
	}
}

func otelbreakerHistogram() []otelbreaker.Option {
	return []otelbreaker.Option{otelbreaker.WithDurationHistogram()}
}

// BenchmarkCollectWithViews is BenchmarkCollect with the breaker's window
// gauges, its slow-call and shadow-trip counters, its state-change time and
// the rejections by reason dropped by views, as a program that does not
// want them would: dropped instruments cost next to nothing.
func BenchmarkCollectWithViews(b *testing.B) {
	var views []sdkmetric.View
	for _, name := range []string{"breakerbox.guard.rejections", "breakerbox.circuit_breaker.state_change_timestamp",
		"breakerbox.circuit_breaker.failure_rate", "breakerbox.circuit_breaker.slow_call_rate",
		"breakerbox.circuit_breaker.window_calls", "breakerbox.circuit_breaker.consecutive_failures",
		"breakerbox.circuit_breaker.slow_calls", "breakerbox.circuit_breaker.shadow_trips"} {
		views = append(views, sdkmetric.NewView(sdkmetric.Instrument{Name: name}, sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}}))
	}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(views...))
	reg, err := core.NewRegistry(policies()...)
	if err != nil {
		b.Fatal(err)
	}
	inst, err := otelbreaker.Instrument(reg, otelbreaker.WithMeterProvider(mp))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = inst.Shutdown(context.Background()) })
	for i := range 100 {
		_ = reg.MustGuard("pay."+string(rune('a'+i%26))+string(rune('a'+i/26))).Do(context.Background(), ok)
	}
	b.ReportAllocs()
	for b.Loop() {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			b.Fatal(err)
		}
	}
}
