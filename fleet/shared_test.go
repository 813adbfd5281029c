package fleet_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// TestSharedWindow: four replicas each see 3 failures, under a MinCalls
// of 10 that none reaches alone; summed, the fleet's 12 calls trip it.
func TestSharedWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, &core.FleetPolicy{Adopt: core.FleetAdoptLocal, SharedWindow: true})
		f.policy.Breaker.MinCalls = 10
		f.policy.Breaker.OpenDuration = core.Duration(time.Minute)
		rs := f.joinN(4)
		settle(100 * time.Millisecond)
		fail := func(r *replica) {
			for range 3 {
				_ = r.guard.Do(context.Background(), func(context.Context) error { return errDown })
			}
		}
		fail(rs[0])
		fail(rs[1])
		settle(3 * time.Second)
		for i, s := range states(rs) {
			if s != breaker.Closed {
				t.Fatalf("6 failures across the fleet, MinCalls 10: replica %d is %s, want closed", i, s)
			}
		}
		fail(rs[2])
		fail(rs[3])
		settle(3 * time.Second)
		for i, r := range rs {
			s := r.guard.Breaker().Snapshot()
			if s.State != breaker.Open || !strings.HasPrefix(s.LastTransition.Reason, "fleet: shared window: failure rate 100% >= 50% over 12 calls") {
				t.Fatalf("12 failures across the fleet: replica %d is %s (%q), want open by the shared window", i, s.State, s.LastTransition.Reason)
			}
		}
	})
}
