package quota_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/quota"
)

func TestFairShare(t *testing.T) {
	for _, c := range []struct {
		name            string
		cap             float64
		demands, floors []float64
		want            []float64
	}{
		{"regions", 1000, []float64{100, 200, 900}, nil, []float64{100, 200, 700}},
		{"regions with floors", 1000, []float64{100, 200, 900}, []float64{100, 100, 100}, []float64{100, 200, 700}},
		{"replicas", 700, []float64{450, 450}, []float64{50, 50}, []float64{350, 350}},
		{"floor above demand", 1000, []float64{0, 50, 2000}, []float64{100, 100, 100}, []float64{100, 100, 800}},
		{"all met", 1000, []float64{100, 100}, nil, []float64{100, 100}},
		{"even", 900, []float64{1000, 1000, 1000}, nil, []float64{300, 300, 300}},
		{"floors over capacity", 100, []float64{10, 10}, []float64{100, 100}, []float64{50, 50}},
		{"nothing", 0, []float64{10}, nil, []float64{0}},
	} {
		got := quota.FairShare(c.cap, c.demands, c.floors)
		sum := 0.0
		for i := range got {
			sum += got[i]
			if !near(got[i], c.want[i], 1e-9) {
				t.Errorf("%s: FairShare(%v, %v, %v) = %v, want %v", c.name, c.cap, c.demands, c.floors, got, c.want)
				break
			}
		}
		if sum > c.cap+1e-9 {
			t.Errorf("%s: shares sum to %v > %v", c.name, sum, c.cap)
		}
	}
}

func TestResourceValidate(t *testing.T) {
	ok := quota.Resource{Name: "openai-tokens", Capacity: 1000, SafeCapacity: 100}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid resource refused: %v", err)
	}
	for _, c := range []struct {
		mut  func(*quota.Resource)
		want string
	}{
		{func(r *quota.Resource) { r.Name = "" }, "name is empty"},
		{func(r *quota.Resource) { r.Name = "a/b" }, `"a/b"`},
		{func(r *quota.Resource) { r.Capacity = 0 }, "capacity 0"},
		{func(r *quota.Resource) { r.Capacity = -5 }, "capacity -5"},
		{func(r *quota.Resource) { r.SafeCapacity = -1 }, "safeCapacity -1"},
		{func(r *quota.Resource) { r.SafeCapacity = 2000 }, "safeCapacity 2000"},
		{func(r *quota.Resource) { r.LeaseTTL = -time.Second }, "leaseTTL -1s"},
		{func(r *quota.Resource) { r.RefreshEvery = -time.Second }, "refreshEvery -1s"},
		{func(r *quota.Resource) { r.LeaseTTL, r.RefreshEvery = 2*time.Second, time.Second }, "leaseTTL 2s"},
	} {
		r := ok
		c.mut(&r)
		err := r.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want an error naming %q", r, err, c.want)
		}
		if _, err := quota.NewCoordinator(r, fleet.NewMemoryStore(), fleet.NewMemoryStore(), "eu", "c1"); err == nil {
			t.Errorf("NewCoordinator(%+v) accepted", r)
		}
		if _, err := quota.NewLimiter(r, fleet.NewMemoryStore(), "r1"); err == nil {
			t.Errorf("NewLimiter(%+v) accepted", r)
		}
	}
	if _, err := quota.NewCoordinator(ok, fleet.NewMemoryStore(), fleet.NewMemoryStore(), "eu/west", "c1"); err == nil || !strings.Contains(err.Error(), `"eu/west"`) {
		t.Errorf("bad region: %v", err)
	}
	if _, err := quota.NewLimiter(ok, nil, "r1"); err == nil {
		t.Error("nil store accepted")
	}
}

var testRes = quota.Resource{Name: "openai-tokens", Capacity: 1000, SafeCapacity: 100, LeaseTTL: 5 * time.Second, RefreshEvery: time.Second}

// TestFairShareAcrossRegions: three regions asking 100, 200 and 900 calls
// a second of 1000 get 100, 200 and 700, and within a region the two
// replicas split their region's lease by their demands; the replicas'
// rates never sum above the capacity on the way.
func TestFairShareAcrossRegions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTree(t, testRes, []string{"a", "b", "c"}, 2)
		demand := [][]float64{{50, 50}, {150, 50}, {450, 450}}
		ld := tr.drive(func(r, n int) float64 { return demand[r][n] })
		w := tr.watch(100*time.Millisecond, ld.stop)
		time.Sleep(20 * time.Second)
		want := []float64{100, 200, 700}
		for i, r := range tr.regions {
			s, ok := r.coordinator()
			if !ok || !s.OnLease || !near(s.RegionCapacity, want[i], 1) {
				t.Errorf("region %s: coordinator %v, %+v; want a lease of %v", r.name, ok, s, want[i])
			}
		}
		// Within b (150 and 50 asked of 200, floors 50): 150 and 50.
		wantRep := [][]float64{{50, 50}, {150, 50}, {350, 350}}
		for i, r := range tr.regions {
			for j, n := range r.nodes {
				st := n.lim.Stats()
				if !st.OnLease || !near(st.Rate, wantRep[i][j], 1) {
					t.Errorf("replica %s-%d: %+v, want a lease of %v", r.name, j, st, wantRep[i][j])
				}
			}
		}
		// What they admit over 10 s follows.
		before := make([]int64, 3)
		for i := range before {
			before[i] = ld.admitted[i].Load()
		}
		time.Sleep(10 * time.Second)
		for i := range before {
			got := float64(ld.admitted[i].Load()-before[i]) / 10
			if !near(got, want[i], want[i]*0.03) {
				t.Errorf("region %s admitted %.1f/s, want about %v", tr.regions[i].name, got, want[i])
			}
		}
		ld.end()
		w.Wait()
	})
}
