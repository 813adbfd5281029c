package natsregions_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/faultproxy"
	"github.com/breakerbox/breakerbox/fleet/natsstore"
	"github.com/breakerbox/breakerbox/fleet/natsstore/embedded"
	"github.com/breakerbox/breakerbox/fleet/region"
)

const period = 500 * time.Millisecond

// startServer runs an embedded nats-server with JetStream (inside the
// process: never skipped).
func startServer(tb testing.TB) *embedded.Server {
	tb.Helper()
	srv, err := embedded.Start(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(srv.Shutdown)
	return srv
}

// newStore connects to url (reconnecting fast and for ever) and binds a
// natsstore, closed when the test ends.
func newStore(tb testing.TB, url string) *natsstore.Store {
	tb.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectJitter(0, 0), nats.Timeout(2*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := natsstore.New(ctx, js)
	if err != nil {
		nc.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close(); nc.Close() })
	return s
}

func policies() []core.Policy {
	return []core.Policy{{Name: "pay", Match: []string{"pay"}, Breaker: &core.BreakerPolicy{
		Window: "count", WindowSize: 10, MinCalls: 2, FailureRate: 50, OpenDuration: core.Duration(10 * time.Minute), OpenBackoff: 1},
		Fleet: &core.FleetPolicy{Scope: "global", Regions: 2}}}
}

// world is three regions (eu, us, ap), each an embedded nats-server with
// two replicas on it, and one relay that reaches each region through a
// fault proxy with a delay each way of 25, 50 and 75ms (round trips of
// 50, 100 and 150ms).
type world struct {
	regions map[string][]*core.Registry
	agents  map[string][]*region.Agent
	proxies map[string]*faultproxy.Proxy
	relay   *region.Relay
}

var names = []string{"eu", "us", "ap"}

func newWorld(tb testing.TB) *world {
	w := &world{regions: map[string][]*core.Registry{}, agents: map[string][]*region.Agent{}, proxies: map[string]*faultproxy.Proxy{}}
	var srcs []region.Source
	for i, name := range names {
		srv := startServer(tb)
		addr := strings.TrimPrefix(srv.URL(), "nats://")
		p, err := faultproxy.New(addr)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = p.Close() })
		p.SetDelay(time.Duration(25*(i+1)) * time.Millisecond)
		w.proxies[name] = p
		srcs = append(srcs, region.Source{Region: name, Store: newStore(tb, "nats://"+p.Addr())})
		for j := range 2 {
			reg, err := core.NewRegistry(core.WithPolicies(policies()...))
			if err != nil {
				tb.Fatal(err)
			}
			reg.MustGuard("pay")
			fa, err := fleet.Join(reg, newStore(tb, srv.URL()), fleet.WithReplicaID(fmt.Sprintf("%s-%d", name, j)),
				fleet.WithRegion(name), fleet.WithHeartbeat(period))
			if err != nil {
				tb.Fatal(err)
			}
			ra, err := region.Join(fa, region.WithPeriod(period))
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { _ = ra.Close(); _ = fa.Close() })
			w.regions[name] = append(w.regions[name], reg)
			w.agents[name] = append(w.agents[name], ra)
		}
	}
	relay, err := region.NewRelay(srcs, region.RelayEvery(period), region.RelayTimeout(time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	w.relay = relay
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = relay.Run(ctx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	return w
}

func (w *world) trip(name string) {
	for _, reg := range w.regions[name] {
		g := reg.MustGuard("pay")
		for range 2 {
			_ = g.Do(context.Background(), func(context.Context) error { return errors.New("down") })
		}
	}
}

func (w *world) all(name string, want breaker.State) bool {
	for _, reg := range w.regions[name] {
		if reg.MustGuard("pay").Breaker().State() != want {
			return false
		}
	}
	return true
}

// eventually polls cond until it holds, failing after a generous bound:
// the test asserts where the regions end, not how fast.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	for deadline := time.Now().Add(45 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not after 45s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (w *world) seesAll(name string, n int) bool {
	for _, a := range w.agents[name] {
		if len(a.Regions().Regions) != n {
			return false
		}
	}
	return true
}

// Three regions on three embedded nats-servers, the relay reaching them
// through fault proxies: a region-local outage opens no other region; a
// second region's outage opens all three (the third by ActorGlobal); a
// region cut off from the relay releases its global open when the others'
// summaries expire, keeps its own view, and opens again once healed.
func TestThreeNATSRegions(t *testing.T) {
	w := newWorld(t)
	eventually(t, "every replica sees three regions", func() bool {
		return w.seesAll("eu", 3) && w.seesAll("us", 3) && w.seesAll("ap", 3)
	})

	// A local outage does not spread.
	w.trip("eu")
	eventually(t, "ap hears eu is open", func() bool {
		st, ok := w.agents["ap"][0].RegionState("pay", "eu")
		return ok && st.Open
	})
	for range 4 {
		time.Sleep(period)
		if !w.all("us", breaker.Closed) || !w.all("ap", breaker.Closed) {
			t.Fatal("a region-local outage opened another region")
		}
	}

	// A global outage opens every region.
	w.trip("us")
	eventually(t, "ap opens pay globally", func() bool { return w.all("ap", breaker.Open) })
	for _, reg := range w.regions["ap"] {
		tr := reg.MustGuard("pay").Breaker().Snapshot().LastTransition
		if tr.Actor != region.ActorGlobal || !strings.Contains(tr.Reason, "eu, us") {
			t.Fatalf("ap's pay opened by %q: %q", tr.Actor, tr.Reason)
		}
	}

	// Partition: the relay can neither read nor write ap's server.
	w.proxies["ap"].Partition()
	eventually(t, "ap releases pay when eu's and us's summaries expire", func() bool { return w.all("ap", breaker.Closed) })
	eventually(t, "partitioned ap sees only itself", func() bool {
		rs := w.agents["ap"][0].Regions().Regions
		return len(rs) == 1 && rs[0].Region == "ap"
	})
	eventually(t, "eu forgets ap", func() bool { return w.seesAll("eu", 2) })
	if !w.all("eu", breaker.Open) || !w.all("us", breaker.Open) {
		t.Fatal("eu or us changed their own verdicts while ap was cut off")
	}
	eventually(t, "the relay reports its link to ap down", func() bool {
		for _, l := range w.relay.Health().Links {
			if l.Region == "ap" {
				return !l.Up
			}
		}
		return false
	})

	// Heal.
	if err := w.proxies["ap"].Heal(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "ap opens pay again after the heal", func() bool { return w.all("ap", breaker.Open) })
	eventually(t, "eu sees ap again", func() bool { return w.seesAll("eu", 3) })
	eventually(t, "the relay's links all up", func() bool { return w.relay.Health().Up() })
	if s := w.relay.Stats(); s.Copied == 0 || s.Malformed != 0 {
		t.Fatalf("relay %+v", s)
	}
}

// BenchmarkGlobalOutageNATS measures, over b.N trips, the time from a
// global outage (every replica of eu and us tripping "pay", global with
// k=2) to every replica of the three regions rejecting, on three embedded
// nats-servers with 50-150ms round trips between the relay and each region
// and a summary period of 500ms. Reports p50-ms and p99-ms.
func BenchmarkGlobalOutageNATS(b *testing.B) {
	w := newWorld(b)
	eventually(b, "every replica sees three regions", func() bool {
		return w.seesAll("eu", 3) && w.seesAll("us", 3) && w.seesAll("ap", 3)
	})
	all := func(want breaker.State) bool { return w.all("eu", want) && w.all("us", want) && w.all("ap", want) }
	var lat []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		w.trip("eu")
		w.trip("us")
		eventually(b, "every region rejecting", func() bool { return all(breaker.Open) })
		lat = append(lat, float64(time.Since(start))/float64(time.Millisecond))
		b.StopTimer()
		for _, name := range []string{"eu", "us"} {
			for _, reg := range w.regions[name] {
				reg.MustGuard("pay").Breaker().Reset(breaker.Manual{Actor: "bench", Reason: "recovered"})
			}
		}
		eventually(b, "every region closed", func() bool { return all(breaker.Closed) })
		time.Sleep(period)
		eventually(b, "every region closed (settled)", func() bool { return all(breaker.Closed) })
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(lat)
	pct := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
