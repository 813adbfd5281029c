// Command apm puts breakerbox's decisions on traces in a real APM.
//
// It runs a small shop: GET /checkout asks an inventory service over HTTP
// (through httpmw's client Transport) and charges a card (through
// core.Do). The inventory service is down for the first part of the run,
// so the inventory breaker opens, rejects calls, probes, and closes again
// once the service is back. Every request is traced with otelhttp and
// exported over OTLP; otelbreaker records the rejections on the spans of the
// rejected calls and each state change as an event on the span of the call
// that caused it.
//
// Start an APM with an OTLP endpoint and a trace UI, then run the demo (see
// README.md in this directory):
//
//	docker run --rm -p 16686:16686 -p 4318:4318 jaegertracing/jaeger:latest
//	go run ./apm
//
// and open http://localhost:16686 (service breakerbox-apm-demo). The OTLP
// exporter reads the standard OTEL_EXPORTER_OTLP_* variables, so the same
// program reports to Datadog, New Relic or Honeycomb (see the otelbreaker
// package documentation); -all-signals adds OTLP metrics and logs for those.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

func main() {
	requests := flag.Int("requests", 60, "checkout requests to send")
	outage := flag.Duration("outage", 3*time.Second, "how long the inventory service is down at the start")
	allSignals := flag.Bool("all-signals", false, "also export metrics and logs over OTLP (Datadog, New Relic, Honeycomb; Jaeger takes traces only)")
	flag.Parse()
	if err := run(*requests, *outage, *allSignals); err != nil {
		log.Fatal(err)
	}
}

func run(requests int, outage time.Duration, allSignals bool) error {
	ctx := context.Background()
	res, err := resource.New(ctx, resource.WithFromEnv(),
		resource.WithAttributes(attribute.String("service.name", serviceName())))
	if err != nil {
		return err
	}

	// Traces over OTLP/HTTP. Without OTEL_EXPORTER_OTLP_* the exporter
	// would default to https://localhost:4318; a local APM speaks plain HTTP.
	var topts []otlptracehttp.Option
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		topts = append(topts, otlptracehttp.WithEndpoint("localhost:4318"), otlptracehttp.WithInsecure())
	}
	texp, err := otlptracehttp.New(ctx, topts...)
	if err != nil {
		return err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(texp), sdktrace.WithResource(res))
	defer shutdown("traces", tp.Shutdown)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})

	opts := []otelbreaker.Option{otelbreaker.WithTracerProvider(tp), otelbreaker.WithRetrySpans()}
	if allSignals {
		mexp, err := otlpmetrichttp.New(ctx)
		if err != nil {
			return err
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewPeriodicReader(mexp)), sdkmetric.WithResource(res))
		defer shutdown("metrics", mp.Shutdown)
		lexp, err := otlploghttp.New(ctx)
		if err != nil {
			return err
		}
		lp := sdklog.NewLoggerProvider(sdklog.WithProcessor(sdklog.NewBatchProcessor(lexp)), sdklog.WithResource(res))
		defer shutdown("logs", lp.Shutdown)
		opts = append(opts, otelbreaker.WithMeterProvider(mp), otelbreaker.WithLoggerProvider(lp), otelbreaker.WithDurationHistogram())
	}

	reg, err := core.NewRegistry(core.WithPolicies(
		// Guards of the inventory client are keyed by host ("127.0.0.1:port").
		core.Policy{Name: "inventory", Match: []string{"127.0.0.1:*"}, Breaker: &core.BreakerPolicy{
			WindowSize: 10, MinCalls: 5, FailureRate: 50, OpenDuration: core.Duration(time.Second)}},
		core.Policy{Name: "payments", Match: []string{"payments.*"},
			Retry: &core.RetryPolicy{MaxAttempts: 3, InitialDelay: core.Duration(10 * time.Millisecond)}},
		// The shop's own routes are measured, never rejected: an inbound
		// breaker would trip on the 5xx a failing dependency causes.
		core.Policy{Name: "shop", Match: []string{"* /**"}, Breaker: &core.BreakerPolicy{Mode: "metrics-only"}},
	))
	if err != nil {
		return err
	}
	inst, err := otelbreaker.Instrument(reg, opts...)
	if err != nil {
		return err
	}
	defer shutdown("otelbreaker", inst.Shutdown)

	inventory, err := serve(otelhttp.NewHandler(inventoryService(outage), "inventory"))
	if err != nil {
		return err
	}
	// Client side: breakerbox outside otelhttp, so rejected calls send
	// nothing and make no client span.
	invClient := &http.Client{Transport: httpmw.NewTransport(otelhttp.NewTransport(http.DefaultTransport), httpmw.WithRegistry(reg))}
	charge := reg.MustGuard("payments.charge")
	var flaky atomic.Int64

	mux := http.NewServeMux()
	mux.HandleFunc("GET /checkout", func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, inventory+"/stock", nil)
		stock := "checked"
		resp, err := invClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		if err != nil || resp.StatusCode != http.StatusOK {
			// Degrade rather than fail: take the order, confirm stock
			// later. A rejected inventory call (open breaker) costs
			// nothing and is recorded on this request's server span.
			stock = "to be confirmed"
		}
		err = charge.Do(r.Context(), func(ctx context.Context) error {
			if flaky.Add(1)%4 == 0 { // every fourth attempt fails, and is retried
				return errors.New("card processor timeout")
			}
			return nil
		})
		if err != nil {
			http.Error(w, "payment failed", http.StatusBadGateway)
			return
		}
		_, _ = io.WriteString(w, "ordered; stock "+stock+"\n")
	})
	// Server side: breakerbox inside otelhttp, so the server span records
	// the guard's decisions and the 503s.
	shop, err := serve(otelhttp.NewHandler(httpmw.Middleware(reg)(mux), "shop"))
	if err != nil {
		return err
	}

	client := &http.Client{Transport: otelhttp.NewTransport(http.DefaultTransport)}
	tracer := tp.Tracer("customer")
	counts := map[int]int{}
	for i := range requests {
		ctx, span := tracer.Start(ctx, "customer checkout")
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, shop+"/checkout", nil)
		resp, err := client.Do(req)
		if err != nil {
			span.End()
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		counts[resp.StatusCode]++
		span.End()
		if i%10 == 9 {
			fmt.Printf("%d checkouts %v; inventory breaker %s\n", i+1, counts, inventoryState(reg))
		}
		time.Sleep(100 * time.Millisecond) // pace the demo so the breaker's open time passes
	}
	if err := tp.ForceFlush(ctx); err != nil {
		return fmt.Errorf("exporting traces: %w", err)
	}
	fmt.Printf("sent the traces of %d checkouts; search for service %q in the APM (Jaeger: http://localhost:16686)\n", requests, serviceName())
	return nil
}

// inventoryService answers 503 for the first outage of the run, then
// answers normally.
func inventoryService(outage time.Duration) http.Handler {
	back := time.Now().Add(outage)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if time.Now().Before(back) {
			http.Error(w, "warehouse database down", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "in stock\n")
	})
}

// serve serves h on a free loopback port and returns its base URL.
func serve(h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	go func() { _ = http.Serve(l, h) }()
	return "http://" + l.Addr().String(), nil
}

// inventoryState describes the inventory guard's breaker.
func inventoryState(reg *core.Registry) string {
	for _, s := range reg.Snapshot() {
		if s.Policy == "inventory" {
			return fmt.Sprintf("%s (%d calls rejected, %d state changes)", s.Breaker.State, s.Rejected.Total(), s.Breaker.Transitions)
		}
	}
	return "not created yet"
}

func serviceName() string {
	if s := os.Getenv("OTEL_SERVICE_NAME"); s != "" {
		return s
	}
	return "breakerbox-apm-demo"
}

func shutdown(what string, f func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f(ctx); err != nil {
		log.Printf("shutting down %s: %v", what, err)
	}
}
