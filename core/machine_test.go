package core

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/machine"
)

// machinePolicy is the policy of docs/custom-states.md: healthy → degraded
// (half the calls) → readOnly (read calls only) → degraded → healthy. The
// breaker is disabled so that only the machine decides.
func machinePolicy(name string) Policy {
	return Policy{Name: name, Breaker: &BreakerPolicy{Mode: "disabled"}, Machine: &MachinePolicy{
		Initial: "healthy",
		Window:  10,
		States: []MachineState{
			{Name: "healthy"},
			{Name: "degraded", Admit: "percent", Percent: 50},
			{Name: "readOnly", Admit: "readOnly"},
			{Name: "maintenance", Admit: "none", Manual: true},
		},
		Transitions: []MachineTransition{
			{From: "healthy", To: "degraded", When: MachineCondition{FailureRateAtLeast: 0.5, MinCalls: 4}},
			{From: "degraded", To: "readOnly", When: MachineCondition{ConsecutiveFailures: 3}},
			{From: "degraded", To: "healthy", When: MachineCondition{FailureRateBelow: 0.1, MinCalls: 5}},
			{From: "readOnly", To: "degraded", When: MachineCondition{After: Duration(time.Minute)}},
		},
	}}
}

// A guard with a machine, through a real registry in a synctest bubble:
// degraded admits every second call, readOnly only read calls, and the
// guard recovers by the machine's conditions. Every transition reaches
// the hooks; the snapshot shows the state.
func TestMachineGuard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var changes []MachineChange
		r := mustRegistry(t, WithPolicies(machinePolicy("api")), WithHooks(Hooks{OnMachineChange: func(_ context.Context, c MachineChange) {
			mu.Lock()
			changes = append(changes, c)
			mu.Unlock()
		}}))
		g := mustGuard(t, r, "api")
		fail := errors.New("boom")
		call := func(ctx context.Context, err error) error {
			return g.Do(ctx, func(context.Context) error { time.Sleep(time.Second); return err })
		}
		for i := range 4 {
			if err := call(bg, map[bool]error{true: fail}[i%2 == 0]); err != nil && err != fail {
				t.Fatalf("healthy call %d: %v", i, err)
			}
		}
		s := g.Snapshot()
		if s.Machine == nil || s.Machine.State != "degraded" {
			t.Fatalf("after 2 failures in 4 calls: %+v", s.Machine)
		}
		admitted, rejected := 0, 0
		for range 4 {
			err := g.Do(bg, func(context.Context) error { return nil })
			var sr *StateRejection
			switch {
			case err == nil:
				admitted++
			case errors.Is(err, ErrRejected) && errors.Is(err, ErrMachineState) && errors.As(err, &sr) && sr.State == "degraded" && sr.Error() == "state:degraded":
				rejected++
			default:
				t.Fatalf("degraded: %v", err)
			}
		}
		if admitted != 2 || rejected != 2 {
			t.Fatalf("degraded at 50%%: %d admitted, %d rejected", admitted, rejected)
		}
		// Reach readOnly: three failures in a row among admitted calls.
		for g.Snapshot().Machine.State == "degraded" {
			_ = call(bg, fail)
		}
		if st := g.Snapshot().Machine.State; st != "readOnly" {
			t.Fatalf("after consecutive failures: %s", st)
		}
		if err := call(bg, nil); !errors.Is(err, ErrMachineState) {
			t.Fatalf("readOnly admitted a call not marked read: %v", err)
		}
		if err := call(WithReadOnly(bg), nil); err != nil {
			t.Fatalf("readOnly rejected a read call: %v", err)
		}
		time.Sleep(time.Minute)
		// The next call sees a minute in readOnly: the machine is degraded
		// again, and admits it (the first call of a percent state).
		if err := call(bg, nil); err != nil {
			t.Fatalf("after a minute in readOnly: %v", err)
		}
		for g.Snapshot().Machine.State == "degraded" {
			_ = call(bg, nil)
		}
		s = g.Snapshot()
		if s.Machine.State != "healthy" || s.Rejected.State == 0 || s.Rejected.State != s.Machine.Rejected {
			t.Fatalf("recovery: %+v, rejected %+v", s.Machine, s.Rejected)
		}
		mu.Lock()
		var path []string
		for _, c := range changes {
			if c.Guard != "api" {
				t.Errorf("change of guard %q", c.Guard)
			}
			path = append(path, c.To)
		}
		mu.Unlock()
		if got := strings.Join(path, " "); got != "degraded readOnly degraded healthy" {
			t.Fatalf("transitions: %s", got)
		}
		// An operator moves the guard by hand; an unknown state is refused.
		if _, err := g.SetMachineState("nope", breaker.Manual{Actor: "alice"}); !errors.Is(err, machine.ErrUnknownState) {
			t.Fatalf("unknown state: %v", err)
		}
		if _, err := g.SetMachineState("maintenance", breaker.Manual{Actor: "alice", Reason: "db upgrade"}); err != nil {
			t.Fatal(err)
		}
		if err := call(WithReadOnly(bg), nil); !errors.Is(err, ErrMachineState) {
			t.Fatalf("maintenance admitted a call: %v", err)
		}
		mu.Lock()
		last := changes[len(changes)-1]
		mu.Unlock()
		if last.To != "maintenance" || last.Actor != "alice" || last.Reason != "db upgrade" {
			t.Fatalf("manual change %+v", last)
		}
	})
}

// A guard whose policy has no machine has none, and SetMachineState says so.
func TestNoMachine(t *testing.T) {
	g := mustGuard(t, mustRegistry(t), "plain")
	if g.Machine() != nil || g.Snapshot().Machine != nil {
		t.Fatal("a guard without a machine section has a machine")
	}
	if _, err := g.SetMachineState("x", breaker.Manual{}); !errors.Is(err, ErrNoMachine) {
		t.Fatal(err)
	}
}

// The breaker and the machine must both admit: an open breaker rejects a
// call the machine would admit.
func TestMachineAlongsideBreaker(t *testing.T) {
	p := machinePolicy("both")
	p.Breaker = nil
	g := mustGuard(t, mustRegistry(t, WithPolicies(p)), "both")
	g.ForceOpen(breaker.Manual{Actor: "t"})
	if err := g.Do(bg, func(context.Context) error { return nil }); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("open breaker, healthy machine: %v", err)
	}
	if st := g.Snapshot().Machine; st.Admitted != 1 {
		t.Fatalf("the machine was not asked first: %+v", st)
	}
}

// Hot reload: the same machine section keeps the machine (state, window);
// a changed one starts a new machine in the state of the same name, or in
// the initial state when the new section has no such state, and the hooks
// hear of that change. Rejections counted stay counted.
func TestMachineReload(t *testing.T) {
	var changes []MachineChange
	r := mustRegistry(t, WithHooks(Hooks{OnMachineChange: func(_ context.Context, c MachineChange) { changes = append(changes, c) }}))
	mustApply(t, r, machinePolicy("api"))
	g := mustGuard(t, r, "api")
	if _, err := g.SetMachineState("degraded", breaker.Manual{Actor: "t"}); err != nil {
		t.Fatal(err)
	}
	_ = g.Do(bg, func(context.Context) error { return nil })
	_ = g.Do(bg, func(context.Context) error { return nil }) // rejected: every second call
	m := g.Machine()

	p := machinePolicy("api")
	p.Timeout = Duration(time.Second) // the machine section is the same
	mustApply(t, r, p)
	if g.Machine() != m || g.Snapshot().Machine.Calls != 1 {
		t.Fatalf("an unchanged machine was replaced: %+v", g.Snapshot().Machine)
	}

	p = machinePolicy("api")                   // a fresh section: the registry holds the last one
	p.Machine.Transitions[2].When.MinCalls = 8 // changed; degraded is still there
	mustApply(t, r, p)
	s := g.Snapshot()
	if g.Machine() == m || s.Machine.State != "degraded" || s.Machine.Calls != 0 || s.Rejected.State != 1 {
		t.Fatalf("a changed machine: %+v, rejected %+v", s.Machine, s.Rejected)
	}
	n := len(changes)

	p = machinePolicy("api")
	p.Machine.States[1].Name = "slow" // degraded is gone
	for i := range p.Machine.Transitions {
		for _, end := range []*string{&p.Machine.Transitions[i].From, &p.Machine.Transitions[i].To} {
			if *end == "degraded" {
				*end = "slow"
			}
		}
	}
	mustApply(t, r, p)
	if st := g.Snapshot().Machine.State; st != "healthy" {
		t.Fatalf("the state of a gone name: %s", st)
	}
	if len(changes) != n+1 || changes[n].From != "degraded" || changes[n].To != "healthy" || changes[n].Actor != "policy" {
		t.Fatalf("the reload's change: %+v", changes[n:])
	}
	p.Machine = nil
	mustApply(t, r, p)
	if g.Machine() != nil || g.Snapshot().Rejected.State != 1 {
		t.Fatalf("machine removed: %v %+v", g.Machine(), g.Snapshot().Rejected)
	}
}

// A document with a machine that has a state with no way out is refused,
// naming the field and the value, and nothing of it is applied.
func TestMachineDocumentRefused(t *testing.T) {
	doc := `{"policies": [{"name": "api", "machine": {
  "initial": "healthy",
  "states": [{"name": "healthy"}, {"name": "degraded", "admit": "percent", "percent": 50}, {"name": "stuck", "admit": "none"}],
  "transitions": [
    {"from": "healthy", "to": "degraded", "when": {"failureRateAtLeast": 0.5, "minCalls": 10}},
    {"from": "degraded", "to": "healthy", "when": {"after": "1m"}},
    {"from": "degraded", "to": "stuck", "when": {"consecutiveFailures": 5}}
  ]}}]}`
	_, err := ParseDocument([]byte(doc))
	var de *DocumentError
	if !errors.As(err, &de) || len(de.Problems) != 1 {
		t.Fatalf("ParseDocument: %v", err)
	}
	pr := de.Problems[0]
	if pr.Path != "policies[0].machine.states[2].name" || !strings.Contains(pr.Message, `"stuck" has no way out`) || pr.Line != 3 {
		t.Fatalf("problem %+v", pr)
	}
	r := mustRegistry(t)
	mustApply(t, r, Policy{Name: "api"})
	g := mustGuard(t, r, "api")
	var d Document
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Apply(d); err == nil || !strings.Contains(err.Error(), `machine.states[2].name: "stuck" has no way out`) {
		t.Fatalf("Apply: %v", err)
	}
	if g.Machine() != nil || g.Policy().Machine != nil {
		t.Fatal("a refused document was half-applied")
	}
	// Strict decoding: an unknown key in the section is named.
	_, err = ParseDocument([]byte(`{"policies": [{"name": "api", "machine": {"initial": "a", "states": [{"name": "a", "admitt": "all"}]}}]}`))
	if err == nil || !strings.Contains(err.Error(), "policies[0].machine.states[0].admitt") {
		t.Fatalf("unknown key: %v", err)
	}
}

// Explicit time drives the machine too: AllowAt, DoneAt and AdvanceAt, on
// a clock of the caller's, far from the real one.
func TestMachineExplicitTime(t *testing.T) {
	g := mustGuard(t, mustRegistry(t, WithPolicies(machinePolicy("x"))), "x")
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	call := func(ctx context.Context, err error) error {
		at = at.Add(time.Second)
		p, aerr := g.AllowAt(ctx, at)
		if aerr != nil {
			return aerr
		}
		p.DoneAt(at, err)
		return nil
	}
	boom := errors.New("boom")
	for i := range 4 {
		if err := call(bg, map[bool]error{true: boom}[i < 2]); err != nil {
			t.Fatal(err)
		}
	}
	for n := 0; g.Machine().State() == "degraded"; n++ {
		if n > 10 {
			t.Fatal("degraded never reached readOnly")
		}
		_ = call(bg, boom)
	}
	entered := g.Snapshot().Machine.Since
	if st := g.Machine().State(); st != "readOnly" || !entered.Equal(at) {
		t.Fatalf("%s since %v, want readOnly since %v", st, entered, at)
	}
	if err := call(bg, nil); !errors.Is(err, ErrMachineState) {
		t.Fatalf("readOnly AllowAt: %v", err)
	}
	if err := call(WithReadOnly(bg), nil); err != nil {
		t.Fatal(err)
	}
	g.AdvanceAt(entered.Add(time.Minute - time.Nanosecond))
	if st := g.Machine().State(); st != "readOnly" {
		t.Fatal(st)
	}
	g.AdvanceAt(entered.Add(time.Minute))
	if st := g.Machine().State(); st != "degraded" {
		t.Fatal(st)
	}
}

// A guard with a machine admits and rejects without allocating, as a guard
// without one does (alloc_test.go).
func TestMachineAllocs(t *testing.T) {
	p := machinePolicy("alloc")
	p.Machine.States[0].Admit, p.Machine.States[0].Percent = "percent", 50
	g := mustGuard(t, mustRegistry(t, WithPolicies(p)), "alloc")
	ctx := context.Background()
	n := testing.AllocsPerRun(1000, func() {
		pm, err := g.Allow(ctx)
		if err == nil {
			pm.Done(nil)
		}
	})
	if n != 0 {
		t.Fatalf("%v allocations a call", n)
	}
	if s := g.Snapshot(); s.Machine.Admitted == 0 || s.Machine.Rejected == 0 {
		t.Fatalf("both paths were not run: %+v", s.Machine)
	}
}

// BenchmarkMachineGuardAllowDone is BenchmarkGuardAllowDone with a custom
// state machine (a clock read and the machine's mutex on each admission
// and report).
func BenchmarkMachineGuardAllowDone(b *testing.B) {
	g := mustGuard(b, mustRegistry(b, WithPolicies(machinePolicy("m"))), "m")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, err := g.Allow(ctx)
		if err == nil {
			p.Done(nil)
		}
	}
}

// BenchmarkMachineGuardParallel is BenchmarkMachineGuardAllowDone from
// every P at once: the machine's mutex is shared by the guard's calls.
func BenchmarkMachineGuardParallel(b *testing.B) {
	g := mustGuard(b, mustRegistry(b, WithPolicies(machinePolicy("m"))), "m")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			p, err := g.Allow(ctx)
			if err == nil {
				p.Done(nil)
			}
		}
	})
}

// A transition that waits on time is taken on time without traffic (a
// timer, on the real clock): the snapshot, the hooks and the dashboard see
// it when it is due, not at the next call.
func TestMachineAfterWithoutTraffic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var changes []MachineChange
		r := mustRegistry(t, WithPolicies(machinePolicy("api")), WithHooks(Hooks{OnMachineChange: func(_ context.Context, c MachineChange) {
			mu.Lock()
			changes = append(changes, c)
			mu.Unlock()
		}}))
		g := mustGuard(t, r, "api")
		if _, err := g.SetMachineState("readOnly", breaker.Manual{Actor: "t", Reason: "test"}); err != nil {
			t.Fatal(err)
		}
		entered := time.Now()
		time.Sleep(time.Minute - time.Second)
		synctest.Wait()
		if st := g.Snapshot().Machine.State; st != "readOnly" {
			t.Fatalf("left readOnly early: %s", st)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		s := g.Snapshot().Machine
		if s.State != "degraded" || !s.Since.Equal(entered.Add(time.Minute)) {
			t.Fatalf("a minute in readOnly without a call: %s since %v", s.State, s.Since)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(changes) != 2 || changes[1].From != "readOnly" || changes[1].To != "degraded" || changes[1].Reason != "after 1m0s" {
			t.Fatalf("changes %+v", changes)
		}
	})
}

// A tenant overlay may give a tenant's guard custom states of its own: the
// tenant's guard runs its own machine, the base guard none.
func TestMachineInTenantOverlay(t *testing.T) {
	r := mustRegistry(t)
	mp := machinePolicy("orders")
	res, err := r.Apply(Document{
		Policies: []Policy{{Name: "orders", Breaker: &BreakerPolicy{Mode: "disabled"}}},
		Tenants:  &TenantPolicy{Overrides: []TenantOverride{{Tenant: "acme", Policies: []Policy{{Name: "orders", Machine: mp.Machine}}}}},
	})
	if err != nil {
		t.Fatal(err, res)
	}
	base := mustGuard(t, r, "orders")
	tg, err := r.GuardFor(WithTenant(bg, "acme"), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if tg == base || tg.Machine() == nil || base.Machine() != nil {
		t.Fatalf("tenant guard %s has machine %v, base %v", tg.Name(), tg.Machine(), base.Machine())
	}
	for range 4 { // failureRateAtLeast 0.5 over at least 4 calls
		_ = tg.Do(bg, func(context.Context) error { return errors.New("boom") })
	}
	if st := tg.Machine().State(); st != "degraded" {
		t.Fatalf("tenant guard in %s", st)
	}
}
