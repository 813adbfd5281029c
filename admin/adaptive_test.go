package admin

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/breakerbox/breakerbox/core"
)

// GET /v1/guards/{name} shows an adaptive bulkhead's current limit and a
// throttle's state; the hello event's guard info names the algorithm and
// the live figures carry the limit, for the dashboard's card.
func TestGuardStatusShowsAdaptiveLimitAndThrottle(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "dep",
		Breaker:  &core.BreakerPolicy{Mode: "disabled"},
		Bulkhead: &core.BulkheadPolicy{Adaptive: &core.AdaptivePolicy{Algorithm: "aimd", MinLimit: 2, MaxLimit: 30, InitialLimit: 12, SampleEvery: 1, WindowSamples: 1}},
		Throttle: &core.ThrottlePolicy{K: 2}}))
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("dep")
	for range 40 {
		_ = g.Do(context.Background(), func(context.Context) error { return errors.New("refused") })
	}
	a := newTestAPIFor(t, reg)
	var st GuardStatus
	a.do(http.MethodGet, "/v1/guards/dep", readSecret, nil).ok(t, &st)
	s := g.Snapshot()
	if st.Adaptive == nil || *st.Adaptive != (AdaptiveStatus{Algorithm: "aimd", Limit: s.Adaptive.Limit, MinLimit: 2, MaxLimit: 30}) {
		t.Errorf("adaptive %+v, snapshot %+v", st.Adaptive, s.Adaptive)
	}
	if st.Adaptive != nil && st.Adaptive.Limit >= 12 {
		t.Errorf("limit %d after 40 failures, want below the initial 12", st.Adaptive.Limit)
	}
	if st.Throttle == nil || st.Throttle.Rejected == 0 || st.Throttle.Rejected != st.Counters.RejectedThrottled || st.Throttle.Probability <= 0 {
		t.Errorf("throttle %+v, counters %+v", st.Throttle, st.Counters)
	}
	if st.Counters.Rejected != st.Counters.RejectedThrottled {
		t.Errorf("rejected %d, want the throttled %d", st.Counters.Rejected, st.Counters.RejectedThrottled)
	}
	info := infoOf(g, &s)
	if info.Bulkhead == nil || info.Bulkhead.Adaptive != "aimd" {
		t.Errorf("guard info bulkhead %+v", info.Bulkhead)
	}
	if l := liveOf(&s, tally{}, 0); l.Limit != s.Adaptive.Limit {
		t.Errorf("live limit %d, want %d", l.Limit, s.Adaptive.Limit)
	}
}
