package scenario_test

import (
	"fmt"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/sim/scenario"
)

// ExampleRun simulates a minute of evenly spaced calls with a 20-second
// outage against a breaker that opens after 5 consecutive failures: it
// opens at 20.41s, fails its probe at 35.5s, and closes on the probe at
// 50.6s, after the outage.
func ExampleRun() {
	sc, err := scenario.Parse("outage.yaml", []byte(`
guard: payments
duration: 1m
traffic: 10
arrivals: uniform
latency: {fixed: 10ms}
phases:
  - {name: outage, from: 20s, to: 40s, event: outage}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	doc := core.Document{Policies: []core.Policy{{Name: "payments", Match: []string{"payments"},
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5, DisableFailureRate: true, OpenDuration: core.Duration(15e9), OpenBackoff: 1}}}}
	tl, err := scenario.Run(sc, doc)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(tl.Text())
	// Output:
	// guard payments (policy payments), 1m0s simulated, seed 1
	//   calls       600: 294 succeeded (49.0%), 6 failed (1.0%), 300 rejected (50.0%)
	//   attempts    300 admitted, 0 retries, 0 stopped by the retry budget
	//   rejections  300: open 300, half-open 0, bulkhead 0, rate limit 0, throttle 0
	//   breaker     2 trips, open 30s (50.0% of the time)
	//   latency     p50 10ms, p99 10ms (successful calls, retries included)
}
