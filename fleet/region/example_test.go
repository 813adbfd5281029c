package region_test

import (
	"context"
	"fmt"
	"log"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/region"
)

// Each replica joins its region's fleet, then the region agent on top;
// traffic steering asks the region agent whether a guard is open
// elsewhere.
func ExampleJoin() {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:  "stripe",
		Match: []string{"payments.*"},
		// A third-party API: open everywhere when two regions see it down.
		Fleet: &core.FleetPolicy{Scope: core.FleetScopeGlobal, Regions: 2},
	}))
	if err != nil {
		log.Fatal(err)
	}
	store := fleet.NewMemoryStore() // this region's Redis or NATS in production
	fa, err := fleet.Join(reg, store, fleet.WithRegion("eu-west-1"))
	if err != nil {
		log.Fatal(err)
	}
	defer fa.Close()
	ra, err := region.Join(fa)
	if err != nil {
		log.Fatal(err)
	}
	defer ra.Close()

	if st, ok := ra.RegionState("payments.charge", "us-east-1"); ok && st.Open {
		fmt.Println("steer payments away from us-east-1")
	}
}

// One relay for every region: it copies each region's summary into the
// other regions' stores until ctx ends. For one relay per region, add
// region.RelayInto(own region).
func ExampleNewRelay() {
	eu, us, ap := fleet.NewMemoryStore(), fleet.NewMemoryStore(), fleet.NewMemoryStore()
	relay, err := region.NewRelay([]region.Source{
		{Region: "eu-west-1", Store: eu},
		{Region: "us-east-1", Store: us},
		{Region: "ap-south-1", Store: ap},
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a real relay runs until its process stops
	fmt.Println(relay.Run(ctx))
	// Output: context canceled
}

// A process that runs the relay names it to its region agent, whose Health
// (and admin's /health, and the region metrics) then covers the relay's
// links as well as the region's store.
func ExampleAgent_Health() {
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	eu, us := fleet.NewMemoryStore(), fleet.NewMemoryStore()
	relay, err := region.NewRelay([]region.Source{{Region: "eu-west-1", Store: eu}, {Region: "us-east-1", Store: us}})
	if err != nil {
		log.Fatal(err)
	}
	fa, err := fleet.Join(reg, eu, fleet.WithRegion("eu-west-1"))
	if err != nil {
		log.Fatal(err)
	}
	defer fa.Close()
	ra, err := region.Join(fa, region.WithRelay(relay))
	if err != nil {
		log.Fatal(err)
	}
	defer ra.Close()

	h := ra.Health()
	fmt.Println(h.Up(), h.Store.Region, len(h.Relay.Links))
	// Output: true eu-west-1 2
}
