package mesh_test

import (
	"fmt"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/mesh"
)

func ExampleExport() {
	doc := core.Document{Policies: []core.Policy{{
		Name:     "inventory",
		Match:    []string{"inventory"},
		Breaker:  &core.BreakerPolicy{ConsecutiveFailures: 5, OpenDuration: core.Duration(10 * time.Second), SlowCallDuration: core.Duration(time.Second)},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 20},
		Retry:    &core.RetryPolicy{MaxAttempts: 2},
	}}}
	res, err := mesh.Export(doc, mesh.Envoy, mesh.Options{Port: 8080})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, o := range res.Objects {
		fmt.Println(o.Kind, o.Name)
	}
	for _, l := range res.Loss {
		if l.Kind == mesh.Lost {
			fmt.Println(l.Field)
		}
	}
	// Output:
	// Cluster inventory
	// breaker
	// breaker
	// breaker.halfOpenProbes
	// breaker.slowCallRate
	// retry
}
