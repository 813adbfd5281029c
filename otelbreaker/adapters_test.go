package otelbreaker_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/httpmw"
)

// The server middleware goes inside otelhttp.NewHandler: the server span
// exists when the guard rejects, gets the rejection's attributes, and
// records the 503 (an Error status, by the HTTP server rules).
func TestOrderServerMiddlewareInsideOtelhttp(t *testing.T) {
	e := newEnv(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pay", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "paid") })
	e.reg.MustGuard("GET /pay").ForceOpen(breaker.Manual{Actor: "test", Reason: "drill"})

	h := otelhttp.NewHandler(httpmw.Middleware(e.reg)(mux), "server", otelhttp.WithTracerProvider(e.tp))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/pay")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	ended := e.spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans, want the one server span", len(ended))
	}
	s := ended[0]
	a := spanAttrs(s)
	if s.SpanKind() != trace.SpanKindServer || a["breakerbox.guard.name"] != "GET /pay" || a["breakerbox.outcome"] != "rejected" ||
		a["breakerbox.circuit_breaker.state"] != "forced-open" || a["http.response.status_code"] != "503" {
		t.Errorf("server span %v", a)
	}
	if a["error.type"] == "" {
		t.Errorf("server span without error.type: %v", a)
	}
	if s.Status().Code != codes.Error {
		t.Errorf("server span status %v, want Error (503)", s.Status().Code)
	}
	t.Logf("server span attributes: %v", a)
}

// The other way round, the middleware answers before otelhttp runs: the
// rejected request leaves no span at all. This is why the order matters.
func TestOrderServerMiddlewareOutsideOtelhttpLosesTheSpan(t *testing.T) {
	e := newEnv(t, nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pay", func(w http.ResponseWriter, r *http.Request) {})
	e.reg.MustGuard("GET /pay").ForceOpen(breaker.Manual{})
	key := httpmw.WithKey(func(*http.Request) string { return "GET /pay" })
	h := httpmw.Middleware(e.reg, key)(otelhttp.NewHandler(mux, "server", otelhttp.WithTracerProvider(e.tp)))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/pay")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if n := len(e.spans.Ended()); n != 0 {
		t.Fatalf("%d spans; the rejection was expected to happen outside any span", n)
	}
}

// The client transport goes outside otelhttp.Transport: an admitted call
// makes an HTTP client span, a rejected one makes none (nothing was sent)
// and is recorded on the caller's span instead.
func TestOrderClientTransportOutsideOtelhttp(t *testing.T) {
	e := newEnv(t, nil)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	defer backend.Close()
	client := &http.Client{Transport: httpmw.NewTransport(
		otelhttp.NewTransport(http.DefaultTransport, otelhttp.WithTracerProvider(e.tp)),
		httpmw.WithRegistry(e.reg))}
	tr := e.tp.Tracer("test")

	get := func(name string) (sdktrace.ReadOnlySpan, error) {
		ctx, span := tr.Start(context.Background(), name)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, backend.URL+"/quote", nil)
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		span.End()
		ended := e.spans.Ended()
		return ended[len(ended)-1], err
	}

	if _, err := get("admitted"); err != nil {
		t.Fatal(err)
	}
	clientSpans := func() int {
		n := 0
		for _, s := range e.spans.Ended() {
			if s.SpanKind() == trace.SpanKindClient {
				n++
			}
		}
		return n
	}
	if n := clientSpans(); n != 1 {
		t.Fatalf("%d client spans after an admitted call, want 1", n)
	}

	if _, err := e.reg.ForceOpen(core.All(), breaker.Manual{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	caller, err := get("rejected")
	if !errors.Is(err, core.ErrRejected) {
		t.Fatalf("want a rejection, got %v", err)
	}
	if n := clientSpans(); n != 1 {
		t.Errorf("%d client spans after a rejected call, want still 1", n)
	}
	a := spanAttrs(caller)
	if a["breakerbox.outcome"] != "rejected" || a["error.type"] != "circuit_open" || a["breakerbox.guard.name"] == "" {
		t.Errorf("caller span %v", a)
	}
	if caller.Status().Code != codes.Error {
		t.Errorf("caller span status %v, want Error", caller.Status().Code)
	}
}
