package region_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/region"
)

// The region agent's store calls run behind a breaker: a store that is
// down is reported by Health (up, last error, since, counters) and, after
// a few failures, not called at all until the breaker probes; so is a
// relay link.
func TestHealthOfStoreAndRelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		eu, us := fleet.NewMemoryStore(), fleet.NewMemoryStore()
		relayEU, relayUS := eu.Client(), us.Client()
		relay, err := region.NewRelay([]region.Source{{Region: "eu", Store: relayEU}, {Region: "us", Store: relayUS}}, region.RelayEvery(period))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = relay.Run(ctx); close(done) }()
		var agents []*region.Agent
		var fleets []*fleet.Agent
		var clients []*fleet.MemoryStore
		for _, st := range []struct {
			name  string
			store *fleet.MemoryStore
		}{{"eu", eu}, {"us", us}} {
			reg, err := core.NewRegistry(core.WithPolicies(policies()...))
			if err != nil {
				t.Fatal(err)
			}
			reg.MustGuard("pay")
			c := st.store.Client()
			fa, err := fleet.Join(reg, c, fleet.WithReplicaID(st.name+"-0"), fleet.WithRegion(st.name), fleet.WithHeartbeat(period))
			if err != nil {
				t.Fatal(err)
			}
			ra, err := region.Join(fa, region.WithPeriod(period), region.WithRelay(relay))
			if err != nil {
				t.Fatal(err)
			}
			agents, fleets, clients = append(agents, ra), append(fleets, fa), append(clients, c)
		}
		defer func() {
			cancel()
			<-done
			for i := range agents {
				_ = agents[i].Close()
				_ = fleets[i].Close()
			}
		}()
		settle(3 * period)
		if h := agents[0].Health(); !h.Up() || h.Relay == nil || len(h.Relay.Links) != 2 || h.Relay.Copied == 0 {
			t.Fatalf("healthy: %+v", h)
		}

		// The relay loses us.
		relayUS.SetDown(true)
		settle(5 * period)
		h := agents[0].Health()
		if h.Up() || !h.Store.Up || h.Relay.Up() {
			t.Fatalf("relay link to us down: %+v", h)
		}
		for _, l := range h.Relay.Links {
			if (l.Region == "us") == l.Up || l.Region == "us" && (l.LastError == "" || l.Errors == 0 || l.Skipped == 0) {
				t.Fatalf("link %+v", l)
			}
		}
		relayUS.SetDown(false)
		settle(15 * period) // the link's breaker opens for ten relay timeouts
		if h := agents[0].Health(); !h.Up() {
			t.Fatalf("relay link healed: %+v", h.Relay)
		}

		// eu's agent loses its store: its breaker opens and skips calls.
		clients[0].SetDown(true)
		settle(5 * period)
		h = agents[0].Health()
		if h.Store.Up || h.Store.LastError == "" || h.Store.Errors == 0 || h.Store.Skipped == 0 || h.Store.Region != "eu" {
			t.Fatalf("eu store down: %+v", h.Store)
		}
		errs := h.Store.Errors
		settle(period / 2)
		if got := agents[0].Health().Store.Errors; got > errs+1 {
			t.Fatalf("store calls went on behind an open breaker: %d errors, then %d", errs, got)
		}
		clients[0].SetDown(false)
		settle(5 * period)
		if h := agents[0].Health(); !h.Store.Up {
			t.Fatalf("eu store healed: %+v", h.Store)
		}
	})
}
