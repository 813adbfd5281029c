package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/faultproxy"
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
