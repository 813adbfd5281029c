package region_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet/region"
)

// shortOpen gives the guard of every replica of the region an open
// duration of d, so that a global open lapses well within a test.
func (w *world) shortOpen(name, guard string, d time.Duration) {
	w.t.Helper()
	for _, r := range w.regions[name] {
		b := r.guard(guard).Breaker()
		cfg := b.Config()
		cfg.OpenDuration = d
		if err := b.Reconfigure(cfg); err != nil {
			w.t.Fatal(err)
		}
	}
}

// wantHeld checks that every replica of the region holds guard open
// because of the other regions (open by ActorGlobal, or half-open after
// it with its probes refused).
func (w *world) wantHeld(name, guard string) {
	w.t.Helper()
	for _, r := range w.regions[name] {
		rep := r.region.Regions()
		held := false
		for _, g := range rep.Global {
			held = held || g.Guard == guard && g.Adopted
		}
		s := r.guard(guard).Breaker().Snapshot()
		if !held || !(s.State == breaker.Open && s.LastTransition.Actor == region.ActorGlobal || s.State == breaker.HalfOpen) {
			w.t.Fatalf("%s: %s is %s by %q, held %v (global view %+v)", r.id, guard, s.State, s.LastTransition.Actor, held, rep.Global)
		}
	}
}

// admitted calls the guard on every replica of the region with a call
// that succeeds, and counts the calls admitted.
func (w *world) admitted(name, guard string) int {
	n := 0
	for _, r := range w.regions[name] {
		if r.guard(guard).Do(context.Background(), func(context.Context) error { return nil }) == nil {
			n++
		}
	}
	return n
}

// Regression: a global open used to last its breaker's open duration only;
// then the guard half-opened, a successful probe closed it, and it admitted
// calls until the next evaluation re-opened it, while two regions still
// reported the dependency down. The open must hold while the quorum does.
func TestGlobalOpenHoldsWhileQuorumHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 2, "eu", "us", "ap")
		defer w.close()
		settle(3 * period)
		w.shortOpen("ap", "pay", 2*time.Second)
		for _, name := range []string{"eu", "us"} {
			for _, r := range w.regions[name] {
				r.trip(t, "pay")
			}
		}
		settle(4 * period)
		w.wantHeld("ap", "pay")
		// Ten periods, five times the open duration: not one call in ap.
		for i := range 100 {
			if n := w.admitted("ap", "pay"); n > 0 {
				t.Fatalf("after %v: ap admitted %d calls of pay while eu and us report it open (%v)", time.Duration(i)*period/10, n, w.states("ap", "pay"))
			}
			time.Sleep(period / 10)
		}
		for _, r := range w.regions["ap"] {
			rep := r.region.Regions()
			if len(rep.Global) != 1 || !rep.Global[0].Adopted {
				t.Fatalf("%s: global view %+v, want pay adopted", r.id, rep.Global)
			}
		}
		// The quorum goes: eu and us recover; ap closes with them.
		for _, name := range []string{"eu", "us"} {
			for _, r := range w.regions[name] {
				r.guard("pay").Breaker().Reset(breaker.Manual{Actor: "test", Reason: "recovered"})
			}
		}
		settle(4 * period)
		w.wantState("ap", "pay", breaker.Closed)
		if n := w.admitted("ap", "pay"); n != 2 {
			t.Fatalf("ap admitted %d of 2 calls after the quorum went (%v)", n, w.states("ap", "pay"))
		}
	})
}

// An operator's disable, metrics-only or force-open of a globally held
// guard wins: the region agent never overrides it, while the quorum holds
// or after it goes.
func TestOperatorStateWinsOverGlobalOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 3, "eu", "us", "ap")
		defer w.close()
		settle(3 * period)
		w.shortOpen("ap", "pay", 2*time.Second)
		for _, name := range []string{"eu", "us"} {
			for _, r := range w.regions[name] {
				r.trip(t, "pay")
			}
		}
		settle(4 * period)
		w.wantHeld("ap", "pay")
		ap := w.regions["ap"]
		op := breaker.Manual{Actor: "alice", Reason: "maintenance"}
		ap[0].guard("pay").Breaker().Disable(op)
		ap[1].guard("pay").Breaker().MetricsOnly(op)
		ap[2].guard("pay").Breaker().ForceOpen(op)
		want := []breaker.State{breaker.Disabled, breaker.MetricsOnly, breaker.ForcedOpen}
		check := func(when string) {
			t.Helper()
			for i, r := range ap {
				s := r.guard("pay").Breaker().Snapshot()
				if s.State != want[i] || s.LastTransition.Actor != "alice" {
					t.Fatalf("%s: %s: pay is %s by %q, want %s by alice", when, r.id, s.State, s.LastTransition.Actor, want[i])
				}
			}
		}
		settle(5 * period)
		check("quorum holding")
		// The operator's disabled and metrics-only guards admit calls.
		if n := w.admitted("ap", "pay"); n != 2 {
			t.Fatalf("ap admitted %d calls, want 2 (disabled, metrics-only)", n)
		}
		for _, name := range []string{"eu", "us"} {
			for _, r := range w.regions[name] {
				r.guard("pay").Breaker().Reset(breaker.Manual{Actor: "test", Reason: "recovered"})
			}
		}
		settle(5 * period)
		check("quorum gone")
		// Released by the operator after the quorum went: closed, and not
		// opened again.
		for _, r := range ap {
			r.guard("pay").Breaker().Release(op)
		}
		settle(3 * period)
		w.wantState("ap", "pay", breaker.Closed)
	})
}

// Regression: a held guard, half-open with its probes refused, used to
// follow the region's probe lease: another replica's successful probe
// closed it while the quorum still held.
func TestHeldGuardIgnoresOtherReplicasProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := newWorld(t, 2, "eu", "us", "ap")
		defer w.close()
		settle(3 * period)
		w.shortOpen("ap", "pay", 2*time.Second)
		for _, name := range []string{"eu", "us"} {
			for _, r := range w.regions[name] {
				r.trip(t, "pay")
			}
		}
		settle(4 * period)
		w.wantHeld("ap", "pay")
		ap0, ap1 := w.regions["ap"][0], w.regions["ap"][1]
		// ap-1 leaves multi-region mode: its guard probes through the
		// region's lease, and its probe succeeds.
		_ = ap1.region.Close()
		probed := false
		for range 50 {
			if ap1.guard("pay").Do(context.Background(), func(context.Context) error { return nil }) == nil {
				probed = true
				break
			}
			time.Sleep(period / 10)
		}
		if !probed {
			t.Fatalf("ap-1 never probed: %v", w.states("ap", "pay"))
		}
		for i := range 30 {
			if ap0.guard("pay").Do(context.Background(), func(context.Context) error { return nil }) == nil {
				t.Fatalf("after %v: ap-0 admitted a call of pay while eu and us report it open (%v)", time.Duration(i)*period/10, w.states("ap", "pay"))
			}
			time.Sleep(period / 10)
		}
	})
}
