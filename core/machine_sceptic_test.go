package core

import (
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// TestMachineAfterFiresAfterReloadWithoutTraffic: a guard in a state left
// by an "after" transition keeps its timer when a reload changes its
// machine section (here, the window): the new machine, in the same state,
// takes the transition on time with no traffic at all.
func TestMachineAfterFiresAfterReloadWithoutTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := machinePolicy("api")
		r := mustRegistry(t, WithPolicies(p))
		g := mustGuard(t, r, "api")
		if _, err := g.SetMachineState("readOnly", breaker.Manual{Actor: "ops", Reason: "test"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(30 * time.Second)
		p2 := machinePolicy("api")
		p2.Machine.Window = 20
		if _, err := r.Apply(Document{Policies: []Policy{p2}}); err != nil {
			t.Fatal(err)
		}
		if s := g.Machine().State(); s != "readOnly" {
			t.Fatalf("after the reload the machine is in %q, want readOnly kept", s)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if s := g.Machine().State(); s != "degraded" {
			t.Fatalf("2m after a reload, no traffic: machine in %q, want degraded (readOnly -> degraded after 1m must fire on its own)", s)
		}
	})
}

// TestMachineCenturyAfter: an "after" of MaxDuration arms a timer that
// neither fires early nor overflows; an operator can still move on.
func TestMachineCenturyAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := machinePolicy("api")
		p.Machine.Transitions[3].When.After = Duration(MaxDuration)
		r := mustRegistry(t, WithPolicies(p))
		g := mustGuard(t, r, "api")
		if _, err := g.SetMachineState("readOnly", breaker.Manual{Actor: "ops", Reason: "test"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * 365 * 24 * time.Hour)
		synctest.Wait()
		if s := g.Machine().State(); s != "readOnly" {
			t.Fatalf("after 100 years of an after of 146 years: %q, want readOnly", s)
		}
		time.Sleep(MaxDuration)
		synctest.Wait()
		if s := g.Machine().State(); s != "degraded" {
			t.Fatalf("after MaxDuration: %q, want degraded", s)
		}
	})
}

// TestMachineSectionOfTenThousandStates: a policy whose machine section
// has 10,000 states and 10,000 transitions is refused by Apply in bounded
// time, naming the section's limits, with a short error; the registry
// keeps its last good document.
func TestMachineSectionOfTenThousandStates(t *testing.T) {
	const n = 10_000
	mp := &MachinePolicy{Initial: "s0"}
	for i := range n {
		mp.States = append(mp.States, MachineState{Name: fmt.Sprintf("s%d", i)})
		mp.Transitions = append(mp.Transitions, MachineTransition{From: fmt.Sprintf("s%d", i), To: fmt.Sprintf("s%d", (i+1)%n), When: MachineCondition{MinCalls: 1, After: Duration(MaxDuration)}})
	}
	r := mustRegistry(t, WithPolicies(machinePolicy("api")))
	g := mustGuard(t, r, "api")
	start := time.Now()
	_, err := r.Apply(Document{Policies: []Policy{{Name: "api", Breaker: &BreakerPolicy{Mode: "disabled"}, Machine: mp}}})
	took := time.Since(start)
	if err == nil {
		t.Fatal("a machine of 10,000 states applied")
	}
	msg := err.Error()
	if !strings.Contains(msg, "more than 32") || !strings.Contains(msg, "machine") {
		t.Fatalf("error does not name the section and its limit: %.400s", msg)
	}
	if len(msg) > 64<<10 {
		t.Errorf("refused in %v with an error of %d bytes", took, len(msg))
	}
	t.Logf("refused in %v, error of %d bytes", took, len(msg))
	if s := g.Machine().Graph().States(); len(s) != 4 {
		t.Fatalf("the guard's machine has %d states after a refused reload, want the 4 it had", len(s))
	}
}
