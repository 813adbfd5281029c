package chaos_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// newRegistry builds a registry with chaos and the guards "a", "b", "c"
// (tagged "edge"), "db" (critical) and "auth" (excluded by the config).
func newRegistry(t *testing.T, cfg chaos.Config) (*core.Registry, *chaos.Injector) {
	t.Helper()
	if cfg.Exclude == nil {
		cfg.Exclude = []string{"auth"}
	}
	inj, err := chaos.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := core.NewRegistry(core.WithChaos(inj), core.WithPolicies(core.Policy{Name: "critical", Critical: true}))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c", "auth"} {
		reg.MustGuard(n, core.WithTags("edge"))
	}
	reg.MustGuard("db", core.UsePolicy("critical"))
	return reg, inj
}

func call(reg *core.Registry, name string) error {
	return call2(context.Background(), reg, name)
}

func call2(ctx context.Context, reg *core.Registry, name string) error {
	return reg.MustGuard(name).Do(ctx, func(context.Context) error { return nil })
}

func TestChaosCannotBeEnabledOnARegistryBuiltWithout(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if reg.Chaos() != nil {
		t.Fatal("a registry built without WithChaos has an injector")
	}
	if _, err := chaos.From(reg); !errors.Is(err, chaos.ErrOff) {
		t.Fatalf("From: %v, want ErrOff", err)
	}
	// An injector that no registry was built with acts on nothing.
	inj, _ := chaos.New(chaos.Config{})
	if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Ends: time.Now().Add(time.Minute)}); !errors.Is(err, chaos.ErrNotAttached) {
		t.Fatalf("Start on an unattached injector: %v, want ErrNotAttached", err)
	}
	// Nor can one registry's injector serve a second registry.
	reg2, inj2 := newRegistry(t, chaos.Config{})
	_ = reg2
	if _, err := core.NewRegistry(core.WithChaos(inj2)); err == nil {
		t.Fatal("an injector attached to a second registry")
	}
}

func TestChaosNeverTouchesExcludedOrCriticalGuards(t *testing.T) {
	reg, inj := newRegistry(t, chaos.Config{MaxGuards: 10, Seed: 1})
	st, err := inj.Start(chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Ends: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(st.Targets, ","); got != "a,b,c" {
		t.Fatalf("targets %s, want a,b,c (auth excluded, db critical)", got)
	}
	for range 100 {
		for _, n := range []string{"auth", "db"} {
			if err := call(reg, n); err != nil {
				t.Fatalf("%s: %v", n, err)
			}
		}
		if call(reg, "a") == nil {
			t.Fatal("a: no fault at rate 1")
		}
	}
	// The first call got the error; the breaker counted the failures and
	// opened.
	if s := reg.MustGuard("a").Snapshot().Breaker; s.Failed == 0 || s.State != breaker.Open {
		t.Fatalf("a: %d failures, %s; want failures and open", s.Failed, s.State)
	}
	inj.Kill()
	for _, tc := range []struct {
		e    chaos.Experiment
		want string
	}{
		{chaos.Experiment{Guards: []string{"db"}}, `guards[0]: "db" is critical`},
		{chaos.Experiment{Guards: []string{"a", "auth"}}, `guards[1]: "auth" is excluded`},
		{chaos.Experiment{Guards: []string{"nope"}}, `guards[0]: no guard is called "nope"`},
	} {
		tc.e.Fault, tc.e.Rate, tc.e.Ends = chaos.FaultReject, 1, time.Now().Add(time.Minute)
		if _, err := inj.Start(tc.e); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Start(%v): %v, want %q", tc.e.Guards, err, tc.want)
		}
	}
	// Random trips: many draws, never the critical or excluded guard.
	for range 30 {
		st, err := inj.Start(chaos.Experiment{Fault: chaos.FaultTrip, Trips: 2, Ends: time.Now().Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range st.Targets {
			if n == "db" || n == "auth" {
				t.Fatalf("a trip picked %s", n)
			}
		}
		inj.Kill()
	}
	for _, n := range []string{"db", "auth"} {
		if s := reg.MustGuard(n).Breaker().State(); s != breaker.Closed {
			t.Fatalf("%s is %s", n, s)
		}
	}
	// With AllowCritical, a critical guard can be named.
	if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultReject, Rate: 1, Guards: []string{"db"}, AllowCritical: true, Ends: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := call(reg, "db"); !errors.Is(err, core.ErrChaos) || !errors.Is(err, core.ErrRejected) {
		t.Fatalf("db with allowCritical: %v, want a chaos rejection", err)
	}
}

func TestChaosStopsAtItsEndTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, inj := newRegistry(t, chaos.Config{MaxGuards: 3})
		if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultReject, Rate: 1, Guards: []string{"a"}, Ends: time.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		trip, err := inj.Start(chaos.Experiment{Fault: chaos.FaultTrip, Guards: []string{"b"}, Ends: time.Now().Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if err := call(reg, "a"); !errors.Is(err, core.ErrChaos) {
			t.Fatalf("a during the experiment: %v", err)
		}
		if s := reg.MustGuard("b").Breaker().State(); s != breaker.Open {
			t.Fatalf("b during the trip: %s", s)
		}
		time.Sleep(time.Minute)
		if err := call(reg, "a"); err != nil {
			t.Fatalf("a at the end: %v", err)
		}
		// The trip's breaker half-opens once its open time has passed.
		time.Sleep(time.Millisecond)
		if err := call(reg, "b"); err != nil {
			t.Fatalf("b after the trip's end: %v", err)
		}
		if act := inj.Active(); len(act) != 0 {
			t.Fatalf("active after the end: %+v", act)
		}
		if l := inj.List(); len(l) != 2 || l[0].Active || l[0].ID != trip.ID && l[1].ID != trip.ID {
			t.Fatalf("list after the end: %+v", l)
		}
	})
}

func TestChaosKillSwitchStopsEverything(t *testing.T) {
	reg, inj := newRegistry(t, chaos.Config{MaxGuards: 3})
	end := time.Now().Add(time.Minute)
	for _, e := range []chaos.Experiment{
		{Fault: chaos.FaultError, Rate: 1, Guards: []string{"a"}, Ends: end},
		{Fault: chaos.FaultReject, Rate: 1, Guards: []string{"b"}, Ends: end},
		{Fault: chaos.FaultTrip, Guards: []string{"c"}, Ends: end},
	} {
		if _, err := inj.Start(e); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"a", "b", "c"} {
		if call(reg, n) == nil {
			t.Fatalf("%s not under chaos", n)
		}
	}
	if got := inj.Kill(); len(got) != 3 {
		t.Fatalf("Kill stopped %d experiments, want 3", len(got))
	}
	for _, n := range []string{"a", "b", "c"} {
		if err := call(reg, n); err != nil {
			t.Fatalf("%s after the kill switch: %v", n, err)
		}
	}
	if len(inj.Active()) != 0 {
		t.Fatal("experiments active after Kill")
	}
}

func TestChaosKillLeavesAnOperatorsLaterOverride(t *testing.T) {
	reg, inj := newRegistry(t, chaos.Config{})
	if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultTrip, Guards: []string{"a"}, Ends: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("a").ForceOpen(breaker.Manual{Actor: "ops", Reason: "maintenance"})
	inj.Kill()
	if s := reg.MustGuard("a").Breaker().State(); s != breaker.ForcedOpen {
		t.Fatalf("a after Kill: %s, want the operator's forced-open", s)
	}
}

func TestChaosRateIsHonoured(t *testing.T) {
	run := func() uint64 {
		reg, inj := newRegistry(t, chaos.Config{Seed: 42})
		if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultReject, Rate: 0.25, Guards: []string{"a"}, Ends: time.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		var failed uint64
		for range 4000 {
			if call(reg, "a") != nil {
				failed++
			}
		}
		st := inj.Active()[0]
		if st.Calls != 4000 || st.Injected != failed {
			t.Fatalf("status calls %d injected %d, want 4000 and %d", st.Calls, st.Injected, failed)
		}
		return failed
	}
	first := run()
	// 25% of 4000 is 1000; the standard deviation is about 27.
	if first < 880 || first > 1120 {
		t.Fatalf("%d of 4000 calls got the fault at rate 0.25", first)
	}
	if again := run(); again != first {
		t.Fatalf("same seed, %d then %d faults", first, again)
	}
}

func TestChaosRefusesARateAboveOne(t *testing.T) {
	_, inj := newRegistry(t, chaos.Config{})
	_, err := inj.Start(chaos.Experiment{Fault: chaos.FaultError, Rate: 1.5, Guards: []string{"a"}, Ends: time.Now().Add(time.Minute)})
	if err == nil || !strings.Contains(err.Error(), "rate: 1.5 is above 1") {
		t.Fatalf("rate 1.5: %v", err)
	}
	if len(inj.List()) != 0 {
		t.Fatal("a refused experiment is listed")
	}
}

func TestChaosRefusesBadExperiments(t *testing.T) {
	_, inj := newRegistry(t, chaos.Config{MaxDuration: time.Hour})
	now := time.Now()
	for _, tc := range []struct {
		e    chaos.Experiment
		want string
	}{
		{chaos.Experiment{Fault: "boom", Rate: 1, Ends: now.Add(time.Minute)}, `fault: "boom"`},
		{chaos.Experiment{Fault: chaos.FaultError, Rate: 1}, "ends: required"},
		{chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Ends: now.Add(-time.Minute)}, "is not in the future"},
		{chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Ends: now.Add(2 * time.Hour)}, "longest experiment allowed (1h0m0s)"},
		{chaos.Experiment{Fault: chaos.FaultError, Rate: 0, Ends: now.Add(time.Minute)}, "rate: 0 must be above 0"},
		{chaos.Experiment{Fault: chaos.FaultLatency, Rate: 1, Ends: now.Add(time.Minute)}, "latency: \"0s\" must be positive"},
		{chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Percent: 150, Ends: now.Add(time.Minute)}, "percent: 150"},
	} {
		if _, err := inj.Start(tc.e); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.e, err, tc.want)
		}
	}
	if _, err := chaos.New(chaos.Config{MaxGuards: -1}); err == nil || !strings.Contains(err.Error(), "maxGuards: -1") {
		t.Errorf("MaxGuards -1: %v", err)
	}
}

func TestChaosCapsTheGuardsUnderChaosAtOnce(t *testing.T) {
	_, inj := newRegistry(t, chaos.Config{MaxGuards: 2})
	end := time.Now().Add(time.Minute)
	if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Tags: []string{"edge"}, Ends: end}); err == nil || !strings.Contains(err.Error(), "3 guards would be under chaos at once, more than the limit of 2") {
		t.Fatalf("three guards under a cap of two: %v", err)
	}
	if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Guards: []string{"a", "b"}, Ends: end}); err != nil {
		t.Fatal(err)
	}
	// The same guards again do not count twice; a third one does.
	if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultLatency, Latency: core.Duration(time.Millisecond), Rate: 1, Guards: []string{"b"}, Ends: end}); err != nil {
		t.Fatal(err)
	}
	if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultTrip, Guards: []string{"c"}, Ends: end}); err == nil {
		t.Fatal("a third guard under chaos with a cap of two")
	}
}

func TestChaosScopesByTenantAndShare(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, inj := newRegistry(t, chaos.Config{MaxGuards: 3, Seed: 7})
		if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultLatency, Latency: core.Duration(200 * time.Millisecond), Rate: 1, Guards: []string{"a"}, Tenants: []string{"acme"}, Ends: time.Now().Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := call2(core.WithTenant(context.Background(), "other"), reg, "a"); err != nil || time.Since(start) != 0 {
			t.Fatalf("another tenant: %v after %s", err, time.Since(start))
		}
		if err := call2(core.WithTenant(context.Background(), "acme"), reg, "a"); err != nil || time.Since(start) != 200*time.Millisecond {
			t.Fatalf("tenant acme: %v after %s, want 200ms of added latency", err, time.Since(start))
		}
		// A latency fault ends early, with the context's error, when the
		// caller gives up.
		ctx, cancel := context.WithTimeout(core.WithTenant(context.Background(), "acme"), 50*time.Millisecond)
		defer cancel()
		if err := call2(ctx, reg, "a"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cancelled during the delay: %v", err)
		}
		inj.Kill()
		st, err := inj.Start(chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Tags: []string{"edge"}, Percent: 50, Ends: time.Now().Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Targets) != 2 { // half of a, b, c, rounded up
			t.Fatalf("50%% of 3 guards: %v", st.Targets)
		}
	})
}

func TestChaosErrorCountsAsABreakerFailure(t *testing.T) {
	reg, inj := newRegistry(t, chaos.Config{})
	if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Guards: []string{"a"}, Message: "db down", Ends: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("a")
	p, err := g.Allow(context.Background())
	if err == nil || !strings.Contains(err.Error(), "db down") {
		t.Fatalf("Allow: %v", err)
	}
	p.Done(nil) // the zero permit: reports nothing
	s := g.Snapshot().Breaker
	if s.Failed != 1 || s.Succeeded != 0 {
		t.Fatalf("breaker counted %d failures, %d successes; want 1 and 0", s.Failed, s.Succeeded)
	}
}
