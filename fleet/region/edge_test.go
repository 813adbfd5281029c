package region_test

import (
	"context"
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

func TestNewRelayNamesTheBadField(t *testing.T) {
	st := fleet.NewMemoryStore()
	for _, c := range []struct {
		srcs []region.Source
		opts []region.RelayOption
		want string
	}{
		{[]region.Source{{Region: "eu", Store: st}}, nil, "regions: 1 given, need at least 2"},
		{[]region.Source{{Region: "eu", Store: st}, {Region: "", Store: st}}, nil, "regions[1].Region: must not be empty"},
		{[]region.Source{{Region: "eu", Store: st}, {Region: "us"}}, nil, "regions[1].Store: must not be nil"},
		{[]region.Source{{Region: "eu", Store: st}, {Region: "eu", Store: st}}, nil, `regions[1].Region: "eu" named twice`},
		{[]region.Source{{Region: "eu", Store: st}, {Region: "us", Store: st}}, []region.RelayOption{region.RelayInto("ap")}, `RelayInto: "ap" is not one of the regions`},
	} {
		if _, err := region.NewRelay(c.srcs, c.opts...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
}

func TestJoinRefusesAnAgentWithoutRegion(t *testing.T) {
	if _, err := region.Join(nil); err == nil {
		t.Fatal("nil agent accepted")
	}
	reg, _ := core.NewRegistry()
	st := fleet.NewMemoryStore()
	for _, c := range []struct{ region, want string }{{"", "no region label"}, {"eu/west", "must not hold spaces or slashes"}} {
		fa, err := fleet.Join(reg, st, fleet.WithRegion(c.region))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := region.Join(fa); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("region %q: err = %v, want %q", c.region, err, c.want)
		}
		fa.Close()
	}
}

// A summary that is malformed, of another protocol, or stored under
// another region's key is counted and never believed: it neither shows as
// a region nor opens a global guard.
func TestForeignSummariesAreCountedNotBelieved(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 2, "eu", "zz")
		defer w.close()
		st := w.stores["eu"]
		ctx := context.Background()
		forged, _ := fleet.Encode(region.KindSummary, region.Summary{Region: "us", Seq: 9, TTLMS: 60000, Members: 1,
			Guards: []region.GuardSummary{{Guard: "pay", Open: true, OpenReplicas: 1}}})
		_ = st.Put(ctx, region.KindSummary, "ap", forged, time.Minute) // us's summary under ap's key
		_ = st.Put(ctx, region.KindSummary, "mx", []byte("{not json"), time.Minute)
		_ = st.Put(ctx, region.KindSummary, "br", []byte(`{"v":99,"kind":"summary","data":{}}`), time.Minute)
		// ...and a well-formed one from us, which alone is not k=2 regions.
		_ = st.Put(ctx, region.KindSummary, "us", forged, time.Minute)
		settle(3 * period)
		rep := w.regions["eu"][0].region.Regions()
		var got []string
		for _, r := range rep.Regions {
			got = append(got, r.Region)
		}
		if strings.Join(got, ",") != "eu,us,zz" {
			t.Fatalf("regions %v", got)
		}
		if rep.Malformed == 0 {
			t.Fatal("malformed summaries not counted")
		}
		w.wantState("eu", "pay", breaker.Closed)
	})
}

// A region of one replica reports what that replica sees, whatever the
// guard's Min; a Fraction is honoured; adopt "any" takes one vote.
func TestRegionReportsOpenByItsOwnRule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 1, "eu", "us")
		defer w.close()
		settle(2 * period)
		w.regions["eu"][0].trip(t, "pay")
		w.regions["us"][0].trip(t, "pay")
		settle(2 * period)
		for _, name := range []string{"eu", "us"} {
			st, ok := w.regions["us"][0].region.RegionState("pay", name)
			if !ok || !st.Open || st.Members != 1 || st.Share != 1 {
				t.Fatalf("pay in %s: %+v %v", name, st, ok)
			}
		}
	})
}

// A summary carries the publisher's limiter and bulkhead use.
func TestSummaryCarriesLimiterAndBulkheadUse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 1, "eu", "us")
		defer w.close()
		g := w.regions["eu"][0].reg.MustGuard("api")
		for range 5 {
			_ = g.Do(context.Background(), func(context.Context) error { return nil })
		}
		release := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 { // two calls in flight hold two of four slots
			wg.Go(func() {
				_ = g.Do(context.Background(), func(context.Context) error { <-release; return nil })
			})
		}
		settle(2 * period)
		st, ok := w.regions["us"][0].region.RegionState("api", "eu")
		close(release)
		wg.Wait()
		if !ok || st.LimiterUse < 0.6 || st.LimiterUse > 0.8 || st.BulkheadUse != 0.5 {
			t.Fatalf("us's view of api in eu: %+v %v", st, ok)
		}
	})
}

// A replica that cannot read its own region's store forgets the summaries
// after their TTL, as the store would have, and so releases its global
// opens: losing the store leaves the guard deciding alone.
func TestStoreDownForgetsSummariesAndReleasesGlobalOpens(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 1, "eu", "us", "ap")
		defer w.close()
		settle(2 * period)
		w.regions["eu"][0].trip(t, "pay")
		w.regions["us"][0].trip(t, "pay")
		settle(2 * period)
		ap := w.regions["ap"][0]
		w.wantState("ap", "pay", breaker.Open)
		store := ap.fleet.Store().(*fleet.MemoryStore)
		store.SetDown(true)
		settle(6 * period)
		if n := len(ap.region.Regions().Regions); n != 0 {
			t.Fatalf("ap still holds %d regions with its store down", n)
		}
		w.wantState("ap", "pay", breaker.Closed)
		store.SetDown(false)
		settle(3 * period)
		w.wantState("ap", "pay", breaker.Open)
	})
}
