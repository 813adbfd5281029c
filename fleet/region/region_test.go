package region_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/region"
)

const period = time.Second

// policies: "pay" is scoped global (k=2), "db" regional; both trip on 2
// failures of 2 calls and stay open long enough for the tests' steps.
func policies() []core.Policy {
	br := func() *core.BreakerPolicy {
		return &core.BreakerPolicy{Window: "count", WindowSize: 10, MinCalls: 2, FailureRate: 50,
			OpenDuration: core.Duration(10 * time.Minute), OpenBackoff: 1}
	}
	return []core.Policy{
		{Name: "pay", Match: []string{"pay"}, Breaker: br(), Fleet: &core.FleetPolicy{Scope: "global", Regions: 2}},
		{Name: "db", Match: []string{"db"}, Breaker: br()},
		{Name: "api", Match: []string{"api"}, Breaker: br(),
			RateLimit: &core.RateLimitPolicy{Limit: 1, Per: core.Duration(time.Hour), Burst: 10},
			Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 4}},
	}
}

type replica struct {
	id     string
	reg    *core.Registry
	fleet  *fleet.Agent
	region *region.Agent
}

func (r *replica) guard(name string) *core.Guard { return r.reg.MustGuard(name) }

// trip fails the guard twice, which opens it on the replica's own evidence.
func (r *replica) trip(t *testing.T, name string) {
	t.Helper()
	g := r.guard(name)
	for range 2 {
		_ = g.Do(context.Background(), func(context.Context) error { return fmt.Errorf("%s down", name) })
	}
	if s := g.Breaker().State(); s != breaker.Open {
		t.Fatalf("%s: %s is %s after 2 failures", r.id, name, s)
	}
}

type world struct {
	t       *testing.T
	stores  map[string]*fleet.MemoryStore
	relayed map[string]*fleet.MemoryStore // the relay's clients
	regions map[string][]*replica
	stop    context.CancelFunc
	relay   *region.Relay
	done    chan struct{}
}

// newWorld starts n replicas in each named region, each region with its own
// MemoryStore, and one relay between them all.
func newWorld(t *testing.T, n int, names ...string) *world {
	return newWorldWith(t, n, false, names...)
}

// newWorldWith is newWorld with, when perRegion, one relay per region
// (RelayInto its own) instead of one for all; w.relay is the first.
func newWorldWith(t *testing.T, n int, perRegion bool, names ...string) *world {
	w := &world{t: t, stores: map[string]*fleet.MemoryStore{}, relayed: map[string]*fleet.MemoryStore{}, regions: map[string][]*replica{}, done: make(chan struct{})}
	var srcs []region.Source
	for _, name := range names {
		st := fleet.NewMemoryStore()
		w.stores[name] = st
		w.relayed[name] = st.Client()
		srcs = append(srcs, region.Source{Region: name, Store: w.relayed[name]})
		for i := range n {
			w.join(name, fmt.Sprintf("%s-%d", name, i))
		}
	}
	into := [][]region.RelayOption{nil}
	if perRegion {
		into = nil
		for _, name := range names {
			into = append(into, []region.RelayOption{region.RelayInto(name)})
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	var wg sync.WaitGroup
	for _, extra := range into {
		relay, err := region.NewRelay(srcs, append([]region.RelayOption{region.RelayEvery(period), region.RelayTimeout(200 * time.Millisecond)}, extra...)...)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		if w.relay == nil {
			w.relay = relay
		}
		wg.Go(func() { _ = relay.Run(ctx) })
	}
	go func() { wg.Wait(); close(w.done) }()
	return w
}

func (w *world) join(name, id string) *replica {
	reg, err := core.NewRegistry(core.WithPolicies(policies()...))
	if err != nil {
		w.t.Fatal(err)
	}
	reg.MustGuard("pay")
	reg.MustGuard("db")
	fa, err := fleet.Join(reg, w.stores[name].Client(), fleet.WithReplicaID(id), fleet.WithRegion(name),
		fleet.WithHeartbeat(period), fleet.WithReconcileEvery(5*period))
	if err != nil {
		w.t.Fatal(err)
	}
	ra, err := region.Join(fa, region.WithPeriod(period))
	if err != nil {
		w.t.Fatal(err)
	}
	r := &replica{id: id, reg: reg, fleet: fa, region: ra}
	w.regions[name] = append(w.regions[name], r)
	return r
}

// close stops everything (inside the bubble, so that it ends clean).
func (w *world) close() {
	w.stop()
	<-w.done
	for _, rs := range w.regions {
		for _, r := range rs {
			_ = r.region.Close()
			_ = r.fleet.Close()
		}
	}
}

func settle(d time.Duration) {
	synctest.Wait()
	time.Sleep(d)
	synctest.Wait()
}

func (w *world) states(name, guard string) []string {
	var out []string
	for _, r := range w.regions[name] {
		s := r.guard(guard).Breaker().Snapshot()
		out = append(out, s.State.String()+"/"+s.LastTransition.Actor)
	}
	return out
}

func (w *world) wantState(name, guard string, want breaker.State) {
	w.t.Helper()
	for _, r := range w.regions[name] {
		if s := r.guard(guard).Breaker().State(); s != want {
			w.t.Fatalf("%s: %s is %s, want %s (region %s: %v)", r.id, guard, s, want, name, w.states(name, guard))
		}
	}
}

func TestSummariesReachEveryRegion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 2, "eu", "us", "ap")
		defer w.close()
		settle(3 * period)
		for name, rs := range w.regions {
			for _, r := range rs {
				rep := r.region.Regions()
				if len(rep.Regions) != 3 {
					t.Fatalf("%s sees %d regions: %+v", r.id, len(rep.Regions), rep.Regions)
				}
				if rep.Region != name {
					t.Fatalf("%s: region %q", r.id, rep.Region)
				}
			}
			leaders := 0
			for _, r := range rs {
				if r.region.Regions().Leader {
					leaders++
				}
			}
			if leaders != 1 {
				t.Fatalf("region %s has %d summary leaders", name, leaders)
			}
		}
		st, ok := w.regions["ap"][0].region.RegionState("pay", "eu")
		if !ok || st.Open || st.Members != 2 || st.Seq == 0 {
			t.Fatalf("ap's view of pay in eu: %+v %v", st, ok)
		}
		// Both periods are jittered by a fifth: a live region's summary is
		// at most two of the reader's periods old.
		if st.Age > 2 {
			t.Fatalf("a fresh summary has age %d: %+v", st.Age, w.regions["ap"][0].region.Regions())
		}
		if s := w.relay.Stats(); s.Copied == 0 || s.Malformed != 0 {
			t.Fatalf("relay stats %+v", s)
		}
	})
}

func TestRegionLocalOutageNeverOpensOtherRegions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 2, "eu", "us", "ap")
		defer w.close()
		settle(2 * period)
		for _, r := range w.regions["eu"] {
			r.trip(t, "pay")
			r.trip(t, "db")
		}
		for range 10 {
			settle(period)
			w.wantState("us", "pay", breaker.Closed)
			w.wantState("ap", "pay", breaker.Closed)
			w.wantState("us", "db", breaker.Closed)
			w.wantState("ap", "db", breaker.Closed)
		}
		// The others know eu is open (a failover hint), and do not follow it.
		for _, name := range []string{"us", "ap"} {
			st, ok := w.regions[name][1].region.RegionState("pay", "eu")
			if !ok || !st.Open || st.OpenReplicas != 2 || st.Share != 1 {
				t.Fatalf("%s's view of pay in eu: %+v %v", name, st, ok)
			}
			if st, ok := w.regions[name][0].region.RegionState("db", "eu"); !ok || !st.Open {
				t.Fatalf("%s's view of db in eu: %+v %v", name, st, ok)
			}
			g := w.regions[name][0].region.Regions().Global
			if len(g) != 1 || g[0].Guard != "pay" || g[0].Regions != 2 || len(g[0].OpenIn) != 1 || g[0].Adopted {
				t.Fatalf("%s's global view: %+v", name, g)
			}
		}
	})
}

func TestGlobalOutageOpensEveryRegionAndClosesWithThem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 2, "eu", "us", "ap")
		defer w.close()
		settle(2 * period)
		w.regions["eu"][0].trip(t, "pay")
		w.regions["eu"][1].trip(t, "pay")
		w.regions["us"][0].trip(t, "pay")
		w.regions["us"][1].trip(t, "pay")
		w.regions["us"][0].trip(t, "db") // one replica: no regional quorum
		settle(2 * period)
		w.wantState("ap", "pay", breaker.Open)
		for _, r := range w.regions["ap"] {
			tr := r.guard("pay").Breaker().Snapshot().LastTransition
			if tr.Actor != region.ActorGlobal || !strings.Contains(tr.Reason, "eu") || !strings.Contains(tr.Reason, "us") {
				t.Fatalf("%s: pay opened by %q: %q", r.id, tr.Actor, tr.Reason)
			}
			if g := r.region.Regions().Global; len(g) != 1 || !g[0].Adopted || strings.Join(g[0].OpenIn, ",") != "eu,us" {
				t.Fatalf("%s: global view %+v", r.id, g)
			}
		}
		w.wantState("ap", "db", breaker.Closed) // regional
		// The global open does not vote: ap does not report pay open itself.
		if st, ok := w.regions["eu"][0].region.RegionState("pay", "ap"); !ok || st.Open || st.OpenReplicas != 0 {
			t.Fatalf("eu's view of pay in ap: %+v %v", st, ok)
		}

		// eu recovers: only us reports pay open, so ap releases it.
		for _, r := range w.regions["eu"] {
			r.guard("pay").Breaker().Reset(breaker.Manual{Actor: "test", Reason: "recovered"})
		}
		settle(4 * period)
		w.wantState("ap", "pay", breaker.Closed)
		w.wantState("eu", "pay", breaker.Closed)
		for _, r := range w.regions["ap"] {
			if tr := r.guard("pay").Breaker().Snapshot().LastTransition; tr.Actor != region.ActorGlobal || !strings.Contains(tr.Reason, "fewer than k=2") {
				t.Fatalf("%s: pay closed by %q: %q", r.id, tr.Actor, tr.Reason)
			}
		}
	})
}

func TestPartitionedRegionKeepsItsVerdictsAndRejoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 2, "eu", "us", "ap")
		defer w.close()
		settle(2 * period)
		for _, name := range []string{"eu", "us"} {
			for _, r := range w.regions[name] {
				r.trip(t, "pay")
			}
		}
		settle(2 * period)
		w.wantState("ap", "pay", breaker.Open)

		// Cut ap from the relay: its copies of eu and us expire, so it
		// releases its global open; it keeps its own summary and verdicts.
		w.relayed["ap"].SetDown(true)
		w.regions["ap"][0].trip(t, "db")
		w.regions["ap"][1].trip(t, "db")
		settle(8 * period)
		w.wantState("ap", "pay", breaker.Closed)
		w.wantState("ap", "db", breaker.Open)
		rep := w.regions["ap"][0].region.Regions()
		if len(rep.Regions) != 1 || rep.Regions[0].Region != "ap" {
			t.Fatalf("partitioned ap sees %+v", rep.Regions)
		}
		if st, ok := w.regions["ap"][1].region.RegionState("db", "ap"); !ok || !st.Open {
			t.Fatalf("ap's view of its own db: %+v %v", st, ok)
		}
		// eu and us see ap's summary expire; their verdicts stand.
		if _, ok := w.regions["eu"][0].region.RegionState("db", "ap"); ok {
			t.Fatal("eu still sees ap's summary while ap is cut off")
		}
		w.wantState("eu", "pay", breaker.Open)

		// Heal: ap hears eu and us again and opens pay globally.
		w.relayed["ap"].SetDown(false)
		settle(3 * period)
		w.wantState("ap", "pay", breaker.Open)
		if st, ok := w.regions["us"][0].region.RegionState("db", "ap"); !ok || !st.Open {
			t.Fatalf("us's view of db in ap after the heal: %+v %v", st, ok)
		}
	})
}

func TestDeadRegionSummaryExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 2, "eu", "us", "ap")
		defer w.close()
		settle(2 * period)
		for _, name := range []string{"eu", "us"} {
			for _, r := range w.regions[name] {
				r.trip(t, "pay")
			}
		}
		settle(2 * period)
		w.wantState("ap", "pay", breaker.Open)
		// us dies: every replica stops (its store stays, as a dead region's
		// Redis would keep its keys until they expire).
		for _, r := range w.regions["us"] {
			_ = r.region.Close()
			_ = r.fleet.Close()
		}
		var ages []int
		for range 4 {
			settle(period)
			if st, ok := w.regions["ap"][0].region.RegionState("pay", "us"); ok {
				ages = append(ages, st.Age)
			}
		}
		if len(ages) == 0 || ages[len(ages)-1] < 2 {
			t.Fatalf("us's summary ages %v while dead", ages)
		}
		settle(6 * period)
		for _, name := range []string{"eu", "ap"} {
			if _, ok := w.regions[name][0].region.RegionState("pay", "us"); ok {
				t.Fatalf("%s still sees dead us", name)
			}
		}
		w.wantState("ap", "pay", breaker.Closed) // only eu reports it open now
		w.wantState("eu", "pay", breaker.Open)
	})
}

func TestLeaderFailover(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 2, "eu", "us")
		defer w.close()
		settle(2 * period)
		var leader, other *replica
		for _, r := range w.regions["eu"] {
			if r.region.Regions().Leader {
				leader = r
			} else {
				other = r
			}
		}
		if leader == nil || other == nil {
			t.Fatal("no single leader in eu")
		}
		before, _ := w.regions["us"][0].region.RegionState("pay", "eu")
		_ = leader.region.Close()
		settle(3 * period)
		if !other.region.Regions().Leader {
			t.Fatal("the other replica did not take the summary lease")
		}
		after, ok := w.regions["us"][0].region.RegionState("pay", "eu")
		if !ok || after.Seq <= before.Seq || after.Age > 2 {
			t.Fatalf("us's view of eu after the failover: %+v (before %+v)", after, before)
		}
	})
}

// One relay per region, each pulling every region and writing into its
// own store only, carries the summaries as one relay for all does.
func TestOneRelayPerRegion(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorldWith(t, 2, true, "eu", "us", "ap")
		defer w.close()
		settle(2 * period)
		for _, name := range []string{"eu", "us", "ap"} {
			if n := len(w.regions[name][0].region.Regions().Regions); n != 3 {
				t.Fatalf("%s sees %d regions", name, n)
			}
		}
		for _, name := range []string{"eu", "us"} {
			for _, r := range w.regions[name] {
				r.trip(t, "pay")
			}
		}
		settle(2 * period)
		w.wantState("ap", "pay", breaker.Open)
	})
}
