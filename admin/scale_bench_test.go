package admin

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

// The health endpoints at 50,000 guards, 5 of them critical: the time and
// memory one unauthenticated request costs, and the size of the answer.
func BenchmarkHealth50k(b *testing.B) {
	reg := scaleRegistry(b, 50_000, 5)
	h := HealthHandler(reg)
	for _, path := range []string{"/health", "/ready"} {
		b.Run(path[1:], func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			serve := func() int {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
				return rec.Body.Len()
			}
			serve() // the first request builds what later ones reuse
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			start := time.Now()
			var body int
			n := 0
			for b.Loop() {
				body = serve()
				n++
			}
			el := time.Since(start)
			runtime.ReadMemStats(&m1)
			b.ReportMetric(float64(el.Nanoseconds())/float64(n), "ns/req")
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(n), "alloc-bytes/req")
			b.ReportMetric(float64(body), "body-bytes")
		})
	}
}
