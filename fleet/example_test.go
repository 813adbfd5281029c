package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
)

// Two replicas share a store (here in memory; fleet/redisstore or
// fleet/natsstore in production). The guard's policy says the fleet opens
// it on any replica's vote, so when one replica's guard trips on its own
// evidence, the other opens too, without a call of its own failing.
func Example() {
	store := fleet.NewMemoryStore()
	policy := core.Policy{
		Name: "payments", Match: []string{"payments"},
		Breaker: &core.BreakerPolicy{MinCalls: 2, OpenDuration: core.Duration(time.Minute)},
		Fleet:   &core.FleetPolicy{Adopt: core.FleetAdoptAny},
	}
	var regs [2]*core.Registry
	for i := range regs {
		regs[i], _ = core.NewRegistry(core.WithPolicies(policy))
		a, err := fleet.Join(regs[i], store.Client(), fleet.WithReplicaID(fmt.Sprintf("web-%d", i)))
		if err != nil {
			panic(err)
		}
		defer a.Close()
		regs[i].MustGuard("payments")
	}

	down := errors.New("payments down")
	g0 := regs[0].MustGuard("payments")
	for range 2 {
		_ = g0.Do(context.Background(), func(context.Context) error { return down })
	}

	g1 := regs[1].MustGuard("payments")
	for g1.Breaker().State().String() != "open" {
		time.Sleep(time.Millisecond) // the vote travels through the store
	}
	t := g1.Breaker().Snapshot().LastTransition
	fmt.Printf("web-1: %s by %s: %s\n", t.To, t.Actor, t.Reason)
	// Output:
	// web-1: open by fleet: fleet: 1 of 2 replicas open
}

// An operator forces a guard open on every replica with one action; a
// replica that joins later applies it too.
func ExampleAgent_Act() {
	store := fleet.NewMemoryStore()
	reg, _ := core.NewRegistry()
	reg.MustGuard("payments")
	a, _ := fleet.Join(reg, store.Client(), fleet.WithReplicaID("web-0"))
	defer a.Close()

	o, err := a.Act(context.Background(), fleet.Override{Target: "payments", Action: fleet.ActionForceOpen, Actor: "alice", Reason: "provider incident"})
	if err != nil {
		panic(err)
	}
	fmt.Println("version", o.Version, "by", o.By)

	late, _ := core.NewRegistry()
	g := late.MustGuard("payments")
	b, _ := fleet.Join(late, store.Client(), fleet.WithReplicaID("web-1"))
	defer b.Close()
	for g.Breaker().State().String() != "forced-open" {
		time.Sleep(time.Millisecond) // the first reconcile, right after Join
	}
	t := g.Breaker().Snapshot().LastTransition
	fmt.Printf("web-1: %s by %s: %s\n", t.To, t.Actor, t.Reason)
	// Output:
	// version 1 by web-0
	// web-1: forced-open by fleet:alice: provider incident
}

// A global limit of 100 calls a second shared by every replica: Allow
// spends tokens prefetched from the store and never waits for it.
func ExampleAgent_Limiter() {
	reg, _ := core.NewRegistry()
	a, _ := fleet.Join(reg, fleet.NewMemoryStore(), fleet.WithReplicaID("web-0"))
	defer a.Close()
	l := a.Limiter("checkout", fleet.Rate{Limit: 100, Period: time.Second})
	for l.Stats().Tokens == 0 {
		time.Sleep(time.Millisecond) // the first prefetch
	}
	fmt.Println(l.Allow())
	// Output: true
}

// A probe veto keeps a half-open guard from probing while some condition
// holds (package fleet/region uses one to hold a global open while enough
// regions report the dependency down).
func ExampleAgent_AddProbeVeto() {
	reg, _ := core.NewRegistry()
	a, err := fleet.Join(reg, fleet.NewMemoryStore())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Close()
	var maintenance atomic.Bool
	maintenance.Store(true)
	remove := a.AddProbeVeto(func(g *core.Guard) bool {
		return maintenance.Load() && g.Name() == "payments"
	})
	defer remove()
	fmt.Println("payments probes only after the maintenance")
	// Output: payments probes only after the maintenance
}
