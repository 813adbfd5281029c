package main

import (
	"io"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/breakerbox/breakerbox/otelbreaker"
)

func TestParseFlags(t *testing.T) {
	t.Setenv("BREAKERBOX_TOKEN", "")
	c, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.apiPort != 8080 || c.opsPort != 9090 || !c.tour || c.traces != "stdout" || c.traceRatio != -1 || len(c.token) < 16 {
		t.Errorf("defaults: %+v", c)
	}
	for args, want := range map[string]string{
		"-api-port -1":          "-api-port: -1 must be between 0 and 65535",
		"-open-duration 0s":     "-open-duration: 0s must be positive",
		"-load 5000":            "-load: 5000 must be between 0 and 1000",
		"-trace-ratio 2":        "-trace-ratio: 2 must be between 0 and 1",
		"-admin-token short":    "-admin-token: must be at least 16 characters",
		"-fault payments:bad=1": `unknown key "bad"`,
		"extra":                 "unexpected arguments: extra",
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
