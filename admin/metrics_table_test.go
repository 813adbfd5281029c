package admin

// The admin API shows guards' counters in its own JSON shapes (uint64
// counts, percentages, durations), so it reads them from the snapshot
// rather than through metrics.Table, whose Read gives float64s in the
// exporters' units. These tests hold the two readings together (issue 17,
// item 3): every concept of the table is either shown by the API as the
// table reads it, or listed as not shown.

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/breakerbox/breakerbox/core/cache"
	"github.com/breakerbox/breakerbox/core/hedge"
	"github.com/breakerbox/breakerbox/metrics"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// distinctSnapshot is a consistent guard snapshot whose counters all
// differ, so that a field read in the place of another shows.
func distinctSnapshot() core.GuardSnapshot {
	s := core.GuardSnapshot{
		Name: "x", Policy: "p",
		Breaker: breaker.Snapshot{
			State: breaker.HalfOpen, Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Transitions: 3,
			Admitted: 1000, Succeeded: 900, Failed: 70, Ignored: 20, Slow: 41,
			Rejected: 11, RejectedProbe: 12, ShadowTrips: 4,
			WindowCalls: 97, WindowFailures: 13, WindowSlow: 7, FailureRate: 13.4, SlowCallRate: 7.2,
			ConsecutiveFailures: 5, ProbesInFlight: 2,
		},
		Bulkhead: &bulkhead.Snapshot{MaxConcurrent: 8, MaxQueue: 6, InUse: 5, Queued: 2,
			Rejected: 13, TimedOut: 14, Canceled: 15, Waited: 16, WaitTime: 1500 * time.Millisecond},
		RateLimit: &ratelimit.Snapshot{
			Config:  ratelimit.Config{Algorithm: ratelimit.AlgorithmGCRA, Limit: 30, Per: time.Minute, Burst: 9},
			Allowed: 970, Rejected: 17, Available: 2.25, RetryAfter: time.Second,
		},
		Retries: 18, RetryBudgetExhausted: 19, FallbackServed: 21, FallbackFailed: 22,
		Hedge:    &hedge.Stats{Calls: 500, Started: 31, Won: 23, Cancelled: 29, BudgetStopped: 24, GateStopped: 25, Delay: 15 * time.Millisecond},
		Cache:    &cache.Stats{Hits: 32, Shared: 33, Fills: 34, StaleServed: 35, StaleMissing: 36, Evictions: 37, Entries: 38, Bytes: 3900},
		Adaptive: &core.AdaptiveSnapshot{Algorithm: "vegas", Limit: 8, MinLimit: 2, MaxLimit: 64},
		Overhead: &core.OverheadSnapshot{SampleEvery: 1024, GateSamples: 7, DoneSamples: 7, Gates: 61 * time.Nanosecond, Done: 33 * time.Nanosecond, PerCall: 94 * time.Nanosecond, Max: time.Microsecond},
		Cost:     &core.CostSnapshot{Currency: "USD", PerCall: 2000, Spent: 1_998_000, RetrySpent: 4_000, AvoidedByBreaker: 40_000, AvoidedByRateLimit: 20_000},
		Machine:  &core.MachineStatus{State: "degraded", States: []string{"healthy", "degraded", "readOnly"}, Calls: 9, Failures: 4, Admitted: 43, Rejected: 44, Transitions: 45},
	}
	s.Rejected = core.Rejections{Open: s.Breaker.Rejected, HalfOpen: s.Breaker.RejectedProbe,
		Full: s.Bulkhead.Rejected + s.Bulkhead.TimedOut, Limited: s.RateLimit.Rejected}
	return s
}

// tableNotShown lists the table's concepts the admin API does not show.
var tableNotShown = map[string]string{
	"breakerbox.retry.retries":  "retries are not in GuardStatus",
	"breakerbox.retry.attempts": "retries are not in GuardStatus",
	"breakerbox.retry.calls":    "retries are not in GuardStatus",
	"breakerbox.fallback.calls": "fallbacks are not in GuardStatus",
	"breakerbox.cost.amount":    "costs are shown by GET /v1/cost, not GuardStatus",
	// GuardStatus shows the state and the last transition's actor; GET
	// /v1/maintenance and /v1/dependencies say which window or dependency.
	"breakerbox.maintenance.active": "shown by GET /v1/maintenance",
	"breakerbox.dependency.open":    "shown by GET /v1/dependencies",
}

func TestStatusShowsTheMetricsTableConcepts(t *testing.T) {
	s := distinctSnapshot()
	st := statusOf(&s, s.Breaker.Since)
	c, w, bh, rl := st.Counters, st.Window, st.Bulkhead, st.RateLimit
	f := func(v ...uint64) []float64 {
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = float64(x)
		}
		return out
	}
	status := make([]float64, breaker.MetricsOnly+1)
	status[st.State] = 1
	shown := map[string][]float64{
		"breakerbox.guard.rejections":                       f(c.RejectedOpen, c.RejectedProbe, c.RejectedFull, c.RejectedLimited),
		"breakerbox.circuit_breaker.calls":                  f(c.Succeeded, c.Failed, c.Ignored, c.RejectedOpen+c.RejectedProbe),
		"breakerbox.circuit_breaker.status":                 status,
		"breakerbox.circuit_breaker.transitions":            f(c.Transitions),
		"breakerbox.circuit_breaker.state_change_timestamp": {float64(st.Since.UnixNano()) / 1e9},
		"breakerbox.circuit_breaker.failure_rate":           {w.FailureRate / 100},
		"breakerbox.circuit_breaker.slow_call_rate":         {w.SlowCallRate / 100},
		"breakerbox.circuit_breaker.window_calls":           {float64(w.Calls)},
		"breakerbox.circuit_breaker.consecutive_failures":   {float64(w.ConsecutiveFailures)},
		"breakerbox.circuit_breaker.slow_calls":             f(c.Slow),
		"breakerbox.circuit_breaker.shadow_trips":           f(c.ShadowTrips),
		"breakerbox.bulkhead.calls":                         f(bh.Rejected, bh.TimedOut, bh.Canceled, bh.Waited),
		"breakerbox.bulkhead.usage":                         {float64(bh.InUse), float64(bh.Queued)},
		"breakerbox.bulkhead.limit":                         {float64(bh.MaxConcurrent), float64(bh.MaxQueue)},
		"breakerbox.bulkhead.queue.wait_time":               {time.Duration(bh.WaitTime).Seconds()},
		"breakerbox.rate_limiter.calls":                     f(rl.Allowed, rl.Rejected),
		"breakerbox.rate_limiter.available":                 {rl.Available},
		"breakerbox.rate_limiter.limit":                     {rl.Limit / time.Duration(rl.Per).Seconds()},
		"breakerbox.hedge.hedges":                           f(st.Hedge.Won, st.Hedge.Started-st.Hedge.Won, st.Hedge.BudgetStopped, st.Hedge.GateStopped),
		"breakerbox.hedge.cancelled":                        f(st.Hedge.Cancelled),
		"breakerbox.cache.calls":                            f(st.Cache.Hits, st.Cache.Shared, st.Cache.Fills),
		"breakerbox.cache.stale":                            f(st.Cache.StaleServed, st.Cache.StaleMissing),
		"breakerbox.cache.evictions":                        f(st.Cache.Evictions),
		"breakerbox.cache.entries":                          {float64(st.Cache.Entries)},
		"breakerbox.cache.bytes":                            {float64(st.Cache.Bytes)},
		"breakerbox.bulkhead.adaptive.limit":                {float64(st.Adaptive.Limit)},
		"breakerbox.guard.overhead":                         {time.Duration(st.Overhead.Gates).Seconds(), time.Duration(st.Overhead.Report).Seconds()},
		"breakerbox.machine.state":                          {float64(slices.Index(s.Machine.States, st.Machine.State))},
		"breakerbox.machine.calls":                          f(st.Machine.Admitted, st.Machine.Rejected),
	}
	for _, m := range metrics.Table() {
		v := make([]float64, m.Len())
		if !m.Read(&s, v) {
			t.Errorf("%s: no value in the test's snapshot", m.Name)
			continue
		}
		want, ok := shown[m.Name]
		if !ok {
			if _, ok := tableNotShown[m.Name]; !ok {
				t.Errorf("%s: the admin API does not show it: show it in GuardStatus, or list it in tableNotShown", m.Name)
			}
			continue
		}
		delete(shown, m.Name)
		for i := range v {
			if math.Abs(v[i]-want[i]) > 1e-9*max(1, math.Abs(v[i])) {
				t.Errorf("%s %s: the API shows %v, the table reads %v", m.Name, valueName(&m, i), want[i], v[i])
			}
		}
	}
	for name := range shown {
		t.Errorf("%s: not in metrics.Table any more", name)
	}
	if c.Rejected != c.RejectedOpen+c.RejectedProbe+c.RejectedFull+c.RejectedLimited {
		t.Errorf("rejected %d is not the sum of its reasons (%+v)", c.Rejected, c)
	}
}

// The event stream's rates are counted from the same concepts: over one
// second from zero, a rate is the count.
func TestLiveRatesShowTheMetricsTableConcepts(t *testing.T) {
	s := distinctSnapshot()
	l := liveOf(&s, tally{}, time.Second)
	st := statusOf(&s, s.Breaker.Since)
	c := st.Counters
	for _, x := range []struct {
		name      string
		live, api float64
	}{
		{"calls", l.Calls, float64(c.Admitted)},
		{"failed", l.Failed, float64(c.Failed)},
		{"slow", l.Slow, float64(c.Slow)},
		{"rejectedOpen", l.RejectedOpen, float64(c.RejectedOpen)},
		{"rejectedHalfOpen", l.RejectedHalfOpen, float64(c.RejectedProbe)},
		{"rejectedFull", l.RejectedFull, float64(c.RejectedFull)},
		{"rejectedLimited", l.RejectedLimited, float64(c.RejectedLimited)},
		{"windowCalls", float64(l.WindowCalls), float64(st.Window.Calls)},
		{"inUse", float64(l.InUse), float64(st.Bulkhead.InUse)},
		{"queued", float64(l.Queued), float64(st.Bulkhead.Queued)},
		{"available", *l.Available, st.RateLimit.Available},
		{"hedges", l.Hedges, float64(st.Hedge.Started)},
		{"stale", l.Stale, float64(st.Cache.StaleServed)},
	} {
		if x.live != x.api {
			t.Errorf("%s: the event stream shows %v, GuardStatus %v", x.name, x.live, x.api)
		}
	}
}

// The rate limit's algorithm and period come from the snapshot's Config,
// which has its defaults filled in: a policy that names neither shows the
// token bucket and one second.
func TestRateLimitDefaultsShownFromTheSnapshot(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "rl", Match: []string{"*"},
		RateLimit: &core.RateLimitPolicy{Limit: 5}}))
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("x")
	s := g.Snapshot()
	for what, info := range map[string]*RateLimitInfo{
		"GuardStatus": &statusOf(&s, time.Now()).RateLimit.RateLimitInfo,
		"GuardInfo":   infoOf(g, &s).RateLimit,
	} {
		if info.Algorithm != "token_bucket" || time.Duration(info.Per) != time.Second || info.Limit != 5 {
			t.Errorf("%s: %+v, want token_bucket, 5 per 1s", what, info)
		}
	}
}

func valueName(m *metrics.Metric, i int) string {
	if i < len(m.Values) {
		return m.Values[i]
	}
	return ""
}
