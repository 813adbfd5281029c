package core_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// A guard with custom states (docs/custom-states.md): three failures in a
// row put it in readOnly, which admits only calls marked read; an operator
// can move it by hand.
func ExampleMachinePolicy() {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:    "inventory",
		Match:   []string{"inventory.*"},
		Breaker: &core.BreakerPolicy{Mode: "disabled"}, // only the machine decides
		Machine: &core.MachinePolicy{
			Initial: "healthy",
			States: []core.MachineState{
				{Name: "healthy"},
				{Name: "readOnly", Admit: "readOnly"},
				{Name: "maintenance", Admit: "none", Manual: true},
			},
			Transitions: []core.MachineTransition{
				{From: "healthy", To: "readOnly", When: core.MachineCondition{ConsecutiveFailures: 3}},
				{From: "readOnly", To: "healthy", When: core.MachineCondition{After: core.Duration(time.Minute)}},
			},
		},
	}))
	if err != nil {
		log.Fatal(err)
	}
	g := reg.MustGuard("inventory.stock")
	ctx := context.Background()
	for range 3 {
		_ = g.Do(ctx, func(context.Context) error { return errors.New("timeout") })
	}
	fmt.Println(g.Snapshot().Machine.State)

	err = g.Do(ctx, func(context.Context) error { return nil }) // a write
	fmt.Println(errors.Is(err, core.ErrMachineState), err)
	err = g.Do(core.WithReadOnly(ctx), func(context.Context) error { return nil }) // a read
	fmt.Println(err)

	c, _ := g.SetMachineState("maintenance", breaker.Manual{Actor: "ops", Reason: "db upgrade"})
	fmt.Println(c.From, "->", c.To)
	// Output:
	// readOnly
	// true breakerbox: guard "inventory.stock" rejected the call: state:readOnly
	// <nil>
	// readOnly -> maintenance
}
