package otelbreaker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

func TestTraceIDReadsSampledSpanContexts(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	sampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled, Remote: true})
	unsampled := sampled.WithTraceFlags(0)
	for name, c := range map[string]struct {
		ctx  context.Context
		want string
	}{
		"no span":   {context.Background(), ""},
		"sampled":   {trace.ContextWithSpanContext(context.Background(), sampled), "4bf92f3577b34da6a3ce929d0e0e4736"},
		"unsampled": {trace.ContextWithSpanContext(context.Background(), unsampled), ""},
	} {
		if got := otelbreaker.TraceID(c.ctx); got != c.want {
			t.Errorf("%s: TraceID = %q, want %q", name, got, c.want)
		}
	}
}

// Issue 18: the dashboard had no way to reach the trace of a call that
// tripped a breaker. With admin.WithTraceLinks and otelbreaker.TraceID, the
// admin API's event stream carries the trace id of the span the tripping
// call ran in, and the URL template the dashboard builds its link from.
func TestAdminTraceLinksCarryTheTrippingCallsTrace(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "p", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1, OpenDuration: core.Duration(time.Hour)}}))
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("payments", core.UsePolicy("p"))
	const tmpl = "https://grafana.example/explore?traceId={traceId}"
	srv, err := admin.New(reg, admin.WithTraceLinks(tmpl, otelbreaker.TraceID), admin.WithPushInterval(100*time.Millisecond), admin.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/v1/events", nil)
	req.Header.Set("Accept", "text/event-stream")
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	// next returns the data of the next event named name.
	next := func(name string) []byte {
		t.Helper()
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				event = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok && event == name {
				return []byte(v)
			}
		}
		t.Fatalf("no %q event: %v", name, sc.Err())
		return nil
	}
	var hello admin.HelloEvent
	if err := json.Unmarshal(next("hello"), &hello); err != nil || hello.TraceURL != tmpl {
		t.Fatalf("hello traceUrl %q (%v), want %q", hello.TraceURL, err, tmpl)
	}
	next("rates") // the stream is subscribed

	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	spanCtx, span := tp.Tracer("test").Start(context.Background(), "charge")
	p, err := g.Allow(spanCtx)
	if err != nil {
		t.Fatal(err)
	}
	p.Done(errors.New("card network down"))
	span.End()

	var st admin.StateEvent
	if err := json.Unmarshal(next("state"), &st); err != nil {
		t.Fatal(err)
	}
	if want := span.SpanContext().TraceID().String(); st.Transition.TraceID != want {
		t.Errorf("state event traceId %q, want the span's %q", st.Transition.TraceID, want)
	}
}
