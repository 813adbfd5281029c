package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if demoBuild.dir != "" {
		os.RemoveAll(demoBuild.dir)
	}
	os.Exit(code)
}

func TestParseFlags(t *testing.T) {
	t.Setenv("BREAKERBOX_TOKEN", "")
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.apiPort != 8080 || c.opsPort != 9090 || !c.tour || c.traceRatio != -1 || len(c.token) < 16 || c.otlp != "" {
		t.Errorf("defaults: %+v", c)
	}
	// Issue 18: the spans buried the terminal; they go to a file by default.
	if want := filepath.Join(os.TempDir(), "breakerbox-storefront-traces.jsonl"); c.traces != want {
		t.Errorf("-traces defaults to %q, want %q", c.traces, want)
	}
	for args, want := range map[string]string{
		"-api-port -1":          "-api-port: -1 must be between 0 and 65535",
		"-open-duration 0s":     "-open-duration: 0s must be positive",
		"-load 5000":            "-load: 5000 must be between 0 and 1000",
		"-trace-ratio 2":        "-trace-ratio: 2 must be between 0 and 1",
		"-admin-token short":    "-admin-token: must be at least 16 characters",
		"-fault payments:bad=1": `unknown key "bad"`,
		"extra":                 "unexpected arguments: extra",
		"-otlp localhost:4318":  `-otlp: "localhost:4318" is not an http:// or https:// URL`,
		"-otlp http://":         `-otlp: "http://" is not an http:// or https:// URL`,
		"-traces=":              "-traces: empty",
	} {
		if _, err := parseFlags(strings.Fields(args), io.Discard); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseFlags(%s) = %v, want an error containing %q", args, err, want)
		}
	}
}

func TestDecisionFilter(t *testing.T) {
	span := func(traceID byte, attrs []attribute.KeyValue, events ...string) sdktrace.ReadOnlySpan {
		s := tracetest.SpanStub{
			SpanContext: trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{15: traceID}}),
			Attributes:  attrs,
		}
		for _, e := range events {
			s.Events = append(s.Events, sdktrace.Event{Name: e})
		}
		return s.Snapshot()
	}
	f := decisionFilter{ratio: 0.01}
	// A trace id whose low bits fall below the ratio is kept.
	if !f.keep(span(0, nil)) {
		t.Error("a sampled trace was dropped")
	}
	plain := span(255, []attribute.KeyValue{attribute.String("http.route", "/x")})
	if (decisionFilter{ratio: 0}).keep(plain) || !(decisionFilter{ratio: 1}).keep(plain) {
		t.Error("the ratio does not decide for spans without decisions")
	}
	if !(decisionFilter{}).keep(span(255, []attribute.KeyValue{otelbreaker.GuardKey.String("payments")})) {
		t.Error("a span with a rejection was dropped")
	}
	if !(decisionFilter{}).keep(span(255, nil, otelbreaker.StateChangeEventName)) {
		t.Error("a span with a state change was dropped")
	}
}

func TestParseFlagsOTLP(t *testing.T) {
	c, err := parseFlags([]string{"-otlp", "http://localhost:4318"}, io.Discard)
	if err != nil || c.otlp != "http://localhost:4318" {
		t.Fatalf("parseFlags(-otlp http://localhost:4318) = %+v, %v", c, err)
	}
}

func TestOTLPTracesURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://localhost:4318":            "http://localhost:4318/v1/traces",
		"http://localhost:4318/":           "http://localhost:4318/v1/traces",
		"https://collector:4318/custom/tr": "https://collector:4318/custom/tr",
	} {
		if got := otlpTracesURL(in); got != want {
			t.Errorf("otlpTracesURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDescribeChange pins the terminal's line for a change of state (issue
// 18: the terminal shows these lines, not spans).
func TestDescribeChange(t *testing.T) {
	for _, tc := range []struct {
		e    core.StateChange
		want string
	}{
		{core.StateChange{Guard: "payments", Transition: breaker.Transition{From: breaker.Closed, To: breaker.Open, Reason: "failure rate 60% >= 50% over 20 calls"}},
			"payments closed → open (failure rate 60% >= 50% over 20 calls)"},
		{core.StateChange{Guard: "payments", Transition: breaker.Transition{From: breaker.Closed, To: breaker.ForcedOpen, Reason: "maintenance", Actor: "demo"}},
			"payments closed → forced-open by demo (maintenance)"},
		{core.StateChange{Guard: "inventory", Transition: breaker.Transition{From: breaker.HalfOpen, To: breaker.Closed}},
			"inventory half-open → closed"},
	} {
		if got := describeChange(tc.e); got != tc.want {
			t.Errorf("describeChange(%+v) = %q, want %q", tc.e, got, tc.want)
		}
	}
}

func TestRejectionsTake(t *testing.T) {
	var r rejections
	if got := r.take(); got != "none" {
		t.Errorf("take() with no rejections = %q, want none", got)
	}
	// Rejections as a real guard makes them.
	reg, err := core.NewRegistry(core.WithDefaultPolicy(core.Policy{Name: "down", Breaker: &core.BreakerPolicy{Mode: "forced-open"}}),
		core.WithHooks(core.Hooks{OnReject: func(_ context.Context, rj core.Rejection) { r.add(rj) }}))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"payments", "payments", "inventory"} {
		if _, err := reg.MustGuard(name).Allow(context.Background()); err == nil {
			t.Fatalf("%s admitted a call while forced open", name)
		}
	}
	if got, want := r.take(), "inventory (circuit_open) 1, payments (circuit_open) 2"; got != want {
		t.Errorf("take() = %q, want %q", got, want)
	}
	if got := r.take(); got != "none" {
		t.Errorf("take() after take() = %q, want none", got)
	}
}

// TestOTLPFlagSendsTraces checks that -otlp sends the spans over OTLP/HTTP
// to the endpoint it names, at /v1/traces, rather than to the file.
func TestOTLPFlagSendsTraces(t *testing.T) {
	got := make(chan string, 100)
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case got <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type"):
		default:
		}
	}))
	defer collector.Close()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, "")
		}
	}
	traces := filepath.Join(t.TempDir(), "traces.jsonl")
	t.Run("demo", func(t *testing.T) {
		addrs := startDemo(t, "-load=0", "-tour=false", "-report=0", "-otlp="+collector.URL, "-traces="+traces)
		resp, err := client.Get(addrs.API + "/api/products")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}) // the demo stops, flushing its spans
	select {
	case req := <-got:
		if req != "POST /v1/traces application/x-protobuf" {
			t.Errorf("the collector got %q, want POST /v1/traces application/x-protobuf", req)
		}
	default:
		t.Error("the collector got no spans")
	}
	if _, err := os.Stat(traces); !os.IsNotExist(err) {
		t.Errorf("-traces %s was written to with -otlp (stat: %v)", traces, err)
	}
}
