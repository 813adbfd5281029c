package httpmw_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/httpmw"
)

var okBody = []byte("ok")

// trivial is the handler the overhead benchmarks wrap.
var trivial = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(okBody) })

// benchRequest returns a request as a ServeMux hands it to a route's
// handler, and a recorder that discards bodies so that it can be reused.
func benchRequest() (*http.Request, *httptest.ResponseRecorder) {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	r.Pattern = "GET /x"
	rec := httptest.NewRecorder()
	rec.Body = nil
	return r, rec
}

func BenchmarkBareHandler(b *testing.B) {
	r, rec := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		trivial.ServeHTTP(rec, r)
	}
}

func BenchmarkMiddleware(b *testing.B) {
	reg, _ := core.NewRegistry()
	h := httpmw.Middleware(reg)(trivial)
	r, rec := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(rec, r)
	}
}

func BenchmarkBareHandlerParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r, rec := benchRequest()
		for pb.Next() {
			trivial.ServeHTTP(rec, r)
		}
	})
}

func BenchmarkMiddlewareParallel(b *testing.B) {
	reg, _ := core.NewRegistry()
	h := httpmw.Middleware(reg)(trivial)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r, rec := benchRequest()
		for pb.Next() {
			h.ServeHTTP(rec, r)
		}
	})
}

// BenchmarkGuardAllowReport is the core's share of the middleware's
// overhead: the guard lookup, admission and report alone.
func BenchmarkGuardAllowReport(b *testing.B) {
	reg, _ := core.NewRegistry()
	r, _ := benchRequest()
	ctx := r.Context()
	b.ReportAllocs()
	for b.Loop() {
		g, _ := reg.Guard(r.Pattern)
		p, _ := g.Allow(ctx)
		p.Report(breaker.Success, nil)
	}
}

// BenchmarkMiddlewareWholeMux is the middleware around a ServeMux, which it
// asks for the route pattern.
func BenchmarkMiddlewareWholeMux(b *testing.B) {
	reg, _ := core.NewRegistry()
	mux := http.NewServeMux()
	mux.Handle("GET /x", trivial)
	h := httpmw.Middleware(reg)(mux)
	r, rec := benchRequest()
	r.Pattern = ""
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(rec, r)
	}
}

func BenchmarkBareMux(b *testing.B) {
	mux := http.NewServeMux()
	mux.Handle("GET /x", trivial)
	r, rec := benchRequest()
	r.Pattern = ""
	b.ReportAllocs()
	for b.Loop() {
		mux.ServeHTTP(rec, r)
	}
}

// BenchmarkMiddlewareRejected is the rejection path (open breaker, problem
// document written).
func BenchmarkMiddlewareRejected(b *testing.B) {
	reg, _ := core.NewRegistry()
	reg.MustGuard("GET /x").ForceOpen(breaker.Manual{Actor: "bench"})
	h := httpmw.Middleware(reg)(trivial)
	r, _ := benchRequest()
	w := discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// loopback returns a client for a keep-alive loopback server answering "ok".
func loopback(b *testing.B) (*httptest.Server, http.RoundTripper) {
	srv := httptest.NewServer(trivial)
	b.Cleanup(srv.Close)
	return srv, srv.Client().Transport
}

func benchRoundTrip(b *testing.B, rt http.RoundTripper, url string) {
	c := &http.Client{Transport: rt}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func BenchmarkTransportBare(b *testing.B) {
	srv, base := loopback(b)
	benchRoundTrip(b, base, srv.URL)
}

func BenchmarkTransport(b *testing.B) {
	srv, base := loopback(b)
	benchRoundTrip(b, httpmw.NewTransport(base), srv.URL)
}

func BenchmarkTransportRetrier(b *testing.B) {
	srv, base := loopback(b)
	r, _ := retry.New(retry.Config{})
	benchRoundTrip(b, httpmw.NewTransport(base, httpmw.WithRetrier(r)), srv.URL)
}

// BenchmarkTransportOverhead is the transport's own cost, without the
// network: a round tripper that answers at once.
func BenchmarkTransportOverhead(b *testing.B) {
	resp := &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}
	tr := httpmw.NewTransport(fixedRoundTripper{resp})
	req, _ := http.NewRequest(http.MethodGet, "http://example.test/x", nil)
	b.ReportAllocs()
	for b.Loop() {
		_, _ = tr.RoundTrip(req)
	}
}

func BenchmarkTransportOverheadParallel(b *testing.B) {
	resp := &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}
	tr := httpmw.NewTransport(fixedRoundTripper{resp})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		req, _ := http.NewRequest(http.MethodGet, "http://example.test/x", nil)
		for pb.Next() {
			_, _ = tr.RoundTrip(req)
		}
	})
}
