package core

import (
	"context"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// bigDocument is a document of n policies, one per guard "g<i>", each with
// a breaker, a bulkhead and a rate limit; v changes every threshold (not
// the window shapes), so that applying it after v-1 reconfigures every
// guard.
func bigDocument(n, v int) Document {
	ps := make([]Policy, n)
	for i := range ps {
		ps[i] = Policy{
			Name:      "g" + strconv.Itoa(i),
			Breaker:   &BreakerPolicy{WindowSize: 100, FailureRate: float64(40 + v%20), OpenDuration: Duration(time.Duration(10+v%5) * time.Second)},
			Bulkhead:  &BulkheadPolicy{MaxConcurrent: 100 + v%7},
			RateLimit: &RateLimitPolicy{Limit: float64(1e8 + v%11)},
		}
	}
	return Document{Policies: ps}
}

// BenchmarkApply10000Guards applies a document of 10,000 policies to a
// registry with a guard for each, every threshold changed (issue 19's goal:
// at most 100 ms), or none. cpu-ms/op is the process's CPU time per apply
// (garbage collection included), steadier than wall time on a shared
// machine.
func BenchmarkApply10000Guards(b *testing.B) {
	const n = 10000
	for _, tc := range []struct {
		name    string
		changed bool
	}{{"changed", true}, {"unchanged", false}} {
		b.Run(tc.name, func(b *testing.B) {
			r := mustRegistry(b)
			if _, err := r.Apply(bigDocument(n, 0)); err != nil {
				b.Fatal(err)
			}
			for i := range n {
				mustGuard(b, r, "g"+strconv.Itoa(i))
			}
			docs := []Document{bigDocument(n, 1), bigDocument(n, 2)}
			if !tc.changed {
				docs[0], docs[1] = bigDocument(n, 0), bigDocument(n, 0)
			}
			b.ReportAllocs()
			cpu0, cpuOK := processCPU()
			i := 0
			for b.Loop() {
				res, err := r.Apply(docs[i%2])
				if err != nil {
					b.Fatal(err)
				}
				if tc.changed && len(res.Reconfigured) != n {
					b.Fatalf("%d guards reconfigured", len(res.Reconfigured))
				}
				i++
			}
			if cpu1, ok := processCPU(); ok && cpuOK {
				b.ReportMetric(float64(cpu1-cpu0)/1e6/float64(i), "cpu-ms/op")
			}
		})
	}
}

// BenchmarkCallLatencyDuringApply reports the call path's latency
// percentiles (p50-ns, p99-ns, measured per call with the clock) through
// 1,000 guards, idle and while documents are applied back to back.
func BenchmarkCallLatencyDuringApply(b *testing.B) {
	const n = 1000
	for _, applying := range []bool{false, true} {
		name := "idle"
		if applying {
			name = "applying"
		}
		b.Run(name, func(b *testing.B) {
			r := mustRegistry(b)
			if _, err := r.Apply(bigDocument(n, 0)); err != nil {
				b.Fatal(err)
			}
			gs := make([]*Guard, n)
			for i := range gs {
				gs[i] = mustGuard(b, r, "g"+strconv.Itoa(i))
			}
			var stop atomic.Bool
			done := make(chan int)
			if applying {
				docs := []Document{bigDocument(n, 1), bigDocument(n, 2)}
				go func() {
					k := 0
					for ; !stop.Load(); k++ {
						if _, err := r.Apply(docs[k%2]); err != nil {
							panic(err)
						}
					}
					done <- k
				}()
			}
			ctx := context.Background()
			fn := func(context.Context) (int, error) { return 1, nil }
			lat := make([]time.Duration, 0, 1<<20)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				g := gs[i%n]
				i++
				start := time.Now()
				if _, err := Do(ctx, g, fn); err != nil {
					b.Fatal(err)
				}
				if len(lat) < cap(lat) {
					lat = append(lat, time.Since(start))
				}
			}
			b.StopTimer()
			stop.Store(true)
			if applying {
				b.ReportMetric(float64(<-done), "applies")
			}
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
				b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
			}
		})
	}
}
