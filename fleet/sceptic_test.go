package fleet_test

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

const century = 100 * 365 * 24 * time.Hour

// TestJoinRefusesCenturyPeriods: a store timeout, heartbeat, reconcile
// period of a hundred years must be refused by Join with the
// option and its value named, never turned into an overflowed (negative)
// TTL in the store.
func TestJoinRefusesCenturyPeriods(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  fleet.Option
	}{
		{"WithTimeout", fleet.WithTimeout(century)},
		{"WithHeartbeat", fleet.WithHeartbeat(century)},
		{"WithReconcileEvery", fleet.WithReconcileEvery(century)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := core.NewRegistry()
			if err != nil {
				t.Fatal(err)
			}
			a, err := fleet.Join(reg, fleet.NewMemoryStore(), tc.opt)
			if err == nil {
				_ = a.Close()
				t.Fatalf("Join with %s(100 years): no error", tc.name)
			}
			if !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), "h") {
				t.Fatalf("Join with %s(100 years): %v, want the option named with its value", tc.name, err)
			}
		})
	}
	// The limit itself is accepted.
	reg, _ := core.NewRegistry()
	a, err := fleet.Join(reg, fleet.NewMemoryStore(), fleet.WithHeartbeat(fleet.MaxPeriod), fleet.WithTimeout(fleet.MaxPeriod),
		fleet.WithReconcileEvery(fleet.MaxPeriod))
	if err != nil {
		t.Fatalf("Join with every period at MaxPeriod: %v", err)
	}
	_ = a.Close()
}

// TestCenturyOpenDuration: a guard open for MaxDuration (about 146 years)
// with a probe timeout of MaxDuration votes and adopts normally: the vote
// TTL derived from it neither overflows nor goes negative, so the votes
// stay in the store and quorum opens the others.
func TestCenturyOpenDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, nil)
		f.policy.Breaker.OpenDuration = core.Duration(core.MaxDuration)
		f.policy.Breaker.ProbeTimeout = core.Duration(core.MaxDuration)
		rs := f.joinN(3)
		settle(100 * time.Millisecond)
		rs[0].trip(t)
		rs[1].trip(t)
		settle(3 * time.Second)
		if s := rs[2].guard.Breaker().State(); s != breaker.Open {
			t.Fatalf("two of three open for MaxDuration: r2 is %s, want open", s)
		}
		es, err := f.store.List(context.Background(), fleet.KindVerdict)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) < 2 {
			t.Fatalf("store holds %d verdicts after 3s, want the 2 votes (a negative TTL expires them at once)", len(es))
		}
	})
}

// TestActRefusesBadInputSceptic: Act refuses an unknown action, an empty actor
// and an empty target, each naming the field; it stores nothing then.
func TestActRefusesBadInputSceptic(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, nil)
		r := f.join("r0")
		ctx := context.Background()
		for _, tc := range []struct {
			o     fleet.Override
			field string
		}{
			{fleet.Override{Target: "dep", Action: "explode", Actor: "ops"}, "action"},
			{fleet.Override{Target: "dep", Action: fleet.ActionForceOpen}, "actor"},
			{fleet.Override{Target: "", Action: fleet.ActionForceOpen, Actor: "ops"}, "target"},
			{fleet.Override{Target: "tag:", Action: fleet.ActionForceOpen, Actor: "ops"}, "target"},
		} {
			_, err := r.agent.Act(ctx, tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("Act(%+v): %v, want an error naming %s", tc.o, err, tc.field)
			}
		}
		if es, _ := f.store.List(ctx, fleet.KindOverride); len(es) != 0 {
			t.Fatalf("refused actions stored %d overrides", len(es))
		}
		if s := r.guard.Breaker().State(); s != breaker.Closed {
			t.Fatalf("refused actions left the guard %s", s)
		}
	})
}

// TestActOnOddNames: a guard whose name holds slashes, spaces, "%2F",
// unicode and braces is targeted by name through the store and reached on
// every replica, late joiners included.
func TestActOnOddNames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const odd = "a/b c%2F{x}/ü"
		f := newFleet(t, nil)
		f.policy.Match = []string{"*"}
		join := func(id string) (*fleet.Agent, *core.Guard) {
			reg, err := core.NewRegistry(core.WithPolicies(f.policy))
			if err != nil {
				t.Fatal(err)
			}
			g := reg.MustGuard(odd)
			a, err := fleet.Join(reg, f.store.Client(), fleet.WithReplicaID(id), fleet.WithHeartbeat(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = a.Close() })
			return a, g
		}
		a0, g0 := join("r0")
		_, g1 := join("r1")
		settle(100 * time.Millisecond)
		o, err := a0.Act(context.Background(), fleet.Override{Target: "name:" + odd, Action: fleet.ActionForceOpen, Actor: "ops", Reason: strings.Repeat("r", fleet.MaxReasonLength)})
		if err != nil {
			t.Fatal(err)
		}
		if o.Target != "name:"+odd {
			t.Fatalf("stored target %q", o.Target)
		}
		settle(time.Second)
		_, g2 := join("r2")
		settle(11 * time.Second)
		for i, g := range []*core.Guard{g0, g1, g2} {
			if s := g.Breaker().State(); s != breaker.ForcedOpen {
				t.Errorf("replica %d: guard %q is %s, want forced-open", i, odd, s)
			}
		}
	})
}

// TestActRefusesHugeReason: a reason of 1 MiB is refused, naming the
// field and the limit, before anything is stored: every replica would
// hold it, and every Snapshot and GET /v1/fleet would carry it.
func TestActRefusesHugeReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFleet(t, nil)
		r := f.join("r0")
		_, err := r.agent.Act(context.Background(), fleet.Override{Target: "dep", Action: fleet.ActionForceOpen, Actor: "ops", Reason: strings.Repeat("r", 1<<20)})
		if err == nil || !strings.Contains(err.Error(), "reason") || !strings.Contains(err.Error(), "1048576") {
			t.Fatalf("Act with a 1 MiB reason: %v, want refused naming reason and its size", err)
		}
		if es, _ := f.store.List(context.Background(), fleet.KindOverride); len(es) != 0 {
			t.Fatalf("refused action stored %d overrides", len(es))
		}
		if s := r.guard.Breaker().State(); s != breaker.Closed {
			t.Fatalf("refused action left the guard %s", s)
		}
	})
}

// TestLimiterExtremeRates: global limits of one call a century, of
// MaxDuration periods, of MaxInt calls a nanosecond, and of zero or
// negative limits neither panic nor overflow. One call a century admits
// its burst of one, then refuses (before the store's first answer it
// admits nothing: no local share is that slow). The huge rate admits
// every call, from the first (at its local share, before the store's
// first answer), in batches (a round trip per 5 calls at most). The
// empty ones admit nothing.
func TestLimiterExtremeRates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := fleet.NewMemoryStore()
		reg, _ := core.NewRegistry()
		a, err := fleet.Join(reg, m.Client(), fleet.WithReplicaID("r0"))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		settle(100 * time.Millisecond)
		const maxInt = int(^uint(0) >> 1)
		for _, tc := range []struct {
			key     string
			r       fleet.Rate
			first   bool // the first call, before the store answered
			allowed int  // of 1+200 calls
		}{
			{"century", fleet.Rate{Limit: 1, Period: century}, false, 1},
			{"max", fleet.Rate{Limit: 1, Period: core.MaxDuration, Burst: 1}, false, 1},
			{"huge", fleet.Rate{Limit: maxInt, Period: time.Nanosecond, Burst: maxInt}, true, 201},
			{"zero", fleet.Rate{Limit: 0, Period: time.Second}, false, 0},
			{"negative", fleet.Rate{Limit: -5, Period: -time.Second, Burst: -1}, false, 0},
		} {
			l := a.Limiter(tc.key, tc.r)
			first := l.Allow()
			n := 0
			if first {
				n++
			}
			settle(50 * time.Millisecond)
			for range 200 {
				if l.Allow() {
					n++
				}
				synctest.Wait()
			}
			st := l.Stats()
			if first != tc.first || n != tc.allowed {
				t.Errorf("%s %+v: first call %v, %d of 201 admitted; want %v, %d (stats %+v)", tc.key, tc.r, first, n, tc.first, tc.allowed, st)
			}
			if tc.allowed > 100 && st.RoundTrips*5 > uint64(n) {
				t.Errorf("%s: %d round trips for %d calls, want batches (at most one trip per 5 calls)", tc.key, st.RoundTrips, n)
			}
		}
	})
}
