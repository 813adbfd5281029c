package machine

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestCompileHugeSpec: a spec of 10,000 states and 10,000 transitions is
// refused in bounded time with the limits named, and the error stays
// short (it does not list ten thousand problems).
func TestCompileHugeSpec(t *testing.T) {
	const n = 10_000
	spec := Spec{Initial: "s0"}
	for i := range n {
		spec.States = append(spec.States, State{Name: fmt.Sprintf("s%d", i)})
		spec.Transitions = append(spec.Transitions, Transition{From: fmt.Sprintf("s%d", i), To: fmt.Sprintf("s%d", (i+1)%n), When: Condition{MinCalls: 1}})
	}
	start := time.Now()
	_, err := Compile(spec)
	took := time.Since(start)
	if err == nil {
		t.Fatal("a spec of 10,000 states compiled")
	}
	msg := err.Error()
	if !strings.Contains(msg, "more than 32") || !strings.Contains(msg, "more than 256") {
		t.Fatalf("error does not name the limits: %.300s", msg)
	}
	if len(msg) > 64<<10 {
		t.Errorf("error of %d bytes for one spec: %.300s...", len(msg), msg)
	}
	t.Logf("10,000 states: refused in %v, error of %d bytes", took, len(msg))
}

// TestZeroTrafficRates: rate conditions never hold on an empty window (no
// division by zero), however long the machine waits.
func TestZeroTrafficRates(t *testing.T) {
	g, err := Compile(Spec{Initial: "a", States: []State{{Name: "a"}, {Name: "b"}}, Transitions: []Transition{
		{From: "a", To: "b", When: Condition{FailureRateAtLeast: 0, FailureRateBelow: 0.5}},
		{From: "b", To: "a", When: Condition{FailureRateAtLeast: 1e-9}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Unix(0, 0)
	m := g.Start(t0, nil)
	for _, d := range []time.Duration{0, time.Second, MaxDuration} {
		m.Advance(t0.Add(d))
		if s := m.State(); s != "a" {
			t.Fatalf("no outcome, at +%v: state %q, want a (a rate needs an outcome)", d, s)
		}
	}
}

// TestPercentExtremes: a state admitting 1% admits exactly one call in a
// hundred; 100% admits all; 0.001% (the smallest share) one in 100,000.
func TestPercentExtremes(t *testing.T) {
	for _, tc := range []struct {
		pct   float64
		calls int
		want  int
	}{{1, 10_000, 100}, {100, 1000, 1000}, {0.001, 200_000, 2}, {33.333, 100_000, 33_333}} {
		g, err := Compile(Spec{Initial: "p", States: []State{{Name: "p", Admit: AdmitPercent, Percent: tc.pct}}})
		if err != nil {
			t.Fatal(err)
		}
		t0 := time.Unix(0, 0)
		m := g.Start(t0, nil)
		n := 0
		for range tc.calls {
			if ok, _ := m.Allow(t0, false); ok {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("percent %v: %d of %d admitted, want %d", tc.pct, n, tc.calls, tc.want)
		}
	}
	if _, err := Compile(Spec{Initial: "p", States: []State{{Name: "p", Admit: AdmitPercent, Percent: 0.0001}}}); err == nil || !strings.Contains(err.Error(), "states[0].percent") {
		t.Errorf("percent 0.0001: %v, want refused naming states[0].percent", err)
	}
}
