package fleet_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// TestSlowProbeOutlivesLease: the fleet's probe hangs for 20s, far longer
// than the breaker's probe timeout (500ms) and the lease's TTL (probe
// timeout + 2 store timeouts + a heartbeat = 1.7s), while every replica
// keeps calling. No second probe starts anywhere in the fleet while the
// probe timeout of the one running has not fired: the lease is not
// stolen early.
//
// What happens after is the core breaker's rule, not the fleet's: a probe
// with no answer after ProbeTimeout counts as failed and its slot is
// freed, so the guard reopens, half-opens again one open period later and
// admits (under a new lease) a new probe while the hung one still runs.
// The test logs how many hung probes pile up at the dependency (one per
// half-open period while they hang); a single replica alone does the same.
func TestSlowProbeOutlivesLease(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, &core.FleetPolicy{Adopt: core.FleetAdoptAny})
		rs := f.joinN(4)
		settle(100 * time.Millisecond)
		rs[0].trip(t)
		settle(200 * time.Millisecond)
		for i, s := range states(rs) {
			if s != breaker.Open {
				t.Fatalf("replica %d is %s, want open", i, s)
			}
		}
		var inflight, maxInflight, probes atomic.Int32
		var smu sync.Mutex
		var starts []time.Time
		dep := func(ctx context.Context) error {
			smu.Lock()
			starts = append(starts, time.Now())
			smu.Unlock()
			n := inflight.Add(1)
			probes.Add(1)
			for {
				m := maxInflight.Load()
				if n <= m || maxInflight.CompareAndSwap(m, n) {
					break
				}
			}
			defer inflight.Add(-1)
			select {
			case <-time.After(20 * time.Second):
			case <-ctx.Done():
			}
			return errDown
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, r := range rs {
			for range 3 {
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						_ = r.guard.Do(context.Background(), dep)
						time.Sleep(10 * time.Millisecond)
					}
				})
			}
		}
		settle(60 * time.Second)
		close(stop)
		wg.Wait()
		t.Logf("%d probes reached the dependency in 60s; at most %d at once", probes.Load(), maxInflight.Load())
		const probeTimeout = 500 * time.Millisecond
		for i := 1; i < len(starts); i++ {
			if gap := starts[i].Sub(starts[i-1]); gap <= probeTimeout {
				t.Errorf("probes %d and %d started %v apart, within the probe timeout (%v) of the first: the lease was taken while its probe had not timed out", i-1, i, gap, probeTimeout)
			}
		}
		if probes.Load() == 0 {
			t.Errorf("no probe in 60s")
		}
	})
}
