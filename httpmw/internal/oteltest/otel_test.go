package oteltest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/httpmw/chimw"
	"github.com/breakerbox/breakerbox/httpmw/internal/routertest"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// telemetry is an in-memory span exporter and metric reader.
type telemetry struct {
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	opts   []otelhttp.Option
}

func newTelemetry(t *testing.T) *telemetry {
	tel := &telemetry{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tel.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	tel.opts = []otelhttp.Option{otelhttp.WithTracerProvider(tp), otelhttp.WithMeterProvider(mp)}
	return tel
}

// spanNames returns the names of the spans ended so far, in order.
func (tel *telemetry) spanNames() []string {
	var names []string
	for _, s := range tel.spans.GetSpans() {
		names = append(names, s.Name)
	}
	return names
}

// routes returns the http.route and status of every request duration the
// server recorded, as "route status".
func (tel *telemetry) routes(t *testing.T) []string {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "http.server.request.duration" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Histogram[float64]).DataPoints {
				route, _ := dp.Attributes.Value("http.route")
				status, _ := dp.Attributes.Value("http.response.status_code")
				out = append(out, route.Emit()+" "+status.Emit())
			}
		}
	}
	slices.Sort(out)
	return out
}

func status(t *testing.T, req *http.Request) int {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func get(t *testing.T, url string, client string) int {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Client", client)
	return status(t, req)
}

// TestRejectedRequestSpanNamedByRoute: otelhttp around httpmw around a
// ServeMux, the order the package doc gives. Requests the guard or the
// per-client limiter reject were named "GET", and had no http.route, as
// they never reached the mux; now they are named by their route, like the
// admitted ones.
func TestRejectedRequestSpanNamedByRoute(t *testing.T) {
	tel := newTelemetry(t)
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	perClient, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Limit: 1, Per: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /quote/{sku}", func(w http.ResponseWriter, r *http.Request) {})
	handler := httpmw.Middleware(reg, httpmw.WithLimiter(func(r *http.Request) string { return r.Header.Get("X-Client") }, perClient))(mux)
	srv := httptest.NewServer(otelhttp.NewHandler(handler, "server", tel.opts...))
	defer srv.Close()

	if s := get(t, srv.URL+"/quote/a", "alice"); s != 200 {
		t.Fatalf("admitted: %d", s)
	}
	if s := get(t, srv.URL+"/quote/a", "alice"); s != http.StatusTooManyRequests {
		t.Fatalf("limited: %d", s)
	}
	if _, err := reg.ForceOpen(core.Name("GET /quote/{sku}"), breaker.Manual{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if s := get(t, srv.URL+"/quote/a", "bob"); s != http.StatusServiceUnavailable {
		t.Fatalf("rejected: %d", s)
	}
	want := []string{"GET /quote/{sku}", "GET /quote/{sku}", "GET /quote/{sku}"}
	if got := tel.spanNames(); !slices.Equal(got, want) {
		t.Errorf("spans %q, want %q (admitted, limited, rejected)", got, want)
	}
	wantRoutes := []string{"/quote/{sku} 200", "/quote/{sku} 429", "/quote/{sku} 503"}
	if got := tel.routes(t); !slices.Equal(got, wantRoutes) {
		t.Errorf("request durations by route and status: %q, want %q", got, wantRoutes)
	}
}

// TestRejectedRequestSpanNamedByChiRoute: in a chi router, otelhttp's
// middleware mounted with Use before chimw's sees the route of a request
// the guard rejects, as chimw sets r.Pattern the way chi does.
func TestRejectedRequestSpanNamedByChiRoute(t *testing.T) {
	tel := newTelemetry(t)
	reg := routertest.Registry(t, "inbound", time.Hour)
	r := chi.NewRouter()
	r.Use(otelhttp.NewMiddleware("server", tel.opts...), chimw.Middleware(reg))
	r.Get("/quote/{sku}", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(r)
	defer srv.Close()

	if s := get(t, srv.URL+"/quote/a", ""); s != 200 {
		t.Fatalf("admitted: %d", s)
	}
	if _, err := reg.ForceOpen(core.Name("GET /quote/{sku}"), breaker.Manual{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	if s := get(t, srv.URL+"/quote/a", ""); s != http.StatusServiceUnavailable {
		t.Fatalf("rejected: %d", s)
	}
	want := []string{"GET /quote/{sku}", "GET /quote/{sku}"}
	if got := tel.spanNames(); !slices.Equal(got, want) {
		t.Errorf("spans %q, want %q (admitted, rejected)", got, want)
	}
}
