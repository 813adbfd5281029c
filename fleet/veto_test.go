package fleet_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// A probe veto refuses the probes of a half-open guard, even with a local
// rule, until it is removed.
func TestProbeVeto(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "p", Match: []string{"*"},
			Breaker: &core.BreakerPolicy{Window: "count", WindowSize: 10, MinCalls: 2, FailureRate: 50, OpenDuration: core.Duration(time.Second), OpenBackoff: 1},
			Fleet:   &core.FleetPolicy{Adopt: core.FleetAdoptLocal}}))
		if err != nil {
			t.Fatal(err)
		}
		g := reg.MustGuard("x")
		a, err := fleet.Join(reg, fleet.NewMemoryStore(), fleet.WithReplicaID("r1"))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		var veto bool
		remove := a.AddProbeVeto(func(g *core.Guard) bool { return veto && g.Name() == "x" })
		_ = a.AddProbeVeto(nil)
		veto = true
		for range 2 {
			_ = g.Do(context.Background(), func(context.Context) error { return errors.New("down") })
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if s := g.Breaker().State(); s != breaker.HalfOpen {
			t.Fatalf("state %s, want half-open", s)
		}
		if err := g.Do(context.Background(), func(context.Context) error { return nil }); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("vetoed probe: %v, want ErrOpen", err)
		}
		remove()
		remove()
		if err := g.Do(context.Background(), func(context.Context) error { return nil }); err != nil {
			t.Fatalf("probe after the veto was removed: %v", err)
		}
		if s := g.Breaker().State(); s != breaker.Closed {
			t.Fatalf("state %s after a successful probe, want closed", s)
		}
	})
}
