package fleet_test

import (
	"context"
	"fmt"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/policy"
)

// Two replicas share their policy versions through the fleet's store: what
// one applies, the other makes live with Sync (Follow calls it on every
// hint and periodically).
func ExamplePolicyStore() {
	ctx := context.Background()
	store := fleet.NewMemoryStore() // fleet/redisstore or fleet/natsstore in production

	regA, _ := core.NewRegistry()
	regB, _ := core.NewRegistry()
	a, _ := policy.NewManager(ctx, regA, fleet.NewPolicyStore(store.Client()))
	b, _ := policy.NewManager(ctx, regB, fleet.NewPolicyStore(store.Client()))

	doc := core.Document{Policies: []core.Policy{{Name: "payments", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5}}}}
	res, err := a.Apply(ctx, doc, policy.Meta{Actor: "alice", Reason: "tighter payments"})
	if err != nil {
		fmt.Println(err)
		return
	}
	rec, changed, _ := b.Sync(ctx) // or: go fleet.NewPolicyStore(...).Follow(ctx, b, 0, nil)
	v, _ := regB.PolicyVersion()
	fmt.Println(res.Record.Version, rec.Version, changed, v)
	// Output: 1 1 true 1
}
