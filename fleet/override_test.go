package fleet_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// payPolicy tags every guard named pay-* "payments".
var payPolicy = core.Policy{Name: "pay", Match: []string{"pay-*"}, Tags: []string{"payments"}}

// TestOverridesApplyToGuardsCreatedLater: a guard created after an
// operator's action, under its tag or "all", takes the action in force
// within one heartbeat (the agent's scan of the registry), on the replica
// that acted and on the others; after a release, new guards are left
// alone.
func TestOverridesApplyToGuardsCreatedLater(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, nil)
		f.policy = payPolicy
		rs := f.joinN(2) // each with the guard "dep", not tagged payments here
		settle(100 * time.Millisecond)
		if _, err := rs[0].agent.Act(context.Background(), fleet.Override{Target: "tag:payments", Action: fleet.ActionForceOpen, Actor: "alice", Reason: "incident 7"}); err != nil {
			t.Fatal(err)
		}
		settle(100 * time.Millisecond)
		for _, r := range rs {
			g := r.reg.MustGuard("pay-charge") // created after the action
			settle(1100 * time.Millisecond)    // one heartbeat
			s := g.Breaker().Snapshot()
			if s.State != breaker.ForcedOpen || s.LastTransition.Actor != "fleet:alice" || s.LastTransition.Reason != "incident 7" {
				t.Fatalf("%s: pay-charge created after the force-open is %s by %q (%q), want forced-open by fleet:alice", r.id, s.State, s.LastTransition.Actor, s.LastTransition.Reason)
			}
			if s := r.guard.Breaker().State(); s != breaker.Closed {
				t.Fatalf("%s: dep (not tagged) is %s, want closed", r.id, s)
			}
		}
		// Released: a guard created now is left alone.
		if _, err := rs[1].agent.Act(context.Background(), fleet.Override{Target: "tag:payments", Action: fleet.ActionRelease, Actor: "bob"}); err != nil {
			t.Fatal(err)
		}
		settle(100 * time.Millisecond)
		g := rs[0].reg.MustGuard("pay-refund")
		settle(1100 * time.Millisecond)
		if s := g.Breaker().State(); s != breaker.Closed {
			t.Fatalf("pay-refund created after the release is %s, want closed", s)
		}
		// "all", and the newest action on a guard's targets wins.
		if _, err := rs[1].agent.Act(context.Background(), fleet.Override{Target: "all", Action: fleet.ActionDisable, Actor: "carol"}); err != nil {
			t.Fatal(err)
		}
		settle(100 * time.Millisecond)
		for _, r := range rs {
			g := r.reg.MustGuard("late")
			settle(1100 * time.Millisecond)
			if s := g.Breaker().Snapshot(); s.State != breaker.Disabled || s.LastTransition.Actor != "fleet:carol" {
				t.Fatalf("%s: late created after disable all is %s by %q, want disabled by fleet:carol", r.id, s.State, s.LastTransition.Actor)
			}
		}
		// A replica that joins now, with its guards made after Join, gets
		// them too (at its first reconcile).
		late := f.join("r9")
		g = late.reg.MustGuard("pay-late")
		settle(1100 * time.Millisecond)
		if s := g.Breaker().State(); s != breaker.Disabled {
			t.Fatalf("r9: pay-late is %s, want disabled (all, the newest)", s)
		}
	})
}

// TestConcurrentActsNewestWins: Acts on one target racing with each other
// (and with the loop applying the others' hints) leave every replica in
// the state of the newest version. Run with -race.
func TestConcurrentActsNewestWins(t *testing.T) {
	f := newFleet(t, nil)
	rs := f.joinN(2)
	actions := []fleet.Action{fleet.ActionForceOpen, fleet.ActionDisable, fleet.ActionMetricsOnly}
	want := map[fleet.Action]breaker.State{fleet.ActionForceOpen: breaker.ForcedOpen, fleet.ActionDisable: breaker.Disabled, fleet.ActionMetricsOnly: breaker.MetricsOnly}
	for round := range 30 {
		var mu sync.Mutex
		var done []fleet.Override
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				o, err := rs[i%2].agent.Act(context.Background(), fleet.Override{Target: "dep", Action: actions[(round+i)%3], Actor: fmt.Sprintf("op%d", i)})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				done = append(done, o)
				mu.Unlock()
			})
		}
		wg.Wait()
		newest := slices.MaxFunc(done, func(x, y fleet.Override) int { return int(x.Version) - int(y.Version) })
		// The replica whose Act took the newest version applied it before
		// returning; the other applies it from the store's hint.
		actor := rs[0]
		if newest.By == rs[1].id {
			actor = rs[1]
		}
		if s := actor.guard.Breaker().State(); s != want[newest.Action] {
			t.Fatalf("round %d: %s took v%d (%s) and is %s", round, actor.id, newest.Version, newest.Action, s)
		}
		deadline := time.Now().Add(5 * time.Second)
		for _, r := range rs {
			for r.guard.Breaker().State() != want[newest.Action] {
				if time.Now().After(deadline) {
					t.Fatalf("round %d: %s is %s, want %s (v%d)", round, r.id, r.guard.Breaker().State(), want[newest.Action], newest.Version)
				}
				time.Sleep(time.Millisecond)
			}
		}
	}
}
