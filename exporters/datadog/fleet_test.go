package datadog_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/exporters/datadog"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/metrics"
)

// fakeFleet is a FleetSource whose snapshot the test sets.
type fakeFleet struct {
	mu sync.Mutex
	s  fleet.Snapshot
}

func (f *fakeFleet) Snapshot() fleet.Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}

func (f *fakeFleet) set(s fleet.Snapshot) {
	f.mu.Lock()
	f.s = s
	f.mu.Unlock()
}

// TestFleetMetrics: with WithFleet, every metric of metrics.Fleet arrives
// at a real DogStatsD listener under its name, with the snapshot's value:
// gauges as they are, counters as the increase since the previous push,
// the per-guard ones tagged with their guard; a guard the fleet no longer
// has a view of has no series.
func TestFleetMetrics(t *testing.T) {
	src := &fakeFleet{}
	snap := fleet.Snapshot{
		Members: []fleet.Member{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		Guards: []fleet.GuardView{
			{Guard: "payments.charge", OpenVotes: []string{"a", "b"}, Adopted: true},
			{Guard: "odd|name", OpenVotes: []string{}},
		},
		Store: fleet.StoreHealth{Up: false, Errors: 5, Timeouts: 2, Skipped: 3, Dropped: 4, Malformed: 6, AllowedByFailureMode: 7},
	}
	src.set(snap)
	ag := newAgent(t)
	exp := datadog.New(newRegistry(t), ag.client, datadog.WithFleet(src), datadog.WithTags("env:test"))
	defer exp.Close()
	ps := ag.flush(t, exp)
	table := metrics.Fleet()
	for i := range table {
		m := &table[i]
		switch {
		case m.PerGuard:
			for j := range snap.Guards {
				g := &snap.Guards[j]
				want := m.Read(&snap, g)
				tag := "guard:" + map[string]string{"payments.charge": "payments.charge", "odd|name": "odd_name"}[g.Guard]
				if got := ps.gauge(t, m.Name, tag, "env:test"); got != want {
					t.Errorf("%s{%s} = %v, want %v", m.Name, tag, got, want)
				}
			}
		case m.Kind == metrics.Counter:
			if got := ps.count(t, m.Name, "env:test"); float64(got) != m.Read(&snap, nil) {
				t.Errorf("%s = %d, want %v", m.Name, got, m.Read(&snap, nil))
			}
		default:
			if got := ps.gauge(t, m.Name, "env:test"); got != m.Read(&snap, nil) {
				t.Errorf("%s = %v, want %v", m.Name, got, m.Read(&snap, nil))
			}
		}
	}
	// Counters are deltas; a guard gone has no series.
	snap.Store.Errors, snap.Store.AllowedByFailureMode = 9, 7
	snap.Guards = snap.Guards[:1]
	src.set(snap)
	ps = ag.flush(t, exp)
	if got := ps.count(t, "breakerbox.fleet.store.errors"); got != 4 {
		t.Errorf("store.errors count %d on the second push, want 4 (9 - 5)", got)
	}
	if got := ps.find("c", "breakerbox.fleet.rate_limiter.allowed_by_failure_mode"); len(got) != 0 {
		t.Errorf("an unchanged counter was sent: %v", got)
	}
	if got := ps.find("g", "breakerbox.fleet.guard.open_votes", "guard:odd_name"); len(got) != 0 {
		t.Errorf("a guard no longer in the snapshot was sent: %v", got)
	}
	if got := ps.gauge(t, "breakerbox.fleet.store.up"); got != 0 {
		t.Errorf("store.up = %v, want 0", got)
	}
}

// TestFleetMetricsOfAnAgent: an exporter given a real fleet agent sends
// its membership, store health and per-guard views.
func TestFleetMetricsOfAnAgent(t *testing.T) {
	store := fleet.NewMemoryStore()
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "dep", Match: []string{"dep"},
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1, DisableFailureRate: true, OpenDuration: core.Duration(time.Minute)}}))
	g := reg.MustGuard("dep")
	a, err := fleet.Join(reg, store, fleet.WithReplicaID("r1"), fleet.WithHeartbeat(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// Trip it: the replica votes open.
	_ = g.Do(t.Context(), func(context.Context) error { return errors.New("down") })
	deadline := time.Now().Add(10 * time.Second)
	for len(a.Snapshot().Members) != 1 || len(a.Snapshot().Guards) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the agent's snapshot never showed its member and vote: %+v", a.Snapshot())
		}
		time.Sleep(5 * time.Millisecond)
	}
	ag := newAgent(t)
	exp := datadog.New(reg, ag.client, datadog.WithFleet(a))
	defer exp.Close()
	ps := ag.flush(t, exp)
	if got := ps.gauge(t, "breakerbox.fleet.members"); got != 1 {
		t.Errorf("members = %v, want 1", got)
	}
	if got := ps.gauge(t, "breakerbox.fleet.store.up"); got != 1 {
		t.Errorf("store.up = %v, want 1", got)
	}
	if got := ps.gauge(t, "breakerbox.fleet.guard.open_votes", "guard:dep"); got != 1 {
		t.Errorf("open_votes{dep} = %v, want 1", got)
	}
}

// Send a replica's fleet metrics (store health, members, votes) with its
// guards' metrics: WithFleet reads the agent's Snapshot at every push.
func ExampleWithFleet() {
	reg, _ := core.NewRegistry()
	agent, err := fleet.Join(reg, fleet.NewMemoryStore(), fleet.WithReplicaID("checkout-1"))
	if err != nil {
		panic(err)
	}
	defer agent.Close()
	client := &statsd.NoOpClient{} // statsd.New("127.0.0.1:8125") in a program
	exp := datadog.New(reg, client, datadog.WithFleet(agent))
	defer exp.Close()
	fmt.Println(exp.Flush())
	// Output: <nil>
}
