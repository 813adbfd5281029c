package datadog_test

import (
	"sync"
	"testing"

	"github.com/breakerbox/breakerbox/exporters/datadog"
	"github.com/breakerbox/breakerbox/fleet/region"
	"github.com/breakerbox/breakerbox/metrics"
)

// fakeRegions is a metrics.RegionsSource whose report and health the test
// sets.
type fakeRegions struct {
	mu  sync.Mutex
	rep region.Report
	h   region.Health
}

func (f *fakeRegions) Regions() region.Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rep
}

func (f *fakeRegions) Health() region.Health {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.h
}

// TestRegionMetrics: with WithRegions, every metric of metrics.Regions
// arrives at a real DogStatsD listener under its name: gauges as they are,
// counters as the increase since the previous push, the per-region ones
// tagged with their region; a region gone has no series.
func TestRegionMetrics(t *testing.T) {
	src := &fakeRegions{
		rep: region.Report{Regions: []region.RegionView{{Region: "eu", Members: 3}, {Region: "us", Age: 4, Members: 2}}},
		h: region.Health{Store: region.StoreHealth{Up: true, Errors: 2}, GlobalOpens: 5, Held: 1,
			Relay: &region.RelayHealth{Links: []region.StoreHealth{{Region: "eu", Up: true}, {Region: "us"}}, RelayStats: region.RelayStats{Copied: 11, Errors: 3}}},
	}
	s := metrics.RegionsSnapshot{Report: src.rep, Health: src.h}
	ag := newAgent(t)
	exp := datadog.New(newRegistry(t), ag.client, datadog.WithRegions(src), datadog.WithTags("env:test"))
	defer exp.Close()
	ps := ag.flush(t, exp)
	table := metrics.Regions()
	for i := range table {
		m := &table[i]
		switch {
		case m.PerRegion:
			for j := range s.Report.Regions {
				v := &s.Report.Regions[j]
				if got := ps.gauge(t, m.Name, "region:"+v.Region, "env:test"); got != m.Read(&s, v) {
					t.Errorf("%s{%s} = %v, want %v", m.Name, v.Region, got, m.Read(&s, v))
				}
			}
		case m.Kind == metrics.Counter:
			want := m.Read(&s, nil)
			if want == 0 {
				continue // a zero counter sends no count
			}
			if got := ps.count(t, m.Name, "env:test"); float64(got) != want {
				t.Errorf("%s = %d, want %v", m.Name, got, want)
			}
		default:
			if got := ps.gauge(t, m.Name, "env:test"); got != m.Read(&s, nil) {
				t.Errorf("%s = %v, want %v", m.Name, got, m.Read(&s, nil))
			}
		}
	}
	src.mu.Lock()
	src.h.Relay.Copied = 15
	src.rep.Regions = src.rep.Regions[:1]
	src.mu.Unlock()
	ps = ag.flush(t, exp)
	if got := ps.count(t, "breakerbox.region.relay.copies"); got != 4 {
		t.Errorf("relay.copies count %d on the second push, want 4", got)
	}
	if got := ps.find("g", "breakerbox.region.summary.age", "region:us"); len(got) != 0 {
		t.Errorf("a region no longer reported was sent: %v", got)
	}
}
