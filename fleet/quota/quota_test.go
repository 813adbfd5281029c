package quota_test

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
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
		// A century wrapped 6*refreshEvery and passed (the stress pass found it).
		{func(r *quota.Resource) { r.LeaseTTL, r.RefreshEvery = 20*365*24*time.Hour, 100*365*24*time.Hour }, "refreshEvery 876000h0m0s"},
		{func(r *quota.Resource) { r.LeaseTTL = 100 * 365 * 24 * time.Hour }, "leaseTTL 876000h0m0s"},
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

var testRes = quota.Resource{Name: "openai-tokens", Capacity: 1000, SafeCapacity: 100, LeaseTTL: 6 * time.Second, RefreshEvery: time.Second}

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
			if !ok || !s.OnLease || !near(s.RegionCapacity, want[i], 5) {
				t.Errorf("region %s: coordinator %v, %+v; want a lease of %v", r.name, ok, s, want[i])
			}
		}
		// Within b (150 and 50 asked of 200, floors 50): 150 and 50.
		wantRep := [][]float64{{50, 50}, {150, 50}, {350, 350}}
		for i, r := range tr.regions {
			for j, n := range r.nodes {
				st := n.lim.Stats()
				if !st.OnLease || !near(st.Rate, wantRep[i][j], 5) {
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

// TestDemandChange: when the demands swap (a asks 900, c 100), the shares
// follow within a few refreshes (2 to 3.5 s with 1 s refreshes and 6 s
// leases), the shrinking region's old lease counted
// until it is acknowledged or expires, so the replicas' rates never sum
// above the capacity (checked every 100 ms) and the root never commits
// more.
func TestDemandChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTree(t, testRes, []string{"a", "b", "c"}, 2)
		var swapped atomic.Bool
		ld := tr.drive(func(r, n int) float64 {
			d := []float64{50, 100, 450}
			if swapped.Load() {
				d = []float64{450, 100, 50}
			}
			return d[r]
		})
		w := tr.watch(100*time.Millisecond, ld.stop)
		time.Sleep(20 * time.Second)
		if got := tr.regionLeases(); !near(got[0], 100, 5) || !near(got[2], 700, 5) {
			t.Fatalf("before the change: leases %v, want 100/200/700", got)
		}
		swapped.Store(true)
		moved := time.Duration(0)
		for i := range 100 {
			time.Sleep(100 * time.Millisecond)
			got := tr.regionLeases()
			if near(got[0], 700, 5) && near(got[1], 200, 5) && near(got[2], 100, 5) {
				moved = time.Duration(i+1) * 100 * time.Millisecond
				break
			}
		}
		if moved == 0 {
			t.Fatalf("after 10 s the leases are %v, want 700/200/100", tr.regionLeases())
		}
		t.Logf("shares moved in %v (refresh every %v, lease %v)", moved, testRes.RefreshEvery, testRes.LeaseTTL)
		// The acknowledgements free the shrinking region's capacity within
		// a few refreshes (each hop of replica → region → root and back
		// costs up to half a refresh); without them it would wait for its old lease to expire.
		if moved > testRes.LeaseTTL+3*testRes.RefreshEvery {
			t.Errorf("shares took %v to move, more than a lease and three refreshes", moved)
		}
		ld.end()
		w.Wait()
	})
}

// TestRootUnreachable: with the root store cut from every region, each
// region admits its safe capacity.
func TestRootUnreachable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTree(t, testRes, []string{"a", "b", "c"}, 2)
		ld := tr.drive(func(r, n int) float64 { return 400 })
		w := tr.watch(100*time.Millisecond, ld.stop)
		time.Sleep(15 * time.Second)
		for _, r := range tr.regions {
			r.cut(true)
		}
		time.Sleep(testRes.LeaseTTL + 3*testRes.RefreshEvery)
		before := make([]int64, 3)
		for i := range before {
			before[i] = ld.admitted[i].Load()
		}
		time.Sleep(10 * time.Second)
		for i, r := range tr.regions {
			s, ok := r.coordinator()
			if !ok || s.OnLease || s.RegionCapacity != testRes.SafeCapacity {
				t.Errorf("region %s: %v %+v, want its safe capacity without a lease", r.name, ok, s)
			}
			got := float64(ld.admitted[i].Load()-before[i]) / 10
			if !near(got, testRes.SafeCapacity, testRes.SafeCapacity*0.05) {
				t.Errorf("region %s admitted %.1f/s, want its safe capacity %v", r.name, got, testRes.SafeCapacity)
			}
		}
		ld.end()
		w.Wait()
	})
}

// TestPartitionedRegion: region a, cut from the root, keeps serving at its
// safe capacity while b and c share the rest; when the link heals it gets
// its share back without the regions ever admitting more than the
// capacity plus the replicas' bursts in any second.
func TestPartitionedRegion(t *testing.T) {
	for _, holdsRoot := range []bool{false, true} {
		name := "region without the root"
		if holdsRoot {
			name = "region holding the root"
		}
		t.Run(name, func(t *testing.T) { testPartitionedRegion(t, holdsRoot) })
	}
}

func testPartitionedRegion(t *testing.T, holdsRoot bool) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTree(t, testRes, []string{"a", "b", "c"}, 2)
		ld := tr.drive(func(r, n int) float64 { return 400 })
		w := tr.watch(100*time.Millisecond, ld.stop)
		// Burst: each of six replicas may hold 100 ms of its rate.
		ps := tr.perSecond(ld, testRes.Capacity*1.1)
		time.Sleep(15 * time.Second)
		if got := tr.regionLeases(); !near(got[0], 1000.0/3, 5) || !near(got[1], 1000.0/3, 5) || !near(got[2], 1000.0/3, 5) {
			t.Errorf("before the partition: leases %v", got)
		}
		// The region to cut: the one whose process holds the root, or not.
		p := -1
		root, _ := tr.rootHolder()
		for i, r := range tr.regions {
			has := false
			for _, n := range r.nodes {
				has = has || n == root
			}
			if has == holdsRoot {
				p = i
				break
			}
		}
		if p < 0 {
			t.Fatal("no region to cut")
		}
		tr.regions[p].cut(true)
		// If its coordinator held the root, another takes it over after
		// the election expires and learns for a lease period first.
		time.Sleep(2*testRes.LeaseTTL + 5*testRes.RefreshEvery)
		got := tr.regionLeases()
		s, _ := tr.regions[p].coordinator()
		if s.OnLease || got[p] != testRes.SafeCapacity {
			t.Errorf("partitioned: %+v, leases %v; want region %d at 100 without a lease", s, got, p)
		}
		for i := range got {
			if i != p && !near(got[i], 450, 5) {
				t.Errorf("partitioned: leases %v, want the others at 450", got)
			}
		}
		a0 := ld.admitted[p].Load()
		time.Sleep(10 * time.Second)
		if got := float64(ld.admitted[p].Load()-a0) / 10; !near(got, 100, 5) {
			t.Errorf("partitioned region admitted %.1f/s, want its safe capacity 100", got)
		}
		tr.regions[p].cut(false)
		time.Sleep(15 * time.Second)
		if got := tr.regionLeases(); !near(got[0], 1000.0/3, 5) || !near(got[1], 1000.0/3, 5) || !near(got[2], 1000.0/3, 5) {
			t.Errorf("healed: leases %v, want even shares", got)
		}
		ld.end()
		w.Wait()
		ps.Wait()
	})
}

// TestCoordinatorFailover: when the root's coordinator dies (its links
// cut, then closed), another takes the root lease, learns for one lease
// period (renewing what regions hold, granting nothing above it) and then
// shares again; with leases of eight refreshes, the regions whose
// coordinators live keep their leases across the takeover, and the sum
// never exceeds the capacity.
func TestCoordinatorFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		res := testRes
		res.LeaseTTL = 8 * res.RefreshEvery
		tr := newTree(t, res, []string{"a", "b", "c"}, 2)
		var shift atomic.Bool
		ld := tr.drive(func(r, n int) float64 {
			if shift.Load() && r == 0 {
				return 50
			}
			return 400
		})
		w := tr.watch(100*time.Millisecond, ld.stop)
		time.Sleep(15 * time.Second)
		old, ok := tr.rootHolder()
		if !ok {
			t.Fatal("no root")
		}
		var oldRegion *region
		for _, r := range tr.regions {
			if slices.Contains(r.nodes, old) {
				oldRegion = r
			}
		}
		old.rootLink.SetDown(true)
		old.regLink.SetDown(true)
		shift.Store(true) // a asks less: b and c could grow, but not while the new root learns
		var newRoot *node
		leases := tr.regionLeases()
		for range 100 {
			time.Sleep(100 * time.Millisecond)
			if n, ok := tr.rootHolder(); ok && n != old {
				newRoot = n
				break
			}
		}
		if newRoot == nil {
			t.Fatal("nobody took the root over")
		}
		if s := newRoot.coord.Stats(); !s.RootLearning {
			t.Errorf("new root %+v is not learning", s)
		}
		for newRoot.coord.Stats().RootLearning {
			for i, l := range tr.regionLeases() {
				if l > leases[i]+1e-9 {
					t.Errorf("region %d grew from %v to %v while the root was learning", i, leases[i], l)
				}
				// With leases of eight refreshes and more, a region whose
				// coordinator lives keeps its lease across the takeover
				// (three refreshes for the election key to expire, two for
				// the answer to reach it).
				if s, ok := tr.regions[i].coordinator(); ok && !s.OnLease && tr.regions[i] != oldRegion {
					t.Errorf("region %d lost its lease while the root was learning", i)
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(10 * time.Second)
		if got := tr.regionLeases(); !near(got[0], 100, 5) || !near(got[1], 450, 5) || !near(got[2], 450, 5) {
			t.Errorf("after learning: leases %v, want 100/450/450", got)
		}
		_ = old.coord.Close()
		ld.end()
		w.Wait()
	})
}

// TestRegionCoordinatorFailover: when a region's coordinator dies, another
// replica of the region takes it over, learns for a lease period (its
// replicas keep at most what they held) and then splits the region's
// lease again; the sum never exceeds the capacity.
func TestRegionCoordinatorFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTree(t, testRes, []string{"a", "b"}, 3)
		ld := tr.drive(func(r, n int) float64 { return 300 })
		w := tr.watch(100*time.Millisecond, ld.stop)
		time.Sleep(15 * time.Second)
		a := tr.regions[0]
		var old *node
		for _, n := range a.nodes {
			if n.coord.Stats().Region {
				old = n
			}
		}
		if old == nil {
			t.Fatal("region a has no coordinator")
		}
		_ = old.coord.Close() // gives its leases up: the next one takes over at once
		time.Sleep(2 * testRes.RefreshEvery)
		s, ok := a.coordinator()
		if !ok || !s.RegionLearning {
			t.Errorf("after the coordinator's death: %v %+v, want a new coordinator learning", ok, s)
		}
		time.Sleep(testRes.LeaseTTL + 5*testRes.RefreshEvery)
		if s, ok := a.coordinator(); !ok || s.RegionLearning || !near(s.RegionCapacity, 500, 5) {
			t.Errorf("after learning: %v %+v, want a lease of 500", ok, s)
		}
		for _, n := range a.nodes {
			if st := n.lim.Stats(); !st.OnLease || !near(st.Rate, 500.0/3, 5) {
				t.Errorf("replica: %+v, want a lease of %.1f", st, 500.0/3)
			}
		}
		ld.end()
		w.Wait()
	})
}

// TestForeignValues: malformed or foreign values written into the stores
// while the tree runs (another protocol version, garbage, a grant for a
// request nobody sent) are skipped: the tree shares as if they were not
// there. (A coordinator taking over counts the grants the store shows,
// foreign or not, each at most the capacity, for one lease period.)
func TestForeignValues(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := newTree(t, testRes, []string{"a", "b"}, 2)
		ld := tr.drive(func(r, n int) float64 { return 400 })
		w := tr.watch(100*time.Millisecond, ld.stop)
		time.Sleep(testRes.RefreshEvery) // the coordinators have taken over
		ctx := t.Context()
		junk := [][]byte{[]byte("garbage"), []byte(`{"v":2,"req":"x","wants":1e9}`), []byte(`{"v":1,"req":"","wants":5}`)}
		for i, j := range junk {
			k := fmt.Sprintf("openai-tokens/junk%d", i)
			_ = tr.root.Put(ctx, quota.KindRegionDemand, k, j, time.Hour)
			_ = tr.regions[0].store.Put(ctx, quota.KindDemand, k, j, time.Hour)
		}
		_ = tr.root.Put(ctx, quota.KindRegionLease, "openai-tokens/a", []byte(`{"v":1,"req":"nobody#1","capacity":1e9,"ttlMs":60000}`), time.Hour)
		_ = tr.regions[0].store.Put(ctx, quota.KindLease, "openai-tokens/a-0", []byte(`{"v":1,"req":"nobody#1","capacity":1e9,"ttlMs":60000}`), time.Hour)
		time.Sleep(20 * time.Second)
		if got := tr.regionLeases(); !near(got[0], 500, 5) || !near(got[1], 500, 5) {
			t.Errorf("leases %v, want 500 each", got)
		}
		ld.end()
		w.Wait()
	})
}
