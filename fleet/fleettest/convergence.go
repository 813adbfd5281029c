package fleettest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// BenchmarkConvergence measures, over b.N trips, the time from a quorum
// of open votes being reached (the second of eight replicas tripping on its
// own evidence) to every replica rejecting calls, and reports its p50 and
// p99 ("p50-ms", "p99-ms"). Each replica is a registry joined to its own
// client from newStore. Run it with -benchtime=200x or more:
//
//	func BenchmarkConvergence(b *testing.B) { fleettest.BenchmarkConvergence(b, newClient) }
func BenchmarkConvergence(b *testing.B, newStore func(b *testing.B) fleet.Store) {
	const n = 8
	policy := core.Policy{
		Name: "dep", Match: []string{"dep"},
		Breaker: &core.BreakerPolicy{MinCalls: 1, FailureRate: 50, OpenDuration: core.Duration(time.Hour)},
	}
	type replica struct {
		g      *core.Guard
		agent  *fleet.Agent
		opened chan struct{}
	}
	rs := make([]*replica, n)
	for i := range rs {
		reg, err := core.NewRegistry(core.WithPolicies(policy))
		if err != nil {
			b.Fatal(err)
		}
		r := &replica{opened: make(chan struct{}, 1)}
		reg.AddHooks(core.Hooks{OnStateChange: func(_ context.Context, e core.StateChange) {
			if e.To == breaker.Open {
				select {
				case r.opened <- struct{}{}:
				default:
				}
			}
		}})
		s := newStore(b)
		b.Cleanup(func() { _ = s.Close() })
		r.agent, err = fleet.Join(reg, s, fleet.WithReplicaID(fmt.Sprintf("bench-%d", i)), fleet.WithHeartbeat(time.Second))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = r.agent.Close() })
		r.g = reg.MustGuard("dep")
		rs[i] = r
	}
	waitMembers := time.Now().Add(10 * time.Second)
	for len(rs[n-1].agent.Snapshot().Members) < n && time.Now().Before(waitMembers) {
		time.Sleep(10 * time.Millisecond)
	}
	down := errors.New("down")
	ctx := context.Background()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		for _, r := range rs {
			select {
			case <-r.opened:
			default:
			}
		}
		_ = rs[0].g.Do(ctx, func(context.Context) error { return down })
		_ = rs[1].g.Do(ctx, func(context.Context) error { return down })
		start := time.Now()
		deadline := time.After(30 * time.Second)
		for _, r := range rs[2:] {
			select {
			case <-r.opened:
			case <-deadline:
				b.Fatalf("a replica did not adopt the quorum's verdict within 30s")
			}
		}
		lat = append(lat, time.Since(start))
		b.StopTimer()
		// Back to closed everywhere, votes withdrawn, before the next trip.
		for _, r := range rs {
			r.g.Reset(breaker.Manual{Actor: "bench"})
		}
		withdrawn := time.Now().Add(30 * time.Second)
		for time.Now().Before(withdrawn) {
			if slices.IndexFunc(rs, func(r *replica) bool {
				gs := r.agent.Snapshot().Guards
				return len(gs) > 0 && len(gs[0].OpenVotes) > 0
			}) < 0 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		for _, r := range rs { // the adoptions the reset raced with
			if r.g.Breaker().State() != breaker.Closed {
				r.g.Reset(breaker.Manual{Actor: "bench"})
			}
		}
		b.StartTimer()
	}
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(int(p*float64(len(lat))), len(lat)-1)]) / float64(time.Millisecond)
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
