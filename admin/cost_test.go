package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

func TestCostReportCumulativeIsExact(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(
		core.Policy{Name: "llm", Match: []string{"llm.*"}, Cost: &core.CostPolicy{PerCall: 0.1, PerRetry: 0.2, Currency: "USD"},
			Retry: &core.RetryPolicy{MaxAttempts: 2, InitialDelay: core.Duration(1), MaxDelay: core.Duration(1)}},
		core.Policy{Name: "sms", Match: []string{"sms.*"}, Cost: &core.CostPolicy{PerCall: 0.05, Currency: "EUR"},
			Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1, DisableFailureRate: true}},
	))
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAPIFor(t, reg)
	ctx := context.Background()
	for _, n := range []string{"llm.a", "llm.b"} {
		for range 3 {
			_ = reg.MustGuard(n).Do(ctx, func(context.Context) error { return nil })
		}
	}
	fail := true
	_ = reg.MustGuard("llm.a").Do(ctx, func(context.Context) error { // one retry
		if fail {
			fail = false
			return errors.New("503")
		}
		return nil
	})
	sms := reg.MustGuard("sms.send")
	_ = sms.Do(ctx, func(context.Context) error { return errors.New("down") }) // trips
	_ = sms.Do(ctx, func(context.Context) error { return nil })                // rejected
	reg.MustGuard("free")

	var rep CostReport
	a.do(http.MethodGet, "/v1/cost", readSecret, nil).ok(t, &rep)
	if !rep.Cumulative || len(rep.Guards) != 3 {
		t.Fatalf("report %+v", rep)
	}
	// llm: 7 calls at 0.1 (0.7, not 0.7000000000000001), 1 retry at 0.2.
	if len(rep.Totals) != 2 || rep.Totals[1] != (CostTotal{Currency: "USD", SpentMicros: 700_000, RetrySpentMicros: 200_000}) ||
		rep.Totals[0] != (CostTotal{Currency: "EUR", SpentMicros: 50_000, AvoidedByBreakerMicros: 50_000}) {
		t.Fatalf("totals %+v", rep.Totals)
	}
	a.do(http.MethodGet, "/v1/cost?since=48h", readSecret, nil).problem(t, 400, codeInvalid)
	p := a.do(http.MethodGet, "/v1/cost?since=soon", readSecret, nil).problem(t, 400, codeInvalid)
	if !strings.Contains(p.Detail, `since: "soon"`) {
		t.Fatalf("detail %q", p.Detail)
	}
	a.do(http.MethodGet, "/v1/cost", "", nil).problem(t, 401, codeUnauthorized)
}

func TestCostReportOverAPeriodUsesTheHistory(t *testing.T) {
	h := newHistory(0)
	price := &core.CostSnapshot{Currency: "USD", PerCall: 2_000}
	snap := func(calls, limited uint64) []core.GuardSnapshot {
		s := gs("a", calls, 0, 0)
		s.Rejected.Limited = limited
		s.Cost = price
		return []core.GuardSnapshot{s, gs("free", calls, 0, 0)}
	}
	// Ten calls and one rejection a minute for 130 minutes.
	for i := range 131 {
		h.observe(at(time.Duration(i)*time.Minute), snap(uint64(10*i), uint64(i)))
	}
	now := at(130 * time.Minute)
	rep := costReport(snap(1300, 130), now, 90*time.Minute, h)
	// The rollups overlapping [40m, 130m) up to the last complete one,
	// [129m, 130m): 90 of them.
	if rep.Cumulative || !rep.From.Equal(at(40*time.Minute)) || !rep.To.Equal(at(130*time.Minute)) || rep.Step != core.Duration(LongRollup) {
		t.Fatalf("period %v to %v step %v", rep.From, rep.To, rep.Step)
	}
	if len(rep.Guards) != 1 || rep.Guards[0].Calls != 900 || rep.Guards[0].SpentMicros != 1_800_000 || rep.Guards[0].AvoidedByRateLimitMicros != 180_000 {
		t.Fatalf("guards %+v", rep.Guards)
	}
	if !strings.Contains(rep.Note, "does not count retries") {
		t.Fatalf("note %q", rep.Note)
	}
}
