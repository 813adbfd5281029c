package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
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

// The rollup history's memory per busy guard after a day of observations
// every 10 seconds (every guard with calls in every rollup), measured on
// the heap: 200 guards fit in the default limit, 4,000 do not.
func BenchmarkHistoryMemory(b *testing.B) {
	for _, n := range []int{200, 4000} {
		b.Run(strconv.Itoa(n)+"-guards", func(b *testing.B) {
			snaps := make([]core.GuardSnapshot, n)
			for i := range snaps {
				snaps[i].Name = fmt.Sprintf("service-%05d", i)
			}
			var perGuard, counted float64
			for b.Loop() {
				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				h := newBenchHistory()
				for i := range 8640 + 1 {
					for j := range snaps {
						br := &snaps[j].Breaker
						br.Admitted += uint64(1 + (i+j)%5)
						br.Succeeded = br.Admitted
					}
					h.observe(t0.Add(time.Duration(i)*ShortRollup), snaps)
				}
				runtime.GC()
				runtime.ReadMemStats(&m1)
				perGuard = (float64(m1.HeapAlloc) - float64(m0.HeapAlloc)) / float64(n)
				counted = countedBytes(h) / float64(n)
				runtime.KeepAlive(h)
			}
			b.ReportMetric(perGuard, "heap-bytes/guard")
			b.ReportMetric(counted, "counted-bytes/guard")
		})
	}
}

// newBenchHistory is a history with the default limit, for benchmarks.
func newBenchHistory() *history { return newHistory(0) }

// countedBytes is what h counts it holds.
func countedBytes(h *history) float64 { return float64(h.bytes) }
