// Package timeline holds the result of a scenario simulation (package
// sim/scenario): one guard's state and figures tick by tick, its breaker
// transitions, and a summary; and renders it as text, and as a chart of
// one panel per series in PNG and SVG through gonum.org/v1/plot.
//
// Rendering is deterministic: the same Timeline gives the same bytes
// (no time stamps, no map iteration), so a simulation run twice with one
// seed writes identical files.
package timeline

import (
	"fmt"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// Timeline is one simulated guard over a scenario.
type Timeline struct {
	// Guard is the simulated guard's name and Policy the name of the
	// policy the document gave it.
	Guard  string `json:"guard"`
	Policy string `json:"policy"`
	// Scenario is the scenario file's name.
	Scenario string `json:"scenario,omitempty"`
	// Seed is the seed of every random draw.
	Seed uint64 `json:"seed"`
	// Duration is the simulated time and Tick the span of one point.
	Duration core.Duration `json:"duration"`
	Tick     core.Duration `json:"tick"`
	// Points holds one point per tick, in time order.
	Points []Point `json:"points"`
	// Transitions are the breaker's state changes, in time order.
	Transitions []Transition `json:"transitions"`
	// Summary totals the run.
	Summary Summary `json:"summary"`
	// Notes name what limits the run's fidelity (features of the policy
	// that draw randomness of their own, or read the wall clock).
	Notes []string `json:"notes,omitempty"`
	// HasBulkhead and HasRateLimit report whether the policy has a
	// bulkhead and a rate limit, whose limits the points then carry.
	HasBulkhead  bool `json:"hasBulkhead"`
	HasRateLimit bool `json:"hasRateLimit"`
}

// Point is one tick: counts over the tick, levels at its end.
type Point struct {
	// At is the end of the tick, from the start of the run.
	At core.Duration `json:"at"`
	// State is the breaker state at the end of the tick.
	State string `json:"state"`
	// Open is the share of the tick the breaker spent open or forced open.
	Open float64 `json:"open"`
	// Traffic and ScenarioFailureRate are the scenario's arrival rate
	// (calls/s) and failure rate in the middle of the tick.
	Traffic             float64 `json:"traffic"`
	ScenarioFailureRate float64 `json:"scenarioFailureRate"`
	// Calls counts the calls that arrived in the tick; Attempts the
	// attempts (first ones and retries) the guard admitted.
	Calls    int `json:"calls"`
	Attempts int `json:"attempts"`
	// Succeeded and Failed count the attempts that ended in the tick.
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// FailureRate is Failed / (Succeeded + Failed), 0 without attempts.
	FailureRate float64 `json:"failureRate"`
	// WindowFailureRate is the breaker's window failure rate at the end
	// of the tick, as a share (0.5 for 50%).
	WindowFailureRate float64 `json:"windowFailureRate"`
	// Rejected counts the attempts rejected in the tick, by reason.
	Rejected Rejections `json:"rejected"`
	// Retries counts the retries decided in the tick and BudgetExhausted
	// the calls whose retry the budget refused.
	Retries         int `json:"retries"`
	BudgetExhausted int `json:"budgetExhausted"`
	// InFlight is the attempts in flight at the end of the tick.
	InFlight int `json:"inFlight"`
	// BulkheadLimit is the bulkhead's limit (the adaptive limit when it
	// has one); 0 without a bulkhead.
	BulkheadLimit int `json:"bulkheadLimit,omitempty"`
	// RateLimit is the rate limit in calls per second; 0 without one.
	RateLimit float64 `json:"rateLimit,omitempty"`
}

// Rejections counts rejections by reason (see core.Rejections).
type Rejections struct {
	Open      int `json:"open"`
	HalfOpen  int `json:"halfOpen"`
	Full      int `json:"full"`
	Limited   int `json:"limited"`
	Throttled int `json:"throttled"`
}

// Total returns the sum.
func (r Rejections) Total() int { return r.Open + r.HalfOpen + r.Full + r.Limited + r.Throttled }

// Add returns r plus o.
func (r Rejections) Add(o Rejections) Rejections {
	return Rejections{r.Open + o.Open, r.HalfOpen + o.HalfOpen, r.Full + o.Full, r.Limited + o.Limited, r.Throttled + o.Throttled}
}

// Transition is one breaker state change.
type Transition struct {
	At     core.Duration `json:"at"`
	From   string        `json:"from"`
	To     string        `json:"to"`
	Reason string        `json:"reason,omitempty"`
}

// Summary totals a run.
type Summary struct {
	// Calls counts the calls that arrived; Succeeded, Failed and Rejected
	// how they ended (a call is rejected when its last attempt was);
	// Unfinished the calls still running at the end.
	Calls      int `json:"calls"`
	Succeeded  int `json:"succeeded"`
	Failed     int `json:"failed"`
	Rejected   int `json:"rejected"`
	Unfinished int `json:"unfinished"`
	// Attempts counts the attempts admitted, Retries the retries made and
	// BudgetExhausted the calls the retry budget stopped.
	Attempts        int `json:"attempts"`
	Retries         int `json:"retries"`
	BudgetExhausted int `json:"budgetExhausted"`
	// Rejections counts rejected attempts by reason.
	Rejections Rejections `json:"rejections"`
	// Trips counts automatic openings; TimeOpen the time spent open or
	// forced open.
	Trips    int           `json:"trips"`
	TimeOpen core.Duration `json:"timeOpen"`
	// P50 and P99 are percentiles of the latency of successful calls, from
	// arrival to success, retry delays included.
	P50 core.Duration `json:"p50"`
	P99 core.Duration `json:"p99"`
}

// Text returns the summary as a few aligned lines.
func (tl *Timeline) Text() string {
	var b strings.Builder
	s := &tl.Summary
	fmt.Fprintf(&b, "guard %s (policy %s), %v simulated, seed %d\n", tl.Guard, tl.Policy, time.Duration(tl.Duration), tl.Seed)
	pct := func(n int) string {
		if s.Calls == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(s.Calls))
	}
	fmt.Fprintf(&b, "  calls       %d: %d succeeded (%s), %d failed (%s), %d rejected (%s)", s.Calls, s.Succeeded, pct(s.Succeeded), s.Failed, pct(s.Failed), s.Rejected, pct(s.Rejected))
	if s.Unfinished > 0 {
		fmt.Fprintf(&b, ", %d unfinished", s.Unfinished)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  attempts    %d admitted, %d retries, %d stopped by the retry budget\n", s.Attempts, s.Retries, s.BudgetExhausted)
	r := s.Rejections
	fmt.Fprintf(&b, "  rejections  %d: open %d, half-open %d, bulkhead %d, rate limit %d, throttle %d\n", r.Total(), r.Open, r.HalfOpen, r.Full, r.Limited, r.Throttled)
	fmt.Fprintf(&b, "  breaker     %d trips, open %v (%.1f%% of the time)\n", s.Trips, time.Duration(s.TimeOpen), 100*float64(s.TimeOpen)/float64(max(tl.Duration, 1)))
	fmt.Fprintf(&b, "  latency     p50 %v, p99 %v (successful calls, retries included)\n", time.Duration(s.P50), time.Duration(s.P99))
	for _, n := range tl.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	return b.String()
}
