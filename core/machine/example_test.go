package machine_test

import (
	"fmt"
	"time"

	"github.com/breakerbox/breakerbox/core/machine"
)

func Example() {
	g, err := machine.Compile(machine.Spec{
		Initial: "healthy",
		States: []machine.State{
			{Name: "healthy"},
			{Name: "degraded", Admit: machine.AdmitPercent, Percent: 50},
		},
		Transitions: []machine.Transition{
			{From: "healthy", To: "degraded", When: machine.Condition{FailureRateAtLeast: 0.5, MinCalls: 4}},
			{From: "degraded", To: "healthy", When: machine.Condition{After: 30 * time.Second}},
		},
	})
	if err != nil {
		panic(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	m := g.Start(at, func(c machine.Change) { fmt.Printf("%s -> %s: %s\n", c.From, c.To, c.Reason) })
	for i := range 4 {
		m.Record(at, i < 2, false)
	}
	var admitted []bool
	for range 4 {
		ok, _ := m.Allow(at, false)
		admitted = append(admitted, ok)
	}
	fmt.Println(admitted)
	m.Advance(at.Add(30 * time.Second))
	// Output:
	// healthy -> degraded: failureRate >= 0.5 and calls >= 4
	// [true false true false]
	// degraded -> healthy: after 30s
}

func ExampleCompile_refused() {
	_, err := machine.Compile(machine.Spec{
		Initial: "healthy",
		States:  []machine.State{{Name: "healthy"}, {Name: "degraded", Admit: machine.AdmitPercent, Percent: 50}},
		Transitions: []machine.Transition{
			{From: "healthy", To: "degraded", When: machine.Condition{ConsecutiveFailures: 5}},
		},
	})
	fmt.Println(err)
	// Output:
	// states[1].name: "degraded" has no way out: no transition leaves this state (mark it "manual" if only operators move it on)
}

func ExampleGraph_Mermaid() {
	g, _ := machine.Compile(machine.Spec{
		Initial:     "healthy",
		States:      []machine.State{{Name: "healthy"}, {Name: "readOnly", Admit: machine.AdmitReadOnly}},
		Transitions: []machine.Transition{{From: "healthy", To: "readOnly", When: machine.Condition{ConsecutiveFailures: 5}}, {From: "readOnly", To: "healthy", When: machine.Condition{After: time.Minute}}},
	})
	fmt.Print(g.Mermaid("readOnly"))
	// Output:
	// stateDiagram-v2
	//     [*] --> healthy
	//     healthy : healthy (all)
	//     readOnly : readOnly (readOnly)
	//     healthy --> readOnly : consecutiveFailures #62;= 5
	//     readOnly --> healthy : after 1m0s
	//     classDef current fill:#fde68a,stroke:#b45309,stroke-width:2px
	//     class readOnly current
}
