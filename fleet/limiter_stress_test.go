package fleet_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
)

// TestManyLimitersCloseCleanly: a replica with 5,000 global limiters
// (one a tenant, say) answers Allow on each at once and, after Close,
// leaves none of their goroutines behind.
func TestManyLimitersCloseCleanly(t *testing.T) {
	base := runtime.NumGoroutine()
	reg, _ := core.NewRegistry()
	a, err := fleet.Join(reg, fleet.NewMemoryStore(), fleet.WithReplicaID("r0"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	start := time.Now()
	ls := make([]*fleet.GlobalLimiter, n)
	for i := range ls {
		ls[i] = a.Limiter(fmt.Sprintf("tenant-%d", i), fleet.Rate{Limit: 10, Period: time.Second})
	}
	for _, l := range ls {
		_ = l.Allow()
	}
	t.Logf("%d limiters made and asked in %v; %d goroutines (%d before)", n, time.Since(start), runtime.NumGoroutine(), base)
	start = time.Now()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("Close took %v", time.Since(start))
	for deadline := time.Now().Add(10 * time.Second); runtime.NumGoroutine() > base; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before Join", runtime.NumGoroutine(), base)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, l := range ls[:10] {
		_ = l.Allow() // after Close: no panic, no block
	}
}
