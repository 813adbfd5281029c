package machine_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core/machine"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// degradedSpec is the machine of the docs: healthy → degraded (half the
// calls) → readOnly → healthy.
func degradedSpec() machine.Spec {
	return machine.Spec{
		Initial: "healthy",
		Window:  10,
		States: []machine.State{
			{Name: "healthy"},
			{Name: "degraded", Admit: machine.AdmitPercent, Percent: 50},
			{Name: "readOnly", Admit: machine.AdmitReadOnly},
		},
		Transitions: []machine.Transition{
			{From: "healthy", To: "degraded", When: machine.Condition{FailureRateAtLeast: 0.5, MinCalls: 4}},
			{From: "degraded", To: "readOnly", When: machine.Condition{ConsecutiveFailures: 3}},
			{From: "degraded", To: "healthy", When: machine.Condition{FailureRateBelow: 0.1, MinCalls: 5}},
			{From: "readOnly", To: "degraded", When: machine.Condition{After: time.Minute}},
		},
	}
}

func mustCompile(t testing.TB, s machine.Spec) *machine.Graph {
	t.Helper()
	g, err := machine.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// Every bad input is refused with its field and value named, and nothing
// else is reported for it.
func TestCompileRefuses(t *testing.T) {
	ok := degradedSpec
	cases := []struct {
		name string
		edit func(*machine.Spec)
		want string
	}{
		{"no initial", func(s *machine.Spec) { s.Initial = "" }, `initial: "" is required`},
		{"unknown initial", func(s *machine.Spec) { s.Initial = "nope" }, `initial: "nope" is not a state of this machine (states: healthy, degraded, readOnly)`},
		{"no states", func(s *machine.Spec) { s.States, s.Transitions = nil, nil }, `states: [] a machine needs at least one state`},
		{"duplicate name", func(s *machine.Spec) { s.States[2].Name = "degraded" }, `states[2].name: "degraded" is already the name of states[1]`},
		{"empty name", func(s *machine.Spec) { s.States = append(s.States, machine.State{}) }, `states[3].name: "" must not be empty`},
		{"bad name", func(s *machine.Spec) { s.States[2].Name = "read-only" }, `states[2].name: "read-only" is not a name`},
		{"long name", func(s *machine.Spec) { s.States[2].Name = strings.Repeat("a", 33) }, `is longer than 32 characters`},
		{"unknown admit", func(s *machine.Spec) { s.States[0].Admit = "some" }, `states[0].admit: "some" is not an admission rule`},
		{"percent zero", func(s *machine.Spec) { s.States[1].Percent = 0 }, `states[1].percent: 0 must be above 0 and at most 100`},
		{"percent over", func(s *machine.Spec) { s.States[1].Percent = 100.5 }, `states[1].percent: 100.5 must be above 0`},
		{"percent NaN", func(s *machine.Spec) { s.States[1].Percent = math.NaN() }, `states[1].percent: NaN must be above 0`},
		{"percent tiny", func(s *machine.Spec) { s.States[1].Percent = 0.0001 }, `states[1].percent: 0.0001 is below 0.001`},
		{"percent without rule", func(s *machine.Spec) { s.States[0].Percent = 10 }, `states[0].percent: 10 is set, but admit is not "percent"`},
		{"unknown from", func(s *machine.Spec) { s.Transitions[0].From = "sick" }, `transitions[0].from: "sick" is not a state`},
		{"unknown to", func(s *machine.Spec) { s.Transitions[0].To = "sick" }, `transitions[0].to: "sick" is not a state`},
		{"self loop", func(s *machine.Spec) { s.Transitions[0].To = "healthy" }, `transitions[0].to: "healthy" is the state the transition leaves`},
		{"no condition", func(s *machine.Spec) { s.Transitions[0].When = machine.Condition{} }, `transitions[0].when: {} has no condition`},
		{"rate over 1", func(s *machine.Spec) { s.Transitions[0].When.FailureRateAtLeast = 1.5 }, `transitions[0].when.failureRateAtLeast: 1.5 must be a rate from 0 to 1`},
		{"rate negative", func(s *machine.Spec) { s.Transitions[2].When.FailureRateBelow = -0.1 }, `transitions[2].when.failureRateBelow: -0.1 must be a rate`},
		{"slow without slowCall", func(s *machine.Spec) { s.Transitions[0].When.SlowRateAtLeast = 0.5 }, `transitions[0].when.slowRate: 0.5 needs slowCall`},
		{"negative count", func(s *machine.Spec) { s.Transitions[1].When.ConsecutiveFailures = -1 }, `transitions[1].when.consecutiveFailures: -1 must not be negative`},
		{"negative after", func(s *machine.Spec) { s.Transitions[3].When.After = -time.Second }, `transitions[3].when.after: -1s must be a positive duration`},
		{"huge after", func(s *machine.Spec) { s.Transitions[3].When.After = math.MaxInt64 }, `transitions[3].when.after: 2562047h47m16.854775807s must be a positive duration of at most 2^62ns`},
		{"negative slowCall", func(s *machine.Spec) { s.SlowCall = -1 }, `slowCall: -1ns must be a positive duration`},
		{"window negative", func(s *machine.Spec) { s.Window = -1 }, `window: -1 must be from 1 to 10000`},
		{"window huge", func(s *machine.Spec) { s.Window = machine.MaxWindow + 1 }, `window: 10001 must be from 1 to 10000`},
		{"no way out", func(s *machine.Spec) { s.Transitions = s.Transitions[:3] }, `states[2].name: "readOnly" has no way out: no transition leaves this state`},
		{"unreachable", func(s *machine.Spec) {
			s.States = append(s.States, machine.State{Name: "maintenance", Admit: machine.AdmitNone})
			s.Transitions = append(s.Transitions, machine.Transition{From: "maintenance", To: "healthy", When: machine.Condition{After: time.Hour}})
		}, `states[3].name: "maintenance" is unreachable: no transition leads to it from the initial state "healthy"`},
		{"no way back", func(s *machine.Spec) {
			s.Transitions = []machine.Transition{
				{From: "healthy", To: "degraded", When: machine.Condition{MinCalls: 1}},
				{From: "degraded", To: "readOnly", When: machine.Condition{MinCalls: 1}},
				{From: "readOnly", To: "degraded", When: machine.Condition{MinCalls: 1}},
			}
		}, `states[1].name: "degraded" has no way back: no path of transitions leads from it to the initial state "healthy"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := ok()
			c.edit(&s)
			g, err := machine.Compile(s)
			if err == nil {
				t.Fatalf("Compile accepted it: %v", g.States())
			}
			var se *machine.SpecError
			if !errors.As(err, &se) || len(se.Problems) == 0 {
				t.Fatalf("error %T %v is not a *SpecError", err, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error\n%v\ndoes not say\n%s", err, c.want)
			}
		})
	}
}

// A state marked manual may be unreachable and have no way out; every
// problem of a spec is reported at once.
func TestCompileManualAndAllProblems(t *testing.T) {
	s := degradedSpec()
	s.States = append(s.States, machine.State{Name: "maintenance", Admit: machine.AdmitNone, Manual: true})
	if _, err := machine.Compile(s); err != nil {
		t.Fatalf("a manual state is refused: %v", err)
	}
	s.Initial = ""
	s.Transitions[0].When.FailureRateAtLeast = 2
	s.States[1].Percent = 0
	var se *machine.SpecError
	if _, err := machine.Compile(s); !errors.As(err, &se) || len(se.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
}

// The machine of the docs on explicit time: trip to degraded on failures,
// admit half, drop to read-only on a run of failures, come back after a
// minute, recover to healthy on successes.
func TestMachineExplicitTime(t *testing.T) {
	g := mustCompile(t, degradedSpec())
	var changes []machine.Change
	m := g.Start(t0, func(c machine.Change) { changes = append(changes, c) })
	at := t0
	step := func() time.Time { at = at.Add(time.Second); return at }
	for i := range 4 {
		if ok, _ := m.Allow(step(), false); !ok {
			t.Fatalf("healthy rejected call %d", i)
		}
		m.Record(at, i%2 == 0, false)
	}
	if s := m.State(); s != "degraded" {
		t.Fatalf("after 2 failures in 4: %s", s)
	}
	if len(changes) != 1 || changes[0].Reason != "failureRate >= 0.5 and calls >= 4" || changes[0].From != "healthy" || !changes[0].At.Equal(at) {
		t.Fatalf("changes %+v", changes)
	}
	var admitted []bool
	for range 6 {
		ok, st := m.Allow(step(), false)
		if g.States()[st] != "degraded" {
			t.Fatalf("state %d", st)
		}
		admitted = append(admitted, ok)
	}
	if want := []bool{true, false, true, false, true, false}; !equal(admitted, want) {
		t.Fatalf("degraded 50%% admitted %v, want %v", admitted, want)
	}
	for range 3 {
		m.Record(step(), true, false)
	}
	if s := m.Status(); s.State != "readOnly" || s.Calls != 0 || !s.Since.Equal(at) {
		t.Fatalf("after 3 consecutive failures: %+v", s)
	}
	if ok, _ := m.Allow(step(), false); ok {
		t.Fatal("readOnly admitted a call not marked read")
	}
	if ok, _ := m.Allow(step(), machine.IsRead(machine.MarkRead(context.Background()))); !ok {
		t.Fatal("readOnly rejected a read call")
	}
	entered := changes[len(changes)-1].At
	m.Advance(entered.Add(time.Minute - 1))
	if s := m.State(); s != "readOnly" {
		t.Fatalf("left readOnly early: %s", s)
	}
	m.Advance(entered.Add(time.Minute))
	if s := m.State(); s != "degraded" {
		t.Fatalf("after a minute in readOnly: %s", s)
	}
	for range 5 {
		m.Record(step(), false, false)
	}
	if s := m.Status(); s.State != "healthy" || s.Transitions != 4 {
		t.Fatalf("after 5 successes in degraded: %+v", s)
	}
	if _, err := m.Set(at, "sick", "alice", "test"); !errors.Is(err, machine.ErrUnknownState) || !strings.Contains(err.Error(), `"sick"`) {
		t.Fatalf("Set of an unknown state: %v", err)
	}
	c, err := m.Set(at, "readOnly", "alice", "incident 42")
	if err != nil || c.Actor != "alice" || c.Reason != "incident 42" || m.State() != "readOnly" {
		t.Fatalf("Set: %+v %v", c, err)
	}
}

// StartIn keeps a state across a reload when the new graph has it.
func TestStartIn(t *testing.T) {
	g := mustCompile(t, degradedSpec())
	if s := g.StartIn(t0, "degraded", nil).State(); s != "degraded" {
		t.Fatal(s)
	}
	if s := g.StartIn(t0, "gone", nil).State(); s != "healthy" {
		t.Fatal(s)
	}
}

// The slow rate counts outcomes the caller marks slow.
func TestSlowRate(t *testing.T) {
	g := mustCompile(t, machine.Spec{Initial: "a", SlowCall: time.Second,
		States:      []machine.State{{Name: "a"}, {Name: "b"}},
		Transitions: []machine.Transition{{From: "a", To: "b", When: machine.Condition{SlowRateAtLeast: 0.5, MinCalls: 2}}, {From: "b", To: "a", When: machine.Condition{SlowRateBelow: 0.5, MinCalls: 2}}}})
	m := g.Start(t0, nil)
	m.Record(t0, false, true)
	m.Record(t0, false, false)
	if m.State() != "b" {
		t.Fatal(m.State())
	}
	m.Record(t0, false, false)
	m.Record(t0, false, false)
	if m.State() != "a" {
		t.Fatal(m.State())
	}
}

// Percent admission spreads evenly: 25% admits one call in four, exactly.
func TestPercentShare(t *testing.T) {
	g := mustCompile(t, machine.Spec{Initial: "a", States: []machine.State{{Name: "a", Admit: machine.AdmitPercent, Percent: 25}}})
	m := g.Start(t0, nil)
	n := 0
	for range 1000 {
		if ok, _ := m.Allow(t0, false); ok {
			n++
		}
	}
	if n != 250 {
		t.Fatalf("admitted %d of 1000", n)
	}
	if s := m.Status(); s.Admitted != 250 || s.Rejected != 750 {
		t.Fatalf("%+v", s)
	}
}

func TestDiagram(t *testing.T) {
	g := mustCompile(t, degradedSpec())
	mm := g.Mermaid("degraded")
	for _, want := range []string{
		"stateDiagram-v2\n",
		"    [*] --> healthy\n",
		"    degraded : degraded (percent 50)\n",
		"    healthy --> degraded : failureRate #62;= 0.5 and calls #62;= 4\n",
		"    readOnly --> degraded : after 1m0s\n",
		"    class degraded current\n",
	} {
		if !strings.Contains(mm, want) {
			t.Errorf("mermaid lacks %q:\n%s", want, mm)
		}
	}
	if strings.Contains(g.Mermaid(""), "class ") {
		t.Error("mermaid highlights a state with no current state")
	}
	dot := g.DOT("readOnly")
	for _, want := range []string{
		"digraph machine {",
		`__start -> "healthy";`,
		`"readOnly" [label="readOnly\nreadOnly", style="rounded,filled", fillcolor="#fde68a"];`,
		`"degraded" -> "healthy" [label="failureRate < 0.1 and calls >= 5"];`,
	} {
		if !strings.Contains(dot, want) {
			t.Errorf("dot lacks %q:\n%s", want, dot)
		}
	}
}

func equal(a, b []bool) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
