package main

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/breakerbox/breakerbox/otelbreaker"
)

// setupTracing returns the tracer provider of the demo and a description of
// where its spans go:
//
//   - over OTLP to otlp, an endpoint URL (-otlp), or when it is empty and
//     OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT) is set, to that;
//     with the protocol of OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf by
//     default, or grpc), sampling ratio of the traces;
//   - otherwise to a file (dest a path; the default is one in the OS's
//     temporary directory) or to stdout (dest "stdout") as JSON lines: every
//     span that carries a breakerbox decision (a rejection, a state change)
//     and ratio of the other traces;
//   - nowhere with dest "none".
//
// The terminal gets a line per state change instead (see describeChange).
// Shut the provider down to flush it; closeOut closes the file, if any.
func setupTracing(ctx context.Context, dest, otlp string, ratio float64, stdout io.Writer) (tp *sdktrace.TracerProvider, desc string, closeOut func() error, err error) {
	closeOut = func() error { return nil }
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "storefront")),
		resource.WithFromEnv(), // OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
		resource.WithTelemetrySDK())
	if err != nil {
		return nil, "", closeOut, err
	}
	if otlp == "" && dest == "none" {
		return sdktrace.NewTracerProvider(sdktrace.WithResource(res), sdktrace.WithSampler(sdktrace.NeverSample())), "nowhere (-traces none)", closeOut, nil
	}
	if endpoint := cmp.Or(otlp, otlpEndpoint()); endpoint != "" {
		var exp sdktrace.SpanExporter
		protocol := firstEnv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
		switch {
		case protocol == "grpc" && otlp != "":
			exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(otlp))
		case protocol == "grpc":
			exp, err = otlptracegrpc.New(ctx)
		case otlp != "":
			protocol = "http/protobuf"
			exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(otlpTracesURL(otlp)))
		default:
			protocol = "http/protobuf"
			exp, err = otlptracehttp.New(ctx)
		}
		if err != nil {
			return nil, "", closeOut, fmt.Errorf("OTLP exporter: %w", err)
		}
		if ratio < 0 {
			ratio = 1
		}
		tp = sdktrace.NewTracerProvider(sdktrace.WithResource(res),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
			sdktrace.WithBatcher(exp))
		return tp, fmt.Sprintf("OTLP %s to %s, sampling %g of traces (-trace-ratio)", protocol, endpoint, ratio), closeOut, nil
	}
	w, where := stdout, "stdout"
	if dest != "stdout" {
		f, err := os.Create(dest)
		if err != nil {
			return nil, "", closeOut, fmt.Errorf("-traces: %w", err)
		}
		w, where, closeOut = f, dest, f.Close
	}
	exp, err := stdouttrace.New(stdouttrace.WithWriter(w))
	if err != nil {
		closeOut()
		return nil, "", func() error { return nil }, err
	}
	if ratio < 0 {
		ratio = 0.01
	}
	// Every span is recorded, so that otelbreaker can put decisions on it;
	// the filter chooses what is written.
	tp = sdktrace.NewTracerProvider(sdktrace.WithResource(res),
		sdktrace.WithSpanProcessor(decisionFilter{sdktrace.NewBatchSpanProcessor(exp, sdktrace.WithBatchTimeout(time.Second)), ratio}))
	return tp, fmt.Sprintf("%s, as JSON lines: spans with breaker decisions, and %g of the others (-trace-ratio)", where, ratio), closeOut, nil
}

// defaultTracesFile is where the spans go unless -traces or -otlp says
// otherwise: a file, so that they do not bury the terminal.
func defaultTracesFile() string {
	return filepath.Join(os.TempDir(), "breakerbox-storefront-traces.jsonl")
}

// checkOTLPURL checks the value of -otlp.
func checkOTLPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-otlp: %q is not an http:// or https:// URL, such as http://localhost:4318", s)
	}
	return nil
}

// otlpTracesURL is the OTLP/HTTP URL of traces for an endpoint given as
// OTEL_EXPORTER_OTLP_ENDPOINT is: /v1/traces is added to a URL without a
// path.
func otlpTracesURL(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || strings.Trim(u.Path, "/") != "" {
		return endpoint
	}
	u.Path = "/v1/traces"
	return u.String()
}

func otlpEndpoint() string {
	return firstEnv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// decisionFilter passes on the spans that carry a breakerbox decision
// (otelbreaker's rejection attributes or state-change event), and the spans
// of a ratio of traces.
type decisionFilter struct {
	next  sdktrace.SpanProcessor
	ratio float64
}

func (f decisionFilter) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	f.next.OnStart(ctx, s)
}

func (f decisionFilter) OnEnd(s sdktrace.ReadOnlySpan) {
	if f.keep(s) {
		f.next.OnEnd(s)
	}
}

func (f decisionFilter) keep(s sdktrace.ReadOnlySpan) bool {
	id := s.SpanContext().TraceID()
	if float64(binary.BigEndian.Uint64(id[8:])>>11)/(1<<53) < f.ratio {
		return true
	}
	for _, a := range s.Attributes() {
		if a.Key == otelbreaker.GuardKey {
			return true
		}
	}
	for _, e := range s.Events() {
		if e.Name == otelbreaker.StateChangeEventName {
			return true
		}
	}
	return false
}

func (f decisionFilter) Shutdown(ctx context.Context) error   { return f.next.Shutdown(ctx) }
func (f decisionFilter) ForceFlush(ctx context.Context) error { return f.next.ForceFlush(ctx) }
