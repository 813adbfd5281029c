package natsstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// replicaSet is n registries joined to one fleet over NATS, each through
// its own connection (through a proxy of its own, to partition it).
type replicaSet struct {
	regs    []*core.Registry
	agents  []*fleet.Agent
	proxies []*proxy
}

func joinReplicas(t *testing.T, url string, n int) *replicaSet {
	t.Helper()
	policy := core.Policy{
		Name: "dep", Match: []string{"dep", "other"},
		Breaker: &core.BreakerPolicy{MinCalls: 2, WindowSize: 4, FailureRate: 50, OpenDuration: core.Duration(time.Hour)},
	}
	rs := &replicaSet{}
	for i := range n {
		p := startProxy(t, strings.TrimPrefix(url, "nats://"))
		_, js := connect(t, p.url())
		s := newStore(t, js)
		reg, err := core.NewRegistry(core.WithPolicies(policy))
		if err != nil {
			t.Fatal(err)
		}
		reg.MustGuard("dep")
		reg.MustGuard("other")
		a, err := fleet.Join(reg, s, fleet.WithReplicaID(fmt.Sprintf("r%d", i)),
			fleet.WithHeartbeat(time.Second), fleet.WithReconcileEvery(2*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close() })
		rs.regs, rs.agents, rs.proxies = append(rs.regs, reg), append(rs.agents, a), append(rs.proxies, p)
	}
	for i, a := range rs.agents {
		eventually(t, fmt.Sprintf("r%d sees %d members", i, n), func() bool { return len(a.Snapshot().Members) == n })
	}
	return rs
}

// trip makes replica i's guard open on its own evidence.
func (rs *replicaSet) trip(t *testing.T, i int, guard string) {
	t.Helper()
	g := rs.regs[i].MustGuard(guard)
	for range 4 {
		_ = g.Do(context.Background(), func(context.Context) error { return errors.New("down") })
	}
	if st := g.Breaker().State(); st != breaker.Open {
		t.Fatalf("r%d's %s is %s after failures, want open", i, guard, st)
	}
}

func (rs *replicaSet) state(i int, guard string) breaker.State {
	return rs.regs[i].MustGuard(guard).Breaker().State()
}

// Eight replicas over NATS, the server restarted mid-run: once it is back,
// two replicas trip and every other one opens on their votes (quorum).
func TestJoinQuorumAcrossServerRestart(t *testing.T) {
	srv := startServer(t)
	rs := joinReplicas(t, srv.URL(), 8)

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	rs.trip(t, 0, "dep")
	rs.trip(t, 1, "dep")
	for i := range 8 {
		eventually(t, fmt.Sprintf("r%d's dep open", i), func() bool { return rs.state(i, "dep") == breaker.Open })
	}
	// One replica's trip alone is no quorum: "other" stays closed elsewhere.
	rs.trip(t, 2, "other")
	eventually(t, "r3 sees r2's vote on other", func() bool {
		for _, g := range rs.agents[3].Snapshot().Guards {
			if g.Guard == "other" && len(g.OpenVotes) == 1 {
				return true
			}
		}
		return false
	})
	for i := range 8 {
		if i != 2 && rs.state(i, "other") != breaker.Closed {
			t.Errorf("r%d's other is %s on one vote, want closed", i, rs.state(i, "other"))
		}
	}
}

// An operator action taken while a replica is partitioned from NATS reaches
// it once the partition heals.
func TestJoinOverrideReachesPartitionedReplica(t *testing.T) {
	srv := startServer(t)
	rs := joinReplicas(t, srv.URL(), 3)

	rs.proxies[2].partition()
	ctx := ctxT(t)
	if _, err := rs.agents[0].Act(ctx, fleet.Override{Target: "other", Action: fleet.ActionForceOpen, Actor: "oncall", Reason: "provider maintenance"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "r1 forced open", func() bool { return rs.state(1, "other") == breaker.ForcedOpen })
	if st := rs.state(2, "other"); st != breaker.Closed {
		t.Fatalf("partitioned r2's other is %s, want closed until it heals", st)
	}
	rs.proxies[2].heal()
	eventually(t, "r2 forced open after healing", func() bool { return rs.state(2, "other") == breaker.ForcedOpen })
}
