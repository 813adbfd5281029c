package otelbreaker_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"sort"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

// Instrument a registry; its counters are read at collection time.
func Example() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader() // in a service: a periodic OTLP or Prometheus reader
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	inst, err := otelbreaker.Instrument(reg, otelbreaker.WithMeterProvider(mp))
	if err != nil {
		log.Fatal(err)
	}
	defer inst.Shutdown(ctx)

	g := reg.MustGuard("payments")
	_ = g.Do(ctx, func(context.Context) error { return nil })
	g.ForceOpen(breaker.Manual{Actor: "alice", Reason: "provider maintenance"})
	_ = g.Do(ctx, func(context.Context) error { return nil }) // rejected

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(ctx, &rm)
	var lines []string
	for _, m := range rm.ScopeMetrics[0].Metrics {
		switch m.Name {
		case "breakerbox.circuit_breaker.calls":
			for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
				o, _ := p.Attributes.Value(otelbreaker.OutcomeKey)
				lines = append(lines, fmt.Sprintf("calls{outcome=%s} %d", o.AsString(), p.Value))
			}
		case "breakerbox.circuit_breaker.status":
			for _, p := range m.Data.(metricdata.Gauge[int64]).DataPoints {
				if p.Value == 1 {
					s, _ := p.Attributes.Value(otelbreaker.StateKey)
					lines = append(lines, "state "+s.AsString())
				}
			}
		}
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Println(l)
	}
	// Output:
	// calls{outcome=failure} 0
	// calls{outcome=ignored} 0
	// calls{outcome=rejected} 1
	// calls{outcome=success} 1
	// state forced-open
}

// A rejection is recorded on the span of the rejected call.
func Example_rejectionOnSpan() {
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))

	reg, _ := core.NewRegistry()
	inst, _ := otelbreaker.Instrument(reg, otelbreaker.WithTracerProvider(tp))
	defer inst.Shutdown(ctx)
	g := reg.MustGuard("inventory")
	g.ForceOpen(breaker.Manual{Actor: "alice"})

	ctx, span := tp.Tracer("app").Start(ctx, "reserve")
	err := g.Do(ctx, func(context.Context) error { return nil })
	span.End()

	fmt.Println("rejected:", errors.Is(err, core.ErrRejected))
	s := spans.Ended()[0]
	for _, kv := range s.Attributes() {
		fmt.Printf("%s=%s\n", kv.Key, kv.Value.Emit())
	}
	fmt.Println("status:", s.Status().Code)
	// Output:
	// rejected: true
	// breakerbox.guard.name=inventory
	// breakerbox.policy.name=default
	// breakerbox.outcome=rejected
	// error.type=circuit_open
	// breakerbox.circuit_breaker.state=forced-open
	// status: Error
}

// With otelhttp: the server middleware inside otelhttp.NewHandler, the
// client transport outside otelhttp.Transport. Here the route's breaker is
// open, so the server answers 503 without running the handler.
func Example_otelhttp() {
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	inst, err := otelbreaker.Instrument(reg) // global providers
	if err != nil {
		log.Fatal(err)
	}
	defer inst.Shutdown(context.Background())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /quote", func(w http.ResponseWriter, r *http.Request) {})

	handler := otelhttp.NewHandler(httpmw.Middleware(reg)(mux), "server")
	transport := otelhttp.NewTransport(http.DefaultTransport)
	client := &http.Client{Transport: httpmw.NewTransport(transport, httpmw.WithRegistry(reg))}

	server := httptest.NewServer(handler)
	defer server.Close()
	reg.MustGuard("GET /quote").ForceOpen(breaker.Manual{Actor: "alice", Reason: "maintenance"})
	resp, err := client.Get(server.URL + "/quote")
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 503 Service Unavailable
}

// Drop the metrics a program does not want with a view: a dropped
// instrument costs next to nothing at collection.
func Example_dropMetrics() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	reg.MustGuard("payments")

	drop := sdkmetric.NewView(
		sdkmetric.Instrument{Name: "breakerbox.circuit_breaker.window_calls"},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}})
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(drop))
	inst, err := otelbreaker.Instrument(reg, otelbreaker.WithMeterProvider(mp))
	if err != nil {
		log.Fatal(err)
	}
	defer inst.Shutdown(ctx)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		log.Fatal(err)
	}
	found := map[string]bool{}
	for _, m := range rm.ScopeMetrics[0].Metrics {
		found[m.Name] = true
	}
	fmt.Println("window_calls:", found["breakerbox.circuit_breaker.window_calls"])
	fmt.Println("calls:", found["breakerbox.circuit_breaker.calls"])
	// Output:
	// window_calls: false
	// calls: true
}

// Let the admin dashboard link state changes and rejections to their
// traces: TraceID reads a sampled span's trace id.
func ExampleTraceID() {
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	srv, err := admin.New(reg, admin.WithTraceLinks("http://localhost:16686/trace/{traceId}", otelbreaker.TraceID))
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	tp := sdktrace.NewTracerProvider() // samples every trace
	ctx, span := tp.Tracer("app").Start(context.Background(), "checkout")
	defer span.End()
	fmt.Println(len(otelbreaker.TraceID(ctx)), otelbreaker.TraceID(context.Background()) == "")
	// Output: 32 true
}

// Link profiles to spans: CPU samples of guarded functions carry the guard
// name and the active span's id.
func ExampleSpanProfilerLabels() {
	reg, err := core.NewRegistry(core.WithProfilerLabels(otelbreaker.SpanProfilerLabels))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reg.MustGuard("search").Name())
	// Output: search
}

// fleetOfThree stands in for a fleet agent (*fleet.Agent from fleet.Join).
type fleetOfThree struct{}

func (fleetOfThree) Snapshot() fleet.Snapshot {
	return fleet.Snapshot{Members: []fleet.Member{{ID: "a"}, {ID: "b"}, {ID: "c"}}, Store: fleet.StoreHealth{Up: true}}
}

// Report a replica's fleet mode: the store's health, the fleet's size and,
// per guard, the open votes and this replica's adoption.
func ExampleInstrumentFleet() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	fi, err := otelbreaker.InstrumentFleet(fleetOfThree{}, otelbreaker.WithMeterProvider(mp)) // in a service: the agent
	if err != nil {
		log.Fatal(err)
	}
	defer fi.Shutdown(context.Background())

	var rm metricdata.ResourceMetrics
	_ = reader.Collect(context.Background(), &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if g, ok := m.Data.(metricdata.Gauge[int64]); ok && m.Name == "breakerbox.fleet.members" {
			fmt.Println(m.Name, g.DataPoints[0].Value)
		}
	}
	// Output: breakerbox.fleet.members 3
}
