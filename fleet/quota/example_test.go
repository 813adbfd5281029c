package quota_test

import (
	"fmt"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/quota"
)

// Each process of a region runs a coordinator candidate and a limiter for
// the resource; the stores would be Redis or NATS in production.
func Example() {
	res := quota.Resource{
		Name:         "openai-tokens",
		Capacity:     1000, // calls a second, over every region
		SafeCapacity: 100,  // per region, while the root is out of reach
		LeaseTTL:     10 * time.Second,
		RefreshEvery: time.Second,
	}
	root, euWest := fleet.NewMemoryStore(), fleet.NewMemoryStore()

	coord, err := quota.NewCoordinator(res, root, euWest, "eu-west-1", "pod-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer coord.Close()
	lim, err := quota.NewLimiter(res, euWest, "pod-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer lim.Close()

	if lim.Allow() {
		fmt.Println("call the provider")
	}
	// Output: call the provider
}

func ExampleFairShare() {
	// Three regions asking 100, 200 and 900 calls a second of 1000, each
	// with a safe capacity of 100.
	fmt.Println(quota.FairShare(1000, []float64{100, 200, 900}, []float64{100, 100, 100}))
	// Output: [100 200 700]
}

func ExampleResource_Validate() {
	err := quota.Resource{Name: "openai-tokens", Capacity: 1000, SafeCapacity: 2000}.Validate()
	fmt.Println(err)
	// Output: quota: resource "openai-tokens": safeCapacity 2000: above capacity 1000
}
