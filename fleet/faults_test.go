package fleet_test

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// hangingStore answers nothing: every call waits for its context to end.
type hangingStore struct{ fleet.Store }

func (hangingStore) wait(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
func (s hangingStore) Put(ctx context.Context, _ fleet.Kind, _ string, _ []byte, _ time.Duration) error {
	return s.wait(ctx)
}
func (s hangingStore) Create(ctx context.Context, _ fleet.Kind, _ string, _ []byte, _ time.Duration) (bool, fleet.Entry, error) {
	return false, fleet.Entry{}, s.wait(ctx)
}
func (s hangingStore) CompareAndPut(ctx context.Context, _ fleet.Kind, _ string, _, _ []byte, _ time.Duration) (bool, error) {
	return false, s.wait(ctx)
}
func (s hangingStore) CompareAndDelete(ctx context.Context, _ fleet.Kind, _ string, _ []byte) (bool, error) {
	return false, s.wait(ctx)
}
func (s hangingStore) Delete(ctx context.Context, _ fleet.Kind, _ string) error { return s.wait(ctx) }
func (s hangingStore) Get(ctx context.Context, _ fleet.Kind, _ string) (fleet.Entry, bool, error) {
	return fleet.Entry{}, false, s.wait(ctx)
}
func (s hangingStore) List(ctx context.Context, _ fleet.Kind) ([]fleet.Entry, error) {
	return nil, s.wait(ctx)
}
func (s hangingStore) NextVersion(ctx context.Context) (uint64, error)     { return 0, s.wait(ctx) }
func (s hangingStore) Watch(ctx context.Context, _ func(fleet.Hint)) error { return s.wait(ctx) }
func (hangingStore) Close() error                                          { return nil }

// TestStoreDownChangesNothingLocally runs the same calls through a guard
// of an unjoined registry and guards of registries joined to a store that
// fails or hangs: the states are the same at every step, and no call waits.
func TestStoreDownChangesNothingLocally(t *testing.T) {
	for _, tc := range []struct {
		name  string
		store func() fleet.Store
	}{
		{"failing", func() fleet.Store { s := fleet.NewMemoryStore(); s.SetDown(true); return s }},
		{"hanging", func() fleet.Store { return hangingStore{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pol := depPolicy(&core.FleetPolicy{Adopt: core.FleetAdoptAny})
				plain, err := core.NewRegistry(core.WithPolicies(pol))
				if err != nil {
					t.Fatal(err)
				}
				joined, err := core.NewRegistry(core.WithPolicies(pol))
				if err != nil {
					t.Fatal(err)
				}
				a, err := fleet.Join(joined, tc.store(), fleet.WithReplicaID("r0"))
				if err != nil {
					t.Fatal(err)
				}
				defer a.Close()
				gp, gj := plain.MustGuard("dep"), joined.MustGuard("dep")
				var reached [2]int
				steps := []struct {
					name string
					err  error
					wait time.Duration
				}{
					{"ok", nil, 0}, {"fail", errDown, 0}, {"fail", errDown, 0}, {"rejected", nil, 0},
					{"probe fails", errDown, 1100 * time.Millisecond}, {"rejected", nil, 0},
					{"probe succeeds", nil, 1100 * time.Millisecond}, {"ok", nil, 0},
				}
				for i, st := range steps {
					if st.wait > 0 {
						time.Sleep(st.wait)
					}
					for j, g := range []*core.Guard{gp, gj} {
						start := time.Now()
						_ = g.Do(context.Background(), func(context.Context) error { reached[j]++; return st.err })
						if d := time.Since(start); d != 0 {
							t.Fatalf("step %d (%s): a call waited %s", i, st.name, d)
						}
					}
					if sp, sj := gp.Breaker().State(), gj.Breaker().State(); sp != sj || reached[0] != reached[1] {
						t.Fatalf("step %d (%s): unjoined %s (%d calls reached), joined %s (%d)", i, st.name, sp, reached[0], sj, reached[1])
					}
				}
				synctest.Wait()
				if h := a.Health(); h.Up || h.LastError == "" || h.Errors == 0 || h.Skipped == 0 {
					t.Errorf("health with the store %s: %+v, want down with an error, errors and skipped calls counted", tc.name, h)
				}
				if h := a.Health(); tc.name == "hanging" && h.Timeouts == 0 {
					t.Errorf("health with the store hanging: %+v, want timeouts counted", h)
				}
			})
		})
	}
}

// TestStoreHealthRecovers: a store that comes back is seen as up again.
func TestStoreHealthRecovers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, nil)
		r := f.join("r0")
		settle(100 * time.Millisecond)
		if h := r.agent.Health(); !h.Up {
			t.Fatalf("health %+v, want up", h)
		}
		r.store.SetDown(true)
		settle(3 * time.Second)
		if h := r.agent.Health(); h.Up {
			t.Fatalf("health with the store down: %+v, want down", h)
		}
		r.store.SetDown(false)
		settle(5 * time.Second)
		if h := r.agent.Health(); !h.Up {
			t.Fatalf("health after the store came back: %+v, want up", h)
		}
	})
}

// TestMalformedValuesAreCounted puts values no replica wrote into every
// kind: each is skipped and counted, and the fleet keeps working.
func TestMalformedValuesAreCounted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, &core.FleetPolicy{Adopt: core.FleetAdoptAny})
		ctx := context.Background()
		s := f.store
		_ = s.Put(ctx, fleet.KindMember, "junk", []byte("not json"), 0)
		_ = s.Put(ctx, fleet.KindVerdict, "dep@ghost", []byte(`{"v":2,"kind":"verdict","data":{"guard":"dep","replica":"ghost","open":true}}`), 0)
		_ = s.Put(ctx, fleet.KindVerdict, "dep@liar", []byte(`{"v":1,"kind":"verdict","data":{"guard":"dep","replica":"someone-else","open":true}}`), 0)
		_ = s.Put(ctx, fleet.KindOverride, "dep", []byte(`{"v":1,"kind":"override","data":{"version":9,"target":"dep","action":"explode","actor":"x"}}`), 0)
		_ = s.Put(ctx, fleet.KindLease, "dep", []byte{0xff, 0x00}, 0) // blocks probing unless replaced
		rs := f.joinN(3)
		settle(200 * time.Millisecond)
		for i, st := range states(rs) {
			if st != breaker.Closed {
				t.Fatalf("foreign open votes opened replica %d (%s)", i, st)
			}
		}
		if h := rs[0].agent.Health(); h.Malformed < 4 {
			t.Fatalf("malformed %d, want at least 4", h.Malformed)
		}
		// The fleet still works: a trip is adopted, and the foreign lease
		// does not keep the fleet from probing.
		rs[0].trip(t)
		settle(200 * time.Millisecond)
		for i, st := range states(rs) {
			if st != breaker.Open {
				t.Fatalf("replica %d is %s, want open", i, st)
			}
		}
		settle(time.Second)
		probes := 0
		// The probe fails: a successful one would close the other
		// replicas (as it should) while this loop still runs, and their
		// calls would reach the dependency as closed calls, not probes.
		for _, r := range rs {
			_ = r.guard.Do(ctx, func(context.Context) error { probes++; return errDown })
		}
		if probes != 1 {
			t.Fatalf("%d probes after a foreign lease value, want 1", probes)
		}
	})
}

// TestQueueFullDropsAndCounts: with a queue of one and a store that
// hangs, state changes are dropped and counted, and calls never wait.
func TestQueueFullDropsAndCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, _ := core.NewRegistry(core.WithPolicies(depPolicy(nil)))
		a, err := fleet.Join(reg, hangingStore{}, fleet.WithQueue(1), fleet.WithReplicaID("r0"))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		g := reg.MustGuard("dep")
		start := time.Now()
		for range 20 {
			_ = g.Do(context.Background(), func(context.Context) error { return errDown })
			g.Reset(breaker.Manual{Actor: "test"})
		}
		if time.Since(start) != 0 {
			t.Fatal("calls waited for the agent")
		}
		if d := a.Health().Dropped; d == 0 {
			t.Fatal("no drop counted with a full queue")
		}
	})
}

func TestJoinRefusesNil(t *testing.T) {
	reg, _ := core.NewRegistry()
	if _, err := fleet.Join(nil, fleet.NewMemoryStore()); err == nil {
		t.Error("Join(nil registry) succeeded")
	}
	if _, err := fleet.Join(reg, nil); err == nil {
		t.Error("Join(nil store) succeeded")
	}
}

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]string{"all": "all", "tag:x": `tag "x"`, "name:all": `name "all"`, "GET /q": `name "GET /q"`} {
		sel, err := fleet.ParseTarget(in)
		if err != nil || sel.String() != want {
			t.Errorf("ParseTarget(%q) = %s, %v; want %s", in, sel, err, want)
		}
	}
	for _, in := range []string{"", "tag:", "name:"} {
		if _, err := fleet.ParseTarget(in); err == nil {
			t.Errorf("ParseTarget(%q) succeeded", in)
		}
	}
}

// TestDroppedEventsAreRepaired: with a queue of one, the state changes of
// a burst are dropped; the next heartbeat still publishes the vote of the
// guard left open, and the fleet adopts it.
func TestDroppedEventsAreRepaired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, &core.FleetPolicy{Adopt: core.FleetAdoptAny}, fleet.WithQueue(1))
		rs := f.joinN(2)
		settle(100 * time.Millisecond)
		for range 5 {
			rs[0].trip(t)
			rs[0].guard.Reset(breaker.Manual{Actor: "test"})
		}
		rs[0].trip(t) // its event is dropped: the queue holds an older one
		if rs[0].agent.Health().Dropped == 0 {
			t.Fatal("no event dropped; the test does not test the repair")
		}
		settle(2 * time.Second)
		if s := rs[1].guard.Breaker().State(); s == breaker.Closed {
			t.Fatalf("r1 is %s after r0 tripped with its events dropped, want adopted open (or half-open since)", s)
		}
	})
}

// slowStore answers every call after a delay (under the agent's timeout).
type slowStore struct {
	*fleet.MemoryStore
	delay time.Duration
}

func (s slowStore) Put(ctx context.Context, k fleet.Kind, key string, v []byte, ttl time.Duration) error {
	time.Sleep(s.delay)
	return s.MemoryStore.Put(ctx, k, key, v, ttl)
}
func (s slowStore) Get(ctx context.Context, k fleet.Kind, key string) (fleet.Entry, bool, error) {
	time.Sleep(s.delay)
	return s.MemoryStore.Get(ctx, k, key)
}
func (s slowStore) List(ctx context.Context, k fleet.Kind) ([]fleet.Entry, error) {
	time.Sleep(s.delay)
	return s.MemoryStore.List(ctx, k)
}
func (s slowStore) Create(ctx context.Context, k fleet.Kind, key string, v []byte, ttl time.Duration) (bool, fleet.Entry, error) {
	time.Sleep(s.delay)
	return s.MemoryStore.Create(ctx, k, key, v, ttl)
}

// TestSlowStore: a store answering in 60ms (the timeout is 100ms) slows
// the fleet's convergence, never a call, and the fleet still converges.
func TestSlowStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := fleet.NewMemoryStore()
		pol := depPolicy(nil)
		var gs []*core.Guard
		for i := range 4 {
			reg, _ := core.NewRegistry(core.WithPolicies(pol))
			a, err := fleet.Join(reg, slowStore{m.Client(), 60 * time.Millisecond}, fleet.WithReplicaID(fmt.Sprint("r", i)), fleet.WithHeartbeat(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			gs = append(gs, reg.MustGuard("dep"))
		}
		settle(time.Second)
		start := time.Now()
		for _, g := range gs[:2] {
			for range 2 {
				_ = g.Do(context.Background(), func(context.Context) error { return errDown })
			}
		}
		if time.Since(start) != 0 {
			t.Fatal("calls waited for a slow store")
		}
		settle(500 * time.Millisecond)
		for i, g := range gs[2:] {
			if s := g.Breaker().State(); s != breaker.Open {
				t.Fatalf("replica %d is %s with a slow store, want open", i+2, s)
			}
		}
	})
}
