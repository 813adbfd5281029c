package redisstore_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/redisstore"
	"github.com/breakerbox/breakerbox/fleet/redisstore/internal/redistest"
)

// limitRun is one run of eight replicas hammering one global limit.
type limitRun struct {
	admitted, calls, trips, byFailure uint64
	unspent                           int64 // prefetched tokens held at the end
	// allowed is what the limit allows over the run: the rate over the
	// time measured, one burst (the bucket is full at the start), and the
	// tokens the limiters held at the start (taken from the bucket before).
	allowed float64
	elapsed time.Duration
	health  []fleet.StoreHealth
}

// runGlobalLimit joins replicas registries to srv (each with a client of
// its own, no proxy), makes each a GlobalLimiter of rate on one key, waits
// until the limiters have reached the store and the bucket is full again,
// then has each replica call Allow every `every` for d.
func runGlobalLimit(tb testing.TB, srv *redistest.Server, replicas int, rate fleet.Rate, every, d time.Duration) limitRun {
	tb.Helper()
	prefix := newPrefix(tb)
	agents := make([]*fleet.Agent, replicas)
	ls := make([]*fleet.GlobalLimiter, replicas)
	for i := range agents {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		s, err := redisstore.New(client, redisstore.WithPrefix(prefix))
		if err != nil {
			tb.Fatal(err)
		}
		reg, _ := core.NewRegistry()
		a, err := fleet.Join(reg, s, fleet.WithReplicaID(fmt.Sprintf("r%d", i)), fleet.WithHeartbeat(200*time.Millisecond))
		if err != nil {
			tb.Fatal(err)
		}
		agents[i] = a
		defer func() { a.Close(); s.Close(); client.Close() }()
	}
	redistest.WaitFor(tb, "every replica to see the others", 10*time.Second, func() bool {
		for _, a := range agents {
			if len(a.Snapshot().Members) != replicas {
				return false
			}
		}
		return true
	})
	for i, a := range agents {
		ls[i] = a.Limiter("partner-api", rate)
	}
	redistest.WaitFor(tb, "every limiter to reach the store", 10*time.Second, func() bool {
		for _, l := range ls {
			if s := l.Stats(); s.Degraded || s.RoundTrips == 0 || s.Tokens == 0 {
				return false
			}
		}
		return true
	})
	burst := rate.Burst
	if burst <= 0 {
		burst = rate.Limit
	}
	time.Sleep(time.Duration(burst)*rate.Period/time.Duration(rate.Limit) + 100*time.Millisecond) // the bucket fills again
	before := make([]fleet.LimiterStats, replicas)
	var held int64
	for i, l := range ls {
		before[i] = l.Stats()
		held += before[i].Tokens
	}
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() {
			for time.Now().Before(end) {
				l.Allow()
				time.Sleep(every)
			}
		})
	}
	wg.Wait()
	var r limitRun
	r.elapsed = time.Since(start)

	for i, l := range ls {
		s := l.Stats()
		r.admitted += s.Allowed - before[i].Allowed
		r.calls += s.Allowed + s.Rejected - before[i].Allowed - before[i].Rejected
		r.trips += s.RoundTrips - before[i].RoundTrips
		r.byFailure += s.AllowedByFailureMode - before[i].AllowedByFailureMode
		r.unspent += s.Tokens
	}
	r.allowed = float64(rate.Limit)*r.elapsed.Seconds()/rate.Period.Seconds() + float64(burst) + float64(held)
	for _, a := range agents {
		r.health = append(r.health, a.Health())
	}
	return r
}

// TestGlobalLimitOnRedis: eight replicas on a real redis-server hammering
// one 1,000/s key for 5s admit what the limit allows within 1%, with at
// most 0.2 round trips per admitted call and nothing admitted by failure
// mode.
func TestGlobalLimitOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("5s of load")
	}
	srv := redistest.Start(t)
	r := runGlobalLimit(t, srv, 8, fleet.Rate{Limit: 1000, Period: time.Second}, 500*time.Microsecond, 5*time.Second)
	t.Logf("admitted %d of %.0f allowed (%+.2f%%) in %v, %d unspent, %d calls, %d round trips (%.3f per admitted call), %d by failure mode",
		r.admitted, r.allowed, (float64(r.admitted)/r.allowed-1)*100, r.elapsed.Round(time.Millisecond), r.unspent, r.calls, r.trips, float64(r.trips)/float64(r.admitted), r.byFailure)
	for i, h := range r.health {
		if h.Errors > 0 {
			t.Logf("r%d: store health %+v", i, h)
		}
	}
	if r.byFailure != 0 {
		t.Errorf("%d calls admitted by failure mode with the store up", r.byFailure)
	}
	// Over by at most 1%. Under by at most 1%, plus the batches of the
	// Takes that overran their timeout (the server granted them, the
	// answer came too late: a loaded machine now and then), at most the
	// largest batch (a tenth of the limit) each.
	var timeouts uint64
	for _, h := range r.health {
		timeouts += h.Timeouts
	}
	lost := float64(timeouts) * 100
	if over := float64(r.admitted) - r.allowed; over > r.allowed/100 || -over > r.allowed/100+lost {
		t.Errorf("admitted %d, want %.0f, +1%%, -1%% - %.0f (%d timeouts)", r.admitted, r.allowed, lost, timeouts)
	}
	if r.trips*5 > r.admitted {
		t.Errorf("%d round trips for %d admitted calls, want at most 0.2 per admitted call", r.trips, r.admitted)
	}
}

// BenchmarkGlobalLimit runs eight replicas joined on one redis-server,
// each hammering one global limit of 1,000 calls/s (burst 1,000) through
// its GlobalLimiter for 5s, and reports what the fleet admitted against
// what the limit allows (admitted/limit: the rate over the time measured
// plus the burst, plus the tokens held at the start), and the round trips
// to Redis per admitted call.
func BenchmarkGlobalLimit(b *testing.B) {
	srv := redistest.Start(b)
	for b.Loop() {
		r := runGlobalLimit(b, srv, 8, fleet.Rate{Limit: 1000, Period: time.Second}, 200*time.Microsecond, 5*time.Second)
		b.ReportMetric(float64(r.admitted), "admitted")
		b.ReportMetric(float64(r.admitted)/r.allowed, "admitted/limit")
		b.ReportMetric(float64(r.calls), "calls")
		b.ReportMetric(float64(r.byFailure), "admitted-by-failure-mode")
		if r.admitted > 0 {
			b.ReportMetric(float64(r.trips)/float64(r.admitted), "roundtrips/admitted")
		}
		for i, h := range r.health {
			if h.Errors > 0 {
				b.Logf("r%d: store health %+v", i, h)
			}
		}
	}
}
