package redisstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/fleet/redisstore/internal/redistest"
)

// TestOneProbePerHalfOpenPeriodOnRedis: eight replicas of one fleet on a
// real redis-server call a dependency that stays down; over 100 half-open
// periods exactly one probe per period reaches it — no two probes come
// closer than one open period apart (the failed probe's lease holds the
// rest of the fleet open for the holder's open duration, on Redis's clock).
// A count of probes and their order, not a timing of the fleet: the bound
// is the open duration each replica waits whatever the machine's load.
func TestOneProbePerHalfOpenPeriodOnRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("100 half-open periods of real time")
	}
	const open = 100 * time.Millisecond
	srv := redistest.Start(t)
	rs := joinRedis(t, srv, 8, open)
	redistest.WaitFor(t, "every replica to see 8 members", 20*time.Second, func() bool {
		for _, r := range rs {
			if len(r.agent.Snapshot().Members) != 8 {
				return false
			}
		}
		return true
	})

	var mu sync.Mutex
	var probes []time.Time
	var counting atomic.Bool
	dep := func(context.Context) error {
		if counting.Load() {
			mu.Lock()
			probes = append(probes, time.Now())
			mu.Unlock()
		}
		return errDown
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(func() {
			for ctx.Err() == nil {
				_ = r.guard.Do(ctx, dep)
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	redistest.WaitFor(t, "every replica to open", 20*time.Second, func() bool {
		for _, r := range rs {
			if r.guard.Breaker().Snapshot().State.String() == "closed" {
				return false
			}
		}
		return true
	})
	counting.Store(true)
	const periods = 100
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(probes)
		mu.Unlock()
		if n > periods {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(probes) <= periods {
		t.Fatalf("%d probes reached the dependency in two minutes, want more than %d (the fleet stopped probing)", len(probes), periods)
	}
	// Redis rounds TTLs to the millisecond: allow 2ms.
	for i := 1; i < len(probes); i++ {
		if gap := probes[i].Sub(probes[i-1]); gap < open-2*time.Millisecond {
			t.Fatalf("probes %d and %d reached the dependency %s apart, within one open period (%s): two probes in one half-open period", i-1, i, gap, open)
		}
	}
	first, last := probes[0], probes[len(probes)-1]
	t.Logf("%d probes over %s (one per %s on average)", len(probes), last.Sub(first).Round(time.Millisecond), (last.Sub(first) / time.Duration(len(probes)-1)).Round(time.Millisecond))
}
