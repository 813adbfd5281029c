package metrics_test

import (
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/metrics"
)

func TestFleetWellFormed(t *testing.T) {
	s := fleet.Snapshot{
		Members: []fleet.Member{{ID: "a"}, {ID: "b"}},
		Guards:  []fleet.GuardView{{Guard: "g", OpenVotes: []string{"b"}, Adopted: true}},
		Store:   fleet.StoreHealth{Up: true, Dropped: 1, Malformed: 2, AllowedByFailureMode: 3, Errors: 5, Timeouts: 4, Skipped: 6},
	}
	want := map[string]float64{
		"breakerbox.fleet.store.up": 1, "breakerbox.fleet.publications.dropped": 1, "breakerbox.fleet.values.malformed": 2,
		"breakerbox.fleet.rate_limiter.allowed_by_failure_mode": 3, "breakerbox.fleet.members": 2,
		"breakerbox.fleet.guard.open_votes": 1, "breakerbox.fleet.guard.adopted": 1,
		"breakerbox.fleet.store.errors": 5, "breakerbox.fleet.store.timeouts": 4, "breakerbox.fleet.store.skipped": 6,
	}
	ms := metrics.Fleet()
	if len(ms) != len(want) {
		t.Fatalf("%d fleet metrics, want %d", len(ms), len(want))
	}
	for _, m := range ms {
		// Every one is a whole number: otelbreaker observes them as int64.
		if !m.Integer || !strings.HasPrefix(m.Name, "breakerbox.fleet.") || m.Description == "" || m.Unit == "" || (m.Kind != metrics.Counter && m.Kind != metrics.Gauge) {
			t.Errorf("%+v", m)
		}
		var g *fleet.GuardView
		if m.PerGuard {
			g = &s.Guards[0]
		}
		if got := m.Read(&s, g); got != want[m.Name] {
			t.Errorf("%s = %v, want %v", m.Name, got, want[m.Name])
		}
		if n := testing.AllocsPerRun(10, func() { m.Read(&s, g) }); n != 0 {
			t.Errorf("%s: Read allocates %v", m.Name, n)
		}
	}
	s.Store.Up = false
	if ms[0].Read(&s, nil) != 0 {
		t.Error("store down reads as up")
	}
}
