package chaos_test

import (
	"fmt"
	"time"

	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
)

// Experiments written in the policy document start and stop with it; an
// observer (the admin API's audit log, say) sees each change.
func ExampleInjector_ObservePolicy() {
	inj, _ := chaos.New(chaos.Config{MaxGuards: 1})
	reg, _ := core.NewRegistry(core.WithChaos(inj))
	reg.MustGuard("search")
	inj.ObservePolicy(func(c chaos.PolicyChange) {
		fmt.Println(c.Op, c.Experiment.ID, "by", c.Actor, "in version", c.Version)
	})
	doc := core.Document{Policies: []core.Policy{{Name: "search"}}, Chaos: []core.ChaosExperiment{{
		ID: "slow-search", Fault: "latency", Rate: 0.1, Latency: core.Duration(50 * time.Millisecond), Guards: []string{"search"}, Duration: core.Duration(10 * time.Minute),
	}}}
	_, _ = reg.Apply(doc, core.AppliedBy("carol"))
	doc.Chaos = nil
	_, _ = reg.Apply(doc, core.AppliedBy("carol"))
	// Output:
	// start slow-search by carol in version 1
	// stop slow-search by carol in version 2
}
