package chimw_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/breakerbox/breakerbox/httpmw"
	"github.com/breakerbox/breakerbox/httpmw/chimw"
	"github.com/breakerbox/breakerbox/httpmw/internal/routertest"
)

// benchRouter serves GET /items/{id} with 204, through mw when not nil.
func benchRouter(mw func(http.Handler) http.Handler) *chi.Mux {
	r := chi.NewRouter()
	if mw != nil {
		r.Use(mw)
	}
	r.Get("/items/{id}", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	return r
}

func benchServe(b *testing.B, h http.Handler) {
	req := httptest.NewRequest("GET", "/items/1", nil)
	rec := httptest.NewRecorder()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(rec, req)
	}
}

// BenchmarkChi is chi alone, the baseline.
func BenchmarkChi(b *testing.B) { benchServe(b, benchRouter(nil)) }

// BenchmarkChimw is chi with chimw.Middleware in Use: the guard's admission
// and report, and one more route match.
func BenchmarkChimw(b *testing.B) {
	benchServe(b, benchRouter(chimw.Middleware(routertest.Registry(b, "inbound", time.Hour))))
}

// BenchmarkChiHTTPMW is chi with httpmw.Middleware in Use, which finds no
// route (every request on the unmatched guard): what chimw adds over it is
// the route match.
func BenchmarkChiHTTPMW(b *testing.B) {
	quiet := httpmw.WithLogger(slog.New(slog.DiscardHandler))
	benchServe(b, benchRouter(httpmw.Middleware(routertest.Registry(b, "inbound", time.Hour), quiet)))
}
