package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/breakerbox/breakerbox/core"
)

// The admin API has no per-call hot path: the only thing it adds to guards
// is an OnStateChange hook, which runs on transitions only. These
// benchmarks measure its per-request costs.

func BenchmarkAuthorize(b *testing.B) {
	a := newAuthenticator([]Token{
		{Name: "alice", Secret: aliceSecret, Access: Write},
		{Name: "bob", Secret: bobSecret, Access: Write},
		{Name: "grafana", Secret: readSecret, Access: Read},
	}, false)
	req := httptest.NewRequest(http.MethodGet, "/v1/guards", nil)
	req.Header.Set("Authorization", "Bearer "+readSecret)
	b.ReportAllocs()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, p := a.authorize(req, Read); p != nil {
				b.Fatal(p)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, p := a.authorize(req, Read); p != nil {
					b.Fatal(p)
				}
			}
		})
	})
}

func benchRegistry(b *testing.B, n int) *core.Registry {
	reg, err := core.NewRegistry()
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < n; i++ {
		reg.MustGuard(fmt.Sprintf("guard-%03d", i), core.WithTags("t"))
	}
	return reg
}

func benchGet(b *testing.B, h http.Handler, path string) {
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
			if rec.Code != http.StatusOK {
				b.Fatal(rec.Code)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
	})
}

func BenchmarkListGuards100(b *testing.B) {
	s, err := New(benchRegistry(b, 100))
	if err != nil {
		b.Fatal(err)
	}
	benchGet(b, s, "/v1/guards")
}

func BenchmarkReady100(b *testing.B) {
	benchGet(b, HealthHandler(benchRegistry(b, 100)), "/ready")
}

func BenchmarkDecodeOperationRequest(b *testing.B) {
	data := []byte(`{"tag":"stripe","reason":"provider maintenance","duration":"30m"}`)
	b.ReportAllocs()
	for b.Loop() {
		var r OperationRequest
		if err := decodeStrict(data, &r); err != nil {
			b.Fatal(err)
		}
	}
}
