package fleet_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

var errDown = errors.New("dependency down")

// depPolicy is the policy of the guard "dep" the replicas share: it trips
// on 2 failures of 2 calls and stays open 1s, with no backoff or jitter so
// that the fleet's periods line up.
func depPolicy(fp *core.FleetPolicy) core.Policy {
	return core.Policy{
		Name:  "dep",
		Match: []string{"dep"},
		Tags:  []string{"payments"},
		Breaker: &core.BreakerPolicy{
			Window: "count", WindowSize: 10, MinCalls: 2, FailureRate: 50,
			OpenDuration: core.Duration(time.Second), OpenBackoff: 1, ProbeTimeout: core.Duration(500 * time.Millisecond),
		},
		Fleet: fp,
	}
}

// replica is one registry joined to a fleet.
type replica struct {
	id    string
	reg   *core.Registry
	agent *fleet.Agent
	guard *core.Guard
	store *fleet.MemoryStore
}

type fleetT struct {
	t      *testing.T
	store  *fleet.MemoryStore
	policy core.Policy
	opts   []fleet.Option
}

func newFleet(t *testing.T, fp *core.FleetPolicy, opts ...fleet.Option) *fleetT {
	return &fleetT{t: t, store: fleet.NewMemoryStore(), policy: depPolicy(fp), opts: opts}
}

// join starts replica id with a client of the fleet's store.
func (f *fleetT) join(id string) *replica {
	f.t.Helper()
	reg, err := core.NewRegistry(core.WithPolicies(f.policy))
	if err != nil {
		f.t.Fatal(err)
	}
	g := reg.MustGuard("dep")
	client := f.store.Client()
	opts := append([]fleet.Option{fleet.WithReplicaID(id), fleet.WithHeartbeat(time.Second), fleet.WithReconcileEvery(5 * time.Second)}, f.opts...)
	a, err := fleet.Join(reg, client, opts...)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = a.Close() })
	return &replica{id: id, reg: reg, agent: a, guard: g, store: client}
}

func (f *fleetT) joinN(n int) []*replica {
	rs := make([]*replica, n)
	for i := range rs {
		rs[i] = f.join(fmt.Sprintf("r%d", i))
	}
	return rs
}

// trip makes the replica's guard open on its own evidence.
func (r *replica) trip(t *testing.T) {
	t.Helper()
	for range 2 {
		_ = r.guard.Do(context.Background(), func(context.Context) error { return errDown })
	}
	if s := r.guard.Breaker().State(); s != breaker.Open {
		t.Fatalf("%s: after 2 failures the guard is %s, want open", r.id, s)
	}
}

// settle lets the fleet's goroutines run for d of fake time.
func settle(d time.Duration) {
	synctest.Wait()
	time.Sleep(d)
	synctest.Wait()
}

func states(rs []*replica) []breaker.State {
	out := make([]breaker.State, len(rs))
	for i, r := range rs {
		out[i] = r.guard.Breaker().State()
	}
	return out
}

func TestQuorumAdoption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, nil) // default: quorum of 2
		rs := f.joinN(8)
		settle(100 * time.Millisecond)
		rs[0].trip(t)
		settle(200 * time.Millisecond)
		for i, r := range rs[1:] {
			if s := r.guard.Breaker().State(); s != breaker.Closed {
				t.Fatalf("one replica open: replica %d is %s, want closed (a single sick replica must not open the fleet)", i+1, s)
			}
		}
		if got := rs[3].agent.Snapshot(); len(got.Guards) != 1 || len(got.Guards[0].OpenVotes) != 1 || got.Guards[0].OpenVotes[0] != "r0" {
			t.Fatalf("snapshot of r3: guards %+v, want one open vote by r0", got.Guards)
		}
		rs[1].trip(t)
		settle(200 * time.Millisecond)
		for i, r := range rs[2:] {
			s := r.guard.Breaker().Snapshot()
			if s.State != breaker.Open || s.LastTransition.Actor != fleet.ActorFleet {
				t.Fatalf("two replicas open: replica %d is %s by %q, want open by %q", i+2, s.State, s.LastTransition.Actor, fleet.ActorFleet)
			}
			if want := "fleet: 2 of 8 replicas open"; s.LastTransition.Reason != want {
				t.Errorf("replica %d: reason %q, want %q", i+2, s.LastTransition.Reason, want)
			}
		}
		// Adopted opens do not vote: only r0 and r1 do.
		settle(2 * time.Second / 10)
		snap := rs[5].agent.Snapshot()
		if len(snap.Guards) != 1 || fmt.Sprint(snap.Guards[0].OpenVotes) != "[r0 r1]" || !snap.Guards[0].Adopted {
			t.Fatalf("snapshot of r5: %+v, want votes [r0 r1] and adopted", snap.Guards)
		}
		if len(snap.Members) != 8 {
			t.Errorf("snapshot of r5: %d members, want 8", len(snap.Members))
		}
		if snap.Guards[0].Rule != core.FleetAdoptQuorum {
			t.Errorf("rule %q, want quorum", snap.Guards[0].Rule)
		}
	})
}

func TestAdoptAnyAndLocal(t *testing.T) {
	for _, tc := range []struct {
		adopt string
		want  breaker.State
	}{{core.FleetAdoptAny, breaker.Open}, {core.FleetAdoptLocal, breaker.Closed}} {
		t.Run(tc.adopt, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFleet(t, &core.FleetPolicy{Adopt: tc.adopt})
				rs := f.joinN(4)
				settle(100 * time.Millisecond)
				rs[0].trip(t)
				settle(200 * time.Millisecond)
				for i, s := range states(rs[1:]) {
					if s != tc.want {
						t.Errorf("rule %s, one replica open: replica %d is %s, want %s", tc.adopt, i+1, s, tc.want)
					}
				}
			})
		})
	}
}

func TestQuorumFraction(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, &core.FleetPolicy{Min: 2, Fraction: 0.5})
		rs := f.joinN(8)
		settle(2 * time.Second) // membership known
		for i := range 3 {
			rs[i].trip(t)
		}
		settle(200 * time.Millisecond)
		if s := rs[7].guard.Breaker().State(); s != breaker.Closed {
			t.Fatalf("3 of 8 open with fraction 0.5: r7 is %s, want closed", s)
		}
		rs[3].trip(t)
		settle(200 * time.Millisecond)
		if s := rs[7].guard.Breaker().State(); s != breaker.Open {
			t.Fatalf("4 of 8 open with fraction 0.5: r7 is %s, want open", s)
		}
	})
}

func TestVotesExpireWhenReplicaDies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, nil)
		rs := f.joinN(4)
		settle(100 * time.Millisecond)
		rs[0].trip(t)
		settle(200 * time.Millisecond)
		if v := rs[2].agent.Snapshot().Guards; len(v) != 1 || len(v[0].OpenVotes) != 1 {
			t.Fatalf("r2 sees %+v, want r0's vote", v)
		}
		// r0 dies: its store goes away, so it can withdraw nothing.
		rs[0].store.SetDown(true)
		_ = rs[0].agent.Close()
		settle(10 * time.Second) // the vote's TTL (1s open + 3 heartbeats) and a reconcile
		for _, g := range rs[2].agent.Snapshot().Guards {
			if len(g.OpenVotes) != 0 {
				t.Fatalf("votes of a dead replica still held: %+v", g)
			}
		}
		if n := len(rs[2].agent.Snapshot().Members); n != 3 {
			t.Errorf("r2 sees %d members, want 3 (the dead one expired)", n)
		}
		rs[1].trip(t)
		settle(200 * time.Millisecond)
		if s := rs[3].guard.Breaker().State(); s != breaker.Closed {
			t.Fatalf("one live vote and one expired: r3 is %s, want closed", s)
		}
	})
}

// TestOneProbePerFleet runs 8 replicas against a dependency that stays
// down, with a caller on each, and counts the calls that reach it: one per
// half-open period, over 100 periods.
func TestOneProbePerFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, &core.FleetPolicy{Adopt: core.FleetAdoptAny})
		rs := f.joinN(8)
		settle(100 * time.Millisecond)
		var mu sync.Mutex
		var probes []time.Time
		counting := atomic.Bool{}
		dep := func(context.Context) error {
			if counting.Load() {
				mu.Lock()
				probes = append(probes, time.Now())
				mu.Unlock()
			}
			return errDown
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for _, r := range rs {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					_ = r.guard.Do(context.Background(), dep)
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
		settle(3 * time.Second) // every replica open, by trip or adoption
		counting.Store(true)
		const periods = 100
		for range 3 * periods {
			settle(500 * time.Millisecond)
			mu.Lock()
			n := len(probes)
			mu.Unlock()
			if n >= periods {
				break
			}
		}
		close(stop)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		if len(probes) < periods {
			t.Fatalf("%d probes reached the dependency in %d periods' time, want at least %d (the fleet stopped probing)", len(probes), 3*periods/2, periods)
		}
		for i := 1; i < len(probes); i++ {
			if gap := probes[i].Sub(probes[i-1]); gap < time.Second {
				t.Fatalf("probes %d and %d reached the dependency %s apart, within one open period (1s): two probes in one half-open period", i-1, i, gap)
			}
		}
		total := 0
		for _, r := range rs {
			total += int(r.guard.Snapshot().Breaker.Transitions)
		}
		t.Logf("%d probes, %d transitions across 8 replicas", len(probes), total)
	})
}

// TestProbeSuccessClosesFleet: when the fleet's probe succeeds, every
// replica closes and the votes are withdrawn.
func TestProbeSuccessClosesFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, nil)
		rs := f.joinN(8)
		settle(100 * time.Millisecond)
		rs[0].trip(t)
		rs[1].trip(t)
		settle(200 * time.Millisecond)
		for i, s := range states(rs) {
			if s != breaker.Open {
				t.Fatalf("replica %d is %s, want open", i, s)
			}
		}
		settle(time.Second) // all half-open; one holds the lease
		var calls atomic.Int32
		for _, r := range rs {
			_ = r.guard.Do(context.Background(), func(context.Context) error { calls.Add(1); return nil })
		}
		if n := calls.Load(); n != 1 {
			t.Fatalf("%d probes admitted across the fleet in one half-open period, want 1", n)
		}
		settle(200 * time.Millisecond)
		for i, s := range states(rs) {
			if s != breaker.Closed {
				t.Fatalf("after the fleet's probe succeeded replica %d is %s, want closed", i, s)
			}
		}
		settle(5 * time.Second)
		for i, s := range states(rs) {
			if s != breaker.Closed {
				t.Fatalf("later, replica %d is %s, want closed (stale votes re-opened it)", i, s)
			}
		}
		if g := rs[4].agent.Snapshot().Guards; len(g) > 0 && len(g[0].OpenVotes) > 0 {
			t.Fatalf("votes not withdrawn: %+v", g)
		}
	})
}

func TestOperatorActionReachesLateJoiner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, nil)
		rs := f.joinN(3)
		settle(100 * time.Millisecond)
		// r2 is partitioned when the action is taken.
		rs[2].store.SetDown(true)
		o, err := rs[0].agent.Act(context.Background(), fleet.Override{Target: "tag:payments", Action: fleet.ActionForceOpen, Actor: "alice", Reason: "incident 42"})
		if err != nil {
			t.Fatal(err)
		}
		if o.Version == 0 || o.By != "r0" {
			t.Fatalf("Act returned %+v, want a version and By r0", o)
		}
		settle(100 * time.Millisecond)
		s0, s1 := rs[0].guard.Breaker().Snapshot(), rs[1].guard.Breaker().Snapshot()
		if s0.State != breaker.ForcedOpen || s0.LastTransition.Actor != "alice" {
			t.Fatalf("r0 (acting): %s by %q, want forced-open by alice", s0.State, s0.LastTransition.Actor)
		}
		if s1.State != breaker.ForcedOpen || s1.LastTransition.Actor != "fleet:alice" || s1.LastTransition.Reason != "incident 42" {
			t.Fatalf("r1: %s by %q (%q), want forced-open by fleet:alice", s1.State, s1.LastTransition.Actor, s1.LastTransition.Reason)
		}
		if s := rs[2].guard.Breaker().State(); s != breaker.Closed {
			t.Fatalf("partitioned r2 is %s before healing, want closed", s)
		}
		late := f.join("late")
		rs[2].store.SetDown(false)
		settle(6 * time.Second) // one reconcile period (5s, jittered by a fifth)
		for _, r := range []*replica{rs[2], late} {
			s := r.guard.Breaker().Snapshot()
			if s.State != breaker.ForcedOpen || s.LastTransition.Actor != "fleet:alice" {
				t.Fatalf("%s after one reconcile period: %s by %q, want forced-open by fleet:alice", r.id, s.State, s.LastTransition.Actor)
			}
		}
		if ov := late.agent.Snapshot().Overrides; len(ov) != 1 || ov[0].Version != o.Version {
			t.Fatalf("late joiner's overrides: %+v", ov)
		}
		// Release reaches everyone, and the fleet does not re-open them.
		if _, err := rs[1].agent.Act(context.Background(), fleet.Override{Target: "tag:payments", Action: fleet.ActionRelease, Actor: "bob"}); err != nil {
			t.Fatal(err)
		}
		settle(200 * time.Millisecond)
		for _, r := range append(rs, late) {
			if s := r.guard.Breaker().State(); s != breaker.Closed {
				t.Fatalf("%s after release: %s, want closed", r.id, s)
			}
		}
		if ov := late.agent.Snapshot().Overrides; len(ov) != 0 {
			t.Fatalf("overrides in force after release: %+v", ov)
		}
	})
}

func TestOperatorWinsOverFleet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, &core.FleetPolicy{Adopt: core.FleetAdoptAny})
		rs := f.joinN(3)
		settle(100 * time.Millisecond)
		rs[2].guard.Disable(breaker.Manual{Actor: "carol", Reason: "known flaky"})
		rs[0].trip(t)
		settle(2 * time.Second)
		if s := rs[2].guard.Breaker().State(); s != breaker.Disabled {
			t.Fatalf("operator's disabled guard is %s after the fleet opened, want disabled", s)
		}
		if s := rs[1].guard.Breaker().State(); s == breaker.Closed {
			t.Fatalf("r1 is closed, want adopted open")
		}
	})
}

func TestActRefusesBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, nil)
		r := f.join("r0")
		for _, o := range []fleet.Override{
			{Target: "dep", Action: fleet.ActionForceOpen},
			{Target: "dep", Action: "explode", Actor: "a"},
			{Target: "", Action: fleet.ActionForceOpen, Actor: "a"},
			{Target: "tag:", Action: fleet.ActionForceOpen, Actor: "a"},
		} {
			if _, err := r.agent.Act(context.Background(), o); err == nil {
				t.Errorf("Act(%+v) succeeded, want an error", o)
			}
		}
		r.store.SetDown(true)
		if _, err := r.agent.Act(context.Background(), fleet.Override{Target: "dep", Action: fleet.ActionForceOpen, Actor: "a"}); err == nil {
			t.Error("Act with the store down succeeded")
		}
		if s := r.guard.Breaker().State(); s != breaker.Closed {
			t.Errorf("a failed Act changed the guard to %s", s)
		}
	})
}

// TestLeaseOfDeadHolderExpires: the replica holding the probe lease dies
// before probing; when the lease expires another replica takes it, and the
// fleet again sends exactly one probe.
func TestLeaseOfDeadHolderExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, &core.FleetPolicy{Adopt: core.FleetAdoptAny})
		rs := f.joinN(4)
		settle(100 * time.Millisecond)
		rs[0].trip(t)
		settle(1100 * time.Millisecond) // all half-open; one holds the lease
		var holder string
		for _, g := range rs[1].agent.Snapshot().Guards {
			if g.Lease != nil {
				holder = g.Lease.Holder
			}
		}
		if holder == "" {
			t.Fatalf("no lease after the fleet half-opened: %+v", rs[1].agent.Snapshot().Guards)
		}
		var live []*replica
		for _, r := range rs {
			if r.id == holder {
				r.store.SetDown(true)
				_ = r.agent.Close()
				continue
			}
			live = append(live, r)
		}
		probes := 0
		for _, r := range live {
			_ = r.guard.Do(context.Background(), func(context.Context) error { probes++; return nil })
		}
		if probes != 0 {
			t.Fatalf("%d probes while the dead holder's lease runs, want 0", probes)
		}
		settle(3 * time.Second) // the lease expires (probe timeout + margin) and is taken again
		for _, r := range live {
			_ = r.guard.Do(context.Background(), func(context.Context) error { probes++; return nil })
		}
		if probes != 1 {
			t.Fatalf("%d probes after the dead holder's lease expired, want 1", probes)
		}
	})
}
