package quota_test

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/quota"
)

func TestSetStats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := quota.Resource{Name: "openai", Capacity: 100, SafeCapacity: 10, RefreshEvery: time.Second}
		other := quota.Resource{Name: "maps", Capacity: 50, SafeCapacity: 5, RefreshEvery: time.Second}
		root, eu := fleet.NewMemoryStore(), fleet.NewMemoryStore()
		var set quota.Set
		if got := set.Stats(); len(got) != 0 {
			t.Fatalf("empty set: %+v", got)
		}
		c, err := quota.NewCoordinator(res, root, eu, "eu", "pod-1")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		l, err := quota.NewLimiter(res, eu, "pod-1")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		l2, err := quota.NewLimiter(other, eu, "pod-1")
		if err != nil {
			t.Fatal(err)
		}
		defer l2.Close()
		set.AddCoordinator(c)
		set.AddLimiter(l)
		set.AddLimiter(l2)
		set.AddLimiter(nil)
		set.AddCoordinator(nil)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		l.Allow()
		got := set.Stats()
		if len(got) != 2 || got[0].Resource != "maps" || got[1].Resource != "openai" {
			t.Fatalf("%+v", got)
		}
		if got[0].Coordinator != nil || got[0].Limiter == nil || got[0].Capacity != 50 {
			t.Fatalf("maps: %+v", got[0])
		}
		o := got[1]
		if o.Coordinator == nil || !o.Coordinator.Region || o.Region != "eu" || o.Replica != "pod-1" || o.Limiter == nil || o.Limiter.Allowed != 1 {
			t.Fatalf("openai: %+v coordinator %+v limiter %+v", o, o.Coordinator, o.Limiter)
		}
	})
}

// A Set gathers a process's coordinators and limiters for the admin API
// (admin.WithQuotas) and breakerctl quotas.
func ExampleSet() {
	res := quota.Resource{Name: "openai-tokens", Capacity: 1000, SafeCapacity: 100}
	root, euWest := fleet.NewMemoryStore(), fleet.NewMemoryStore()
	coord, _ := quota.NewCoordinator(res, root, euWest, "eu-west-1", "pod-1")
	defer coord.Close()
	lim, _ := quota.NewLimiter(res, euWest, "pod-1")
	defer lim.Close()

	var quotas quota.Set
	quotas.AddCoordinator(coord)
	quotas.AddLimiter(lim)
	for _, r := range quotas.Stats() {
		fmt.Println(r.Resource, r.Capacity, r.Region, r.Coordinator != nil, r.Limiter != nil)
	}
	// Output: openai-tokens 1000 eu-west-1 true true
}
