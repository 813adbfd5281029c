package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/faultproxy"
	"github.com/breakerbox/breakerbox/fleet/fleettest"
	"github.com/breakerbox/breakerbox/fleet/redisstore"
	"github.com/breakerbox/breakerbox/fleet/redisstore/internal/redistest"
)

var errDown = errors.New("dependency down")

// depPolicy trips on 2 failures of 2 calls and stays open for open.
func depPolicy(open time.Duration) core.Policy {
	return core.Policy{
		Name:  "dep",
		Match: []string{"dep"},
		Tags:  []string{"payments"},
		Breaker: &core.BreakerPolicy{
			Window: "count", WindowSize: 10, MinCalls: 2, FailureRate: 50,
			OpenDuration: core.Duration(open), OpenBackoff: 1, ProbeTimeout: core.Duration(time.Second),
		},
	}
}

// member is one replica of a fleet on Redis: a registry joined through a
// store whose client dials Redis through a fault proxy of its own.
type member struct {
	id    string
	guard *core.Guard
	agent *fleet.Agent
	store *redisstore.Store
	proxy *faultproxy.Proxy
}

// joinRedis starts n replicas of one fleet on srv.
func joinRedis(t testing.TB, srv *redistest.Server, n int, open time.Duration, opts ...fleet.Option) []*member {
	t.Helper()
	prefix := newPrefix(t)
	ms := make([]*member, n)
	for i := range ms {
		p, err := faultproxy.New(srv.Addr)
		if err != nil {
			t.Fatal(err)
		}
		client := redis.NewClient(&redis.Options{Addr: p.Addr(), ContextTimeoutEnabled: true})
		s, err := redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithPingEvery(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		reg, err := core.NewRegistry(core.WithPolicies(depPolicy(open)))
		if err != nil {
			t.Fatal(err)
		}
		id := fmt.Sprintf("r%d", i)
		o := append([]fleet.Option{fleet.WithReplicaID(id), fleet.WithHeartbeat(200 * time.Millisecond), fleet.WithReconcileEvery(time.Second)}, opts...)
		a, err := fleet.Join(reg, s, o...)
		if err != nil {
			t.Fatal(err)
		}
		ms[i] = &member{id: id, guard: reg.MustGuard("dep"), agent: a, store: s, proxy: p}
		t.Cleanup(func() { a.Close(); s.Close(); client.Close(); p.Close() })
	}
	return ms
}

func (m *member) trip(t testing.TB) {
	t.Helper()
	for range 2 {
		_ = m.guard.Do(context.Background(), func(context.Context) error { return errDown })
	}
	if s := m.guard.Breaker().State(); s != breaker.Open {
		t.Fatalf("%s: after 2 failures the guard is %s, want open", m.id, s)
	}
}

// TestJoinOnRedis runs eight registries as eight replicas of one fleet on
// a real redis-server: the quorum opens every replica, an operator action
// taken while a replica is partitioned reaches it when it heals, and a
// foreign value in the store is counted, not trusted.
func TestJoinOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	rs := joinRedis(t, srv, 8, time.Minute)
	redistest.WaitFor(t, "every replica to see 8 members", 20*time.Second, func() bool {
		for _, r := range rs {
			if len(r.agent.Snapshot().Members) != 8 {
				return false
			}
		}
		return true
	})

	// One sick replica does not open the fleet; two do.
	rs[0].trip(t)
	rs[1].trip(t)
	redistest.WaitFor(t, "the quorum to open every replica", 20*time.Second, func() bool {
		for _, r := range rs[2:] {
			s := r.guard.Breaker().Snapshot()
			if s.State != breaker.Open || s.LastTransition.Actor != fleet.ActorFleet {
				return false
			}
		}
		return true
	})

	// An operator action while r7 is partitioned from Redis.
	rs[7].proxy.Partition()
	if _, err := rs[2].agent.Act(context.Background(), fleet.Override{Target: "tag:payments", Action: fleet.ActionDisable, Actor: "alice", Reason: "incident 42"}); err != nil {
		t.Fatal(err)
	}
	redistest.WaitFor(t, "the action to reach the connected replicas", 20*time.Second, func() bool {
		for _, r := range rs[:7] {
			if r.guard.Breaker().State() != breaker.Disabled {
				return false
			}
		}
		return true
	})
	if s := rs[7].guard.Breaker().State(); s == breaker.Disabled {
		t.Fatal("the partitioned replica applied the action before healing")
	}
	if h := rs[7].agent.Health(); h.Up {
		t.Logf("r7's store health while partitioned: %+v", h)
	}
	if err := rs[7].proxy.Heal(); err != nil {
		t.Fatal(err)
	}
	redistest.WaitFor(t, "the action to reach the healed replica", 20*time.Second, func() bool {
		s := rs[7].guard.Breaker().Snapshot()
		return s.State == breaker.Disabled && s.LastTransition.Actor == "fleet:alice"
	})

	// Foreign values: a vote overwritten by another program, and a vote of
	// an unknown protocol version.
	raw := srv.Client()
	ctx := context.Background()
	before := rs[3].agent.Health().Malformed
	if err := rs[0].store.Put(ctx, fleet.KindVerdict, "dep@intruder", []byte(`{"v":99,"kind":"verdict","data":{}}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := rs[0].store.Put(ctx, fleet.KindVerdict, "dep@garbage", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := raw.Set(ctx, rs[0].store.Key(fleet.KindVerdict, "dep@garbage"), "\xff\xfe not a value", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	redistest.WaitFor(t, "the foreign values to be counted", 20*time.Second, func() bool {
		return rs[3].agent.Health().Malformed >= before+2
	})
	if s := rs[3].guard.Breaker().State(); s != breaker.Disabled {
		t.Fatalf("a foreign value changed r3's guard to %s", s)
	}
}

// BenchmarkConvergence measures, on a real redis-server on loopback, the
// time from the second open vote (the quorum of 2 reached) to the third of
// three replicas rejecting calls, over at least 200 trips; it reports the
// p50 and p99 in milliseconds. Between trips every guard is reset and the
// votes are seen withdrawn.
func BenchmarkConvergence(b *testing.B) {
	srv := redistest.Start(b)
	rs := joinRedis(b, srv, 3, time.Minute)
	redistest.WaitFor(b, "every replica to see 3 members", 20*time.Second, func() bool {
		for _, r := range rs {
			if len(r.agent.Snapshot().Members) != 3 {
				return false
			}
		}
		return true
	})
	votes := func(r *member) int {
		n := 0
		for _, g := range r.agent.Snapshot().Guards {
			n += len(g.OpenVotes)
		}
		return n
	}
	reset := breaker.Manual{Actor: "bench", Reason: "next trip"}
	trips := max(b.N, 200)
	samples := make([]time.Duration, 0, trips)
	b.ResetTimer()
	for range trips {
		b.StopTimer()
		rs[0].trip(b)
		redistest.WaitFor(b, "r2 to see the first vote", 10*time.Second, func() bool { return votes(rs[2]) == 1 })
		b.StartTimer()
		start := time.Now()
		rs[1].trip(b) // the second open vote: the quorum
		for rs[2].guard.Breaker().State() == breaker.Closed {
			if time.Since(start) > 10*time.Second {
				b.Fatal("r2 did not adopt the quorum's verdict within 10s")
			}
			time.Sleep(50 * time.Microsecond)
		}
		samples = append(samples, time.Since(start))
		b.StopTimer()
		rs[0].guard.Reset(reset)
		rs[1].guard.Reset(reset)
		redistest.WaitFor(b, "the votes to be withdrawn", 10*time.Second, func() bool { return votes(rs[2]) == 0 })
		rs[2].guard.Reset(reset)
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(samples)
	pct := func(p float64) float64 {
		return float64(samples[int(p*float64(len(samples)-1))]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(float64(len(samples)), "trips")
}

// BenchmarkGlobalLimit runs eight replicas joined on one redis-server,
// each hammering one global limit of 1,000 calls/s (burst 1,000) through
// its GlobalLimiter for 5 s, and reports what the fleet admitted against
// what the limit allows (5 s × 1,000/s plus the burst), and the round
// trips to Redis per admitted call.
func BenchmarkGlobalLimit(b *testing.B) {
	const (
		replicas = 8
		limit    = 1000
		window   = 5 * time.Second
	)
	srv := redistest.Start(b)
	for b.Loop() {
		b.StopTimer()
		rs := joinRedis(b, srv, replicas, time.Minute)
		rate := fleet.Rate{Limit: limit, Period: time.Second}
		ls := make([]*fleet.GlobalLimiter, replicas)
		for i, r := range rs {
			ls[i] = r.agent.Limiter("partner-api", rate)
		}
		redistest.WaitFor(b, "every limiter to reach the store", 20*time.Second, func() bool {
			for _, l := range ls {
				if l.Stats().Degraded {
					return false
				}
			}
			return true
		})
		before := make([]fleet.LimiterStats, replicas)
		for i, l := range ls {
			before[i] = l.Stats()
		}
		b.StartTimer()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, l := range ls {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					l.Allow()
					time.Sleep(200 * time.Microsecond)
				}
			})
		}
		time.Sleep(window)
		close(stop)
		wg.Wait()
		b.StopTimer()
		var admitted, byFailure, trips, calls uint64
		for i, l := range ls {
			s := l.Stats()
			admitted += s.Allowed - before[i].Allowed
			byFailure += s.AllowedByFailureMode - before[i].AllowedByFailureMode
			trips += s.RoundTrips - before[i].RoundTrips
			calls += s.Allowed + s.Rejected - before[i].Allowed - before[i].Rejected
		}
		allowed := float64(limit)*window.Seconds() + limit // the rate over the window plus one burst
		b.ReportMetric(float64(admitted), "admitted")
		b.ReportMetric(allowed, "allowed")
		b.ReportMetric((float64(admitted)-allowed)/allowed*100, "excess-%")
		b.ReportMetric(float64(calls), "calls")
		b.ReportMetric(float64(byFailure), "admitted-by-failure-mode")
		if admitted > 0 {
			b.ReportMetric(float64(trips)/float64(admitted), "roundtrips/admitted")
		}
		for _, r := range rs {
			if h := r.agent.Health(); h.LastError != "" {
				b.Logf("%s: store health %+v", r.id, h)
			}
			r.agent.Close()
		}
		b.StartTimer()
	}
}

// BenchmarkConvergence8 is fleettest's convergence benchmark (eight
// replicas, the second open vote to all eight rejecting) on a real
// redis-server; run it with -benchtime=200x or more.
func BenchmarkConvergence8(b *testing.B) {
	srv := redistest.Start(b)
	prefix := newPrefix(b)
	fleettest.BenchmarkConvergence(b, func(b *testing.B) fleet.Store {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr, ContextTimeoutEnabled: true})
		b.Cleanup(func() { client.Close() })
		s, err := redisstore.New(client, redisstore.WithPrefix(prefix))
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}
