package redisstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/redisstore/internal/redistest"
)

// BenchmarkTake is one Take round trip on loopback (GCRA in Lua).
func BenchmarkTake(b *testing.B) {
	srv := redistest.Start(b)
	s, _ := newStoreOn(b, srv.Client())
	ctx := context.Background()
	rate := fleet.Rate{Limit: 1_000_000_000, Period: time.Second}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Take(ctx, "k", rate, 1); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(1, "roundtrips/op")
}

// BenchmarkTakePrefetch admits calls from a local batch and refills it
// with Take(n=50) when empty, as a global limiter with prefetch does; a
// key known to be over its limit rejects locally until retry-after (the
// over-limit cache), costing no round trip. The figure is the round trips
// per admitted call, under a limit that never binds and under one the
// loop exceeds (2,000/s, burst 100).
func BenchmarkTakePrefetch(b *testing.B) {
	srv := redistest.Start(b)
	for _, tc := range []struct {
		name string
		rate fleet.Rate
	}{
		{"unbound", fleet.Rate{Limit: 1_000_000_000, Period: time.Second}},
		{"limit=2000/s", fleet.Rate{Limit: 2_000, Period: time.Second, Burst: 100}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, _ := newStoreOn(b, srv.Client())
			ctx := context.Background()
			local, trips, admitted := 0, 0, 0
			var overUntil time.Time
			for b.Loop() {
				if local == 0 {
					if time.Now().Before(overUntil) {
						continue // over the limit: rejected locally
					}
					g, retry, err := s.Take(ctx, "k", tc.rate, 50)
					if err != nil {
						b.Fatal(err)
					}
					trips++
					local = g
					if g < 50 {
						overUntil = time.Now().Add(retry)
					}
					if g == 0 {
						continue
					}
				}
				local--
				admitted++
			}
			if admitted > 0 {
				b.ReportMetric(float64(trips)/float64(admitted), "roundtrips/admitted")
			}
			b.ReportMetric(float64(admitted)/float64(b.N), "admitted/op")
		})
	}
}

// BenchmarkListVerdicts is one List of 8 replicas' votes on 100 guards.
func BenchmarkListVerdicts(b *testing.B) {
	srv := redistest.Start(b)
	s, _ := newStoreOn(b, srv.Client())
	ctx := context.Background()
	value := verdictValue("payments.charge", "replica-1")
	for g := range 100 {
		for r := range 8 {
			if err := s.Put(ctx, fleet.KindVerdict, fmt.Sprintf("guard-%d@replica-%d", g, r), value, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		es, err := s.List(ctx, fleet.KindVerdict)
		if err != nil || len(es) != 800 {
			b.Fatalf("List = %d entries, %v", len(es), err)
		}
	}
}

// verdictValue is a vote as Join writes it (an envelope around a Verdict).
func verdictValue(guard, replica string) []byte {
	data, _ := json.Marshal(fleet.Verdict{Guard: guard, Replica: replica, Open: true, Reason: "failure rate 0.62 >= 0.50", Calls: 120, Failures: 75})
	v, _ := json.Marshal(map[string]any{"v": fleet.Protocol, "kind": fleet.KindVerdict, "data": json.RawMessage(data)})
	return v
}

// BenchmarkMemoryPerGuard measures what Redis holds per guard of a fleet
// of 8 replicas in the worst case, every replica voting open and a probe
// lease out: 8 votes, one lease, their index members (INFO's used_memory
// before and after 1,000 guards).
func BenchmarkMemoryPerGuard(b *testing.B) {
	const guards, replicas = 1000, 8
	for b.Loop() {
		b.StopTimer()
		srv := redistest.Start(b)
		s, _ := newStoreOn(b, srv.Client())
		ctx := context.Background()
		before := usedMemory(b, srv)
		b.StartTimer()
		for g := range guards {
			guard := fmt.Sprintf("svc.dependency-%04d", g)
			for r := range replicas {
				replica := fmt.Sprintf("replica-%d", r)
				if err := s.Put(ctx, fleet.KindVerdict, guard+"@"+replica, verdictValue(guard, replica), time.Minute); err != nil {
					b.Fatal(err)
				}
			}
			lease, _ := json.Marshal(fleet.Lease{Guard: guard, Holder: "replica-0", Token: "0123456789abcdef", Outcome: fleet.ProbeRunning})
			if _, _, err := s.Create(ctx, fleet.KindLease, guard, lease, 5*time.Second); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		after := usedMemory(b, srv)
		perGuard := float64(after-before) / guards
		b.ReportMetric(perGuard, "bytes/guard")
		b.ReportMetric(perGuard/(replicas+1), "bytes/key")
		srv.Kill()
		b.StartTimer()
	}
}

func usedMemory(b *testing.B, srv *redistest.Server) int64 {
	b.Helper()
	v, err := srv.Do("INFO", "memory")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(fmt.Sprint(v), "\r\n") {
		if n, ok := strings.CutPrefix(line, "used_memory:"); ok {
			x, _ := strconv.ParseInt(n, 10, 64)
			return x
		}
	}
	b.Fatal("no used_memory in INFO")
	return 0
}
