package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

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
			if _, p := a.authorize(req, Read, false); p != nil {
				b.Fatal(p)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, p := a.authorize(req, Read, false); p != nil {
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

// loadedRegistry returns a registry of n guards of mixed policies (a
// quarter with a bulkhead, a quarter with a rate limit, a quarter slow-call
// tracked), each with calls, failures and some rejections behind it.
func loadedRegistry(b *testing.B, n int) *core.Registry {
	reg, err := core.NewRegistry(core.WithPolicies(
		core.Policy{Name: "bulk", Match: []string{"bulk.*"}, Tags: []string{"payments", "stripe"}, Critical: true, Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 8, MaxQueue: 4}},
		core.Policy{Name: "limited", Match: []string{"limited.*"}, Tags: []string{"search"}, RateLimit: &core.RateLimitPolicy{Limit: 1000, Burst: 50}},
		core.Policy{Name: "slow", Match: []string{"slow.*"}, Tags: []string{"inventory"}, Breaker: &core.BreakerPolicy{SlowCallDuration: core.Duration(time.Second), MinCalls: 10}},
	))
	if err != nil {
		b.Fatal(err)
	}
	kinds := []string{"bulk", "limited", "slow", "plain"}
	boom := errors.New("boom")
	for i := range n {
		g := reg.MustGuard(fmt.Sprintf("%s.service-%03d", kinds[i%4], i), core.WithTags("team-"+strconv.Itoa(i%7)))
		for j := range 60 + i%50 {
			p, err := g.Allow(context.Background())
			if err != nil {
				continue
			}
			if j%9 == 0 {
				p.Done(boom)
			} else {
				p.Done(nil)
			}
		}
	}
	return reg
}

// The event stream and history for 200 guards under load: the size of
// what the dashboard receives and the server's time to build it.
func BenchmarkEvents200(b *testing.B) {
	reg := loadedRegistry(b, 200)
	s, err := New(reg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	sm := s.sampler
	now := time.Now()
	snaps := reg.Snapshot()
	sm.refreshInfos(reg, snaps)
	sm.measure(now.Add(-2*time.Second), snaps)
	// Rates need increments: give every guard more calls.
	for _, g := range mustGuards(b, reg) {
		for range 20 {
			if p, err := g.Allow(context.Background()); err == nil {
				p.Done(nil)
			}
		}
	}
	b.Run("rates", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			snaps := reg.Snapshot()
			sm.ratesAt = now.Add(-2 * time.Second)
			n = len(frame("rates", RatesEvent{Now: now, Guards: sm.measure(now, snaps)}))
		}
		b.ReportMetric(float64(n), "bytes/event")
	})
	b.Run("rates-encode-parallel", func(b *testing.B) {
		ev := RatesEvent{Now: now, Guards: sm.measure(now, reg.Snapshot())}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_ = frame("rates", ev)
			}
		})
	})
	b.Run("hello", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			st := &stream{ch: make(chan []byte, 1)}
			s.hello(st)
			n = len(<-st.ch)
			delete(sm.subs, st)
		}
		b.ReportMetric(float64(n), "bytes/event")
	})
	b.Run("tick", func(b *testing.B) {
		b.ReportAllocs()
		t := now
		for b.Loop() {
			t = t.Add(time.Second)
			s.tick(t)
		}
	})
}

// The history the dashboard loads at connect: an hour of 10-second
// rollups of 200 busy guards.
func BenchmarkHistory200(b *testing.B) {
	reg := loadedRegistry(b, 200)
	s, err := New(reg)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	gs := mustGuards(b, reg)
	t := time.Now().Truncate(ShortRollup).Add(-ShortHistory)
	for i := 0; i <= shortLen; i++ {
		for _, g := range gs {
			for range 1 + i%7 {
				if p, err := g.Allow(context.Background()); err == nil {
					p.Done(nil)
				}
			}
		}
		s.SampleAt(t.Add(time.Duration(i) * ShortRollup))
	}
	h := httptest.NewRequest(http.MethodGet, "/v1/history", nil)
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			h.Header.Set("Accept-Encoding", enc)
			b.ReportAllocs()
			var n int
			for b.Loop() {
				rec := httptest.NewRecorder()
				s.ServeHTTP(rec, h)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
				n = rec.Body.Len()
			}
			b.ReportMetric(float64(n), "bytes/answer")
		})
	}
}

func mustGuards(b *testing.B, reg *core.Registry) []*core.Guard {
	gs, err := reg.Guards(core.All())
	if err != nil {
		b.Fatal(err)
	}
	return gs
}
