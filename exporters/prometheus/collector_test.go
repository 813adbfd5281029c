package prometheus_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/breakerbox/breakerbox/core/fallback"
	bbprom "github.com/breakerbox/breakerbox/exporters/prometheus"
	"github.com/breakerbox/breakerbox/ratelimit"
)

func newRegistry(t testing.TB, opts ...core.Option) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// apiPolicy has every gate Allow passes: a rate limit of 6 calls (per hour,
// so that none comes back during a test), a bulkhead of one slot and no
// queue, and a breaker that opens after 2 consecutive failures.
var apiPolicy = core.Policy{
	Name:      "api",
	Match:     []string{"api.*"},
	Tags:      []string{"stripe", "pci"},
	Critical:  true,
	Breaker:   &core.BreakerPolicy{ConsecutiveFailures: 2, DisableFailureRate: true},
	Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 1},
	RateLimit: &core.RateLimitPolicy{Limit: 6, Per: core.Duration(time.Hour), Burst: 6, Precise: true},
}

// driveAPI runs a known sequence of calls through the guard api.charge:
// one success, one bulkhead rejection, two failures (which open the
// breaker), one ignored call, one breaker rejection and one rate-limit
// rejection.
func driveAPI(t testing.TB, reg *core.Registry) {
	t.Helper()
	ctx := context.Background()
	g := reg.MustGuard("api.charge")
	allow := func(want error) *core.Permit {
		t.Helper()
		p, err := g.Allow(ctx)
		if !errors.Is(err, want) {
			t.Fatalf("Allow: got %v, want %v", err, want)
		}
		return &p
	}
	held := allow(nil)                  // rate limit 1
	allow(bulkhead.ErrFull)             // 2: the only slot is held
	held.Done(nil)                      // success
	allow(nil).Done(context.Canceled)   // 3: ignored
	allow(nil).Done(errors.New("boom")) // 4: failure
	allow(nil).Done(errors.New("boom")) // 5: failure, opens
	allow(breaker.ErrOpen)              // 6: rejected by the breaker
	allow(ratelimit.ErrLimited)         // 7: rate limited
	if s := g.Breaker().State(); s != breaker.Open {
		t.Fatalf("state %v, want open", s)
	}
}

func TestCollectorValues(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(apiPolicy))
	driveAPI(t, reg)
	c := bbprom.NewCollector(reg)

	want := `
# HELP breakerbox_circuit_breaker_calls_total Calls seen by the guard's circuit breaker, by outcome: success, failure or ignored (admitted, then classified) or rejected (refused by the breaker: open or half-open).
# TYPE breakerbox_circuit_breaker_calls_total counter
breakerbox_circuit_breaker_calls_total{guard="api.charge",outcome="failure",policy="api"} 2
breakerbox_circuit_breaker_calls_total{guard="api.charge",outcome="ignored",policy="api"} 1
breakerbox_circuit_breaker_calls_total{guard="api.charge",outcome="rejected",policy="api"} 1
breakerbox_circuit_breaker_calls_total{guard="api.charge",outcome="success",policy="api"} 1
# HELP breakerbox_circuit_breaker_status 1 for the state the guard's circuit breaker is in, 0 for the others.
# TYPE breakerbox_circuit_breaker_status gauge
breakerbox_circuit_breaker_status{guard="api.charge",policy="api",state="closed"} 0
breakerbox_circuit_breaker_status{guard="api.charge",policy="api",state="disabled"} 0
breakerbox_circuit_breaker_status{guard="api.charge",policy="api",state="forced-open"} 0
breakerbox_circuit_breaker_status{guard="api.charge",policy="api",state="half-open"} 0
breakerbox_circuit_breaker_status{guard="api.charge",policy="api",state="metrics-only"} 0
breakerbox_circuit_breaker_status{guard="api.charge",policy="api",state="open"} 1
# HELP breakerbox_circuit_breaker_transitions_total State changes of the guard's circuit breaker.
# TYPE breakerbox_circuit_breaker_transitions_total counter
breakerbox_circuit_breaker_transitions_total{guard="api.charge",policy="api"} 1
# HELP breakerbox_circuit_breaker_consecutive_failures Current run of consecutive failures seen by the circuit breaker.
# TYPE breakerbox_circuit_breaker_consecutive_failures gauge
breakerbox_circuit_breaker_consecutive_failures{guard="api.charge",policy="api"} 0
# HELP breakerbox_guard_rejections_total Calls the guard rejected, by reason: circuit_open (breaker open, forced open or ramping), circuit_half_open (half-open with every probe slot taken), bulkhead_full (no slot, and no room or no time left in the queue) or rate_limited.
# TYPE breakerbox_guard_rejections_total counter
breakerbox_guard_rejections_total{guard="api.charge",policy="api",reason="bulkhead_full"} 1
breakerbox_guard_rejections_total{guard="api.charge",policy="api",reason="circuit_half_open"} 0
breakerbox_guard_rejections_total{guard="api.charge",policy="api",reason="circuit_open"} 1
breakerbox_guard_rejections_total{guard="api.charge",policy="api",reason="rate_limited"} 1
# HELP breakerbox_guard_info Guards of the registry, 1 each, with their tags (sorted, comma-separated) and whether they are critical.
# TYPE breakerbox_guard_info gauge
breakerbox_guard_info{critical="true",guard="api.charge",policy="api",tags="pci,stripe"} 1
# HELP breakerbox_bulkhead_calls_total Calls the guard's bulkhead did not admit at once, by outcome: rejected (no slot, and the queue full or absent), timed_out (queued for the maximum wait), canceled (the caller's context ended while queued) or waited (queued, then admitted). Calls admitted at once are counted by the circuit breaker only.
# TYPE breakerbox_bulkhead_calls_total counter
breakerbox_bulkhead_calls_total{guard="api.charge",outcome="canceled",policy="api"} 0
breakerbox_bulkhead_calls_total{guard="api.charge",outcome="rejected",policy="api"} 1
breakerbox_bulkhead_calls_total{guard="api.charge",outcome="timed_out",policy="api"} 0
breakerbox_bulkhead_calls_total{guard="api.charge",outcome="waited",policy="api"} 0
# HELP breakerbox_bulkhead_limit Configured number of bulkhead slots.
# TYPE breakerbox_bulkhead_limit gauge
breakerbox_bulkhead_limit{guard="api.charge",policy="api"} 1
# HELP breakerbox_bulkhead_usage Bulkhead slots held by running calls.
# TYPE breakerbox_bulkhead_usage gauge
breakerbox_bulkhead_usage{guard="api.charge",policy="api"} 0
# HELP breakerbox_bulkhead_queue_length Callers waiting for a bulkhead slot.
# TYPE breakerbox_bulkhead_queue_length gauge
breakerbox_bulkhead_queue_length{guard="api.charge",policy="api"} 0
# HELP breakerbox_bulkhead_queue_wait_time_seconds_total Total time calls spent queued in the bulkhead before they got a slot; divided by the number of those calls (the bulkhead's calls with outcome waited), the mean wait.
# TYPE breakerbox_bulkhead_queue_wait_time_seconds_total counter
breakerbox_bulkhead_queue_wait_time_seconds_total{guard="api.charge",policy="api"} 0
# HELP breakerbox_rate_limiter_calls_total Calls seen by the guard's rate limiter, by outcome: permitted or rejected.
# TYPE breakerbox_rate_limiter_calls_total counter
breakerbox_rate_limiter_calls_total{guard="api.charge",outcome="permitted",policy="api"} 6
breakerbox_rate_limiter_calls_total{guard="api.charge",outcome="rejected",policy="api"} 1
# HELP breakerbox_rate_limiter_limit Configured rate limit, in calls per second.
# TYPE breakerbox_rate_limiter_limit gauge
breakerbox_rate_limiter_limit{guard="api.charge",policy="api"} 0.0016666666666666668
`
	names := []string{
		bbprom.MetricBreakerCalls, bbprom.MetricBreakerStatus, bbprom.MetricBreakerTransitions,
		bbprom.MetricBreakerConsecutiveFailures, bbprom.MetricGuardRejections, bbprom.MetricGuardInfo,
		bbprom.MetricBulkheadCalls, bbprom.MetricBulkheadLimit, bbprom.MetricBulkheadUsage,
		bbprom.MetricBulkheadQueueLength, bbprom.MetricBulkheadQueueWait,
		bbprom.MetricRateLimiterCalls, bbprom.MetricRateLimiterLimit,
	}
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), names...); err != nil {
		t.Fatal(err)
	}
}

// The values that have no fixed expectation are checked against the
// snapshot they come from.
func TestCollectorMatchesSnapshot(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(apiPolicy))
	driveAPI(t, reg)
	s := reg.MustGuard("api.charge").Snapshot()

	got := gatherOne(t, bbprom.NewCollector(reg))
	if v := got[bbprom.MetricBreakerFailureRate]; v != s.Breaker.FailureRate/100 {
		t.Errorf("failure rate %v, want %v (snapshot %v%%)", v, s.Breaker.FailureRate/100, s.Breaker.FailureRate)
	}
	if v := got[bbprom.MetricBreakerWindowCalls]; v != float64(s.Breaker.WindowCalls) {
		t.Errorf("window calls %v, want %d", v, s.Breaker.WindowCalls)
	}
	// The bucket refills as time passes: the scrape saw a value between the
	// snapshots taken before and after it.
	after := reg.MustGuard("api.charge").Snapshot()
	if v := got[bbprom.MetricRateLimiterAvailable]; v < s.RateLimit.Available || v > after.RateLimit.Available {
		t.Errorf("available %v, want between %v and %v", v, s.RateLimit.Available, after.RateLimit.Available)
	}
	since := got[bbprom.MetricBreakerStateChange]
	if want := float64(s.Breaker.Since.UnixNano()) / 1e9; since != want {
		t.Errorf("state change timestamp %v, want %v", since, want)
	}
}

// gatherOne gathers c and returns the first sample of each metric.
func gatherOne(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(c)
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		switch {
		case m.Gauge != nil:
			out[mf.GetName()] = m.Gauge.GetValue()
		case m.Counter != nil:
			out[mf.GetName()] = m.Counter.GetValue()
		}
	}
	return out
}

// A fixture with every primitive and every kind of call passes the
// pedantic registry's checks (every metric described, consistent) and
// Prometheus' own linter.
func TestCollectorPedanticAndLint(t *testing.T) {
	reg := newFixture(t)
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(bbprom.NewCollector(reg))
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, mf := range mfs {
		got[mf.GetName()] = true
	}
	for _, name := range allMetricNames {
		if !got[name] {
			t.Errorf("metric %s missing from the output", name)
		}
	}
	problems, err := testutil.GatherAndLint(pr)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

var allMetricNames = []string{
	bbprom.MetricGuardInfo, bbprom.MetricGuardRejections,
	bbprom.MetricBreakerCalls, bbprom.MetricBreakerStatus, bbprom.MetricBreakerTransitions,
	bbprom.MetricBreakerStateChange, bbprom.MetricBreakerFailureRate, bbprom.MetricBreakerSlowCallRate,
	bbprom.MetricBreakerWindowCalls, bbprom.MetricBreakerConsecutiveFailures, bbprom.MetricBreakerSlowCalls,
	bbprom.MetricBreakerShadowTrips,
	bbprom.MetricBulkheadUsage, bbprom.MetricBulkheadLimit, bbprom.MetricBulkheadQueueLength,
	bbprom.MetricBulkheadQueueLimit, bbprom.MetricBulkheadCalls, bbprom.MetricBulkheadQueueWait, bbprom.MetricBulkheadAdaptiveLimit,
	bbprom.MetricRateLimiterCalls, bbprom.MetricRateLimiterAvailable, bbprom.MetricRateLimiterLimit,
	bbprom.MetricRetryRetries, bbprom.MetricRetryAttempts, bbprom.MetricRetryCalls, bbprom.MetricFallbackCalls,
	bbprom.MetricHedgeHedges, bbprom.MetricHedgeCancelled,
	bbprom.MetricCacheCalls, bbprom.MetricCacheStale, bbprom.MetricCacheEvictions, bbprom.MetricCacheEntries, bbprom.MetricCacheBytes,
	bbprom.MetricGuardOverhead, bbprom.MetricCostAmount, bbprom.MetricMaintenanceActive, bbprom.MetricDependencyOpen,
	bbprom.MetricMachineState, bbprom.MetricMachineCalls,
}

// newFixture returns a registry whose guards have every primitive and have
// seen calls of most kinds: retries, fallbacks, a metrics-only breaker's
// shadow trip, a bulkhead wait and every breaker state.
func newFixture(t testing.TB) *core.Registry {
	t.Helper()
	reg := newRegistry(t,
		core.WithFallback("cached", func(context.Context, fallback.Cause) (any, error) { return "cached", nil }),
		core.WithPolicies(
			apiPolicy,
			core.Policy{
				Name:     "payments",
				Match:    []string{"payments.*"},
				Tags:     []string{"stripe"},
				Breaker:  &core.BreakerPolicy{SlowCallDuration: core.Duration(time.Nanosecond), MeasureLatency: true},
				Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1, MaxQueue: 1},
				Retry: &core.RetryPolicy{MaxAttempts: 2, InitialDelay: core.Duration(time.Microsecond), Jitter: "none",
					Budget: &core.RetryBudgetPolicy{Ratio: 0.1}},
				Fallbacks: []core.FallbackRef{{Name: "cached"}},
				Hedge:     &core.HedgePolicy{Delay: core.Duration(time.Second)},
				Cache:     &core.CachePolicy{MaxStaleness: core.Duration(time.Minute), MaxEntries: 10},
			},
			core.Policy{Name: "shadow", Match: []string{"shadow.*"}, Breaker: &core.BreakerPolicy{Mode: "metrics-only", ConsecutiveFailures: 1}},
			core.Policy{Name: "adaptive", Match: []string{"adaptive.*"}, Bulkhead: &core.BulkheadPolicy{Adaptive: &core.AdaptivePolicy{InitialLimit: 5}}},
			core.Policy{Name: "priced", Match: []string{"priced.*"}, Cost: &core.CostPolicy{PerCall: 0.002, Currency: "USD"},
				Machine: &core.MachinePolicy{Initial: "healthy", States: []core.MachineState{{Name: "healthy"}, {Name: "degraded", Admit: "percent", Percent: 50}},
					Transitions: []core.MachineTransition{{From: "healthy", To: "degraded", When: core.MachineCondition{ConsecutiveFailures: 5}}, {From: "degraded", To: "healthy", When: core.MachineCondition{MinCalls: 5}}}}},
		))
	reg.MustGuard("adaptive.dep")
	ctx := context.Background()
	fail := func(context.Context) (string, error) { return "", errors.New("boom") }
	// Enough calls for an overhead sample, on a guard with a cost.
	for range breaker.SampleEvery + 1 {
		_ = reg.MustGuard("priced.llm").Do(ctx, func(context.Context) error { return nil })
	}

	pay := reg.MustGuard("payments.refund")
	for range 3 {
		if _, err := core.Do(ctx, pay, fail); err != nil {
			t.Fatalf("fallback should have answered: %v", err)
		}
	}
	// A queued call that then gets the slot.
	held, err := pay.Allow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p, err := pay.Allow(ctx)
		if err == nil {
			p.Done(nil)
		}
	}()
	waitFor(t, func() bool { return pay.Bulkhead().Snapshot().Queued == 1 })
	held.Done(nil)
	<-done

	driveAPI(t, reg)
	_, _ = core.Do(ctx, reg.MustGuard("shadow.search"), fail)
	reg.MustGuard("plain").ForceOpen(breaker.Manual{Actor: "test", Reason: "fixture"})
	return reg
}

// waitFor polls cond in a bounded loop: it asserts that something happens,
// never how fast.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	for range 5000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("condition not met")
}

// A guard without a bulkhead, a rate limit, retries or fallbacks has no
// series for them (retry and fallback series used to be exported, as
// zeros, for every guard).
func TestCollectorSkipsAbsentPrimitives(t *testing.T) {
	reg := newRegistry(t)
	reg.MustGuard("plain")
	c := bbprom.NewCollector(reg)
	for _, name := range []string{bbprom.MetricBulkheadUsage, bbprom.MetricBulkheadCalls, bbprom.MetricBulkheadQueueWait,
		bbprom.MetricRateLimiterCalls, bbprom.MetricRateLimiterAvailable,
		bbprom.MetricRetryRetries, bbprom.MetricRetryAttempts, bbprom.MetricRetryCalls, bbprom.MetricFallbackCalls} {
		if n := testutil.CollectAndCount(c, name); n != 0 {
			t.Errorf("%s: %d series for a guard without the primitive", name, n)
		}
	}
	if n := testutil.CollectAndCount(c, bbprom.MetricBreakerStatus); n != 6 {
		t.Errorf("status: %d series, want one per state (6)", n)
	}
}

// Guards created after the collector was registered show up at the next
// scrape.
func TestCollectorSeesNewGuards(t *testing.T) {
	reg := newRegistry(t)
	c := bbprom.NewCollector(reg)
	if n := testutil.CollectAndCount(c, bbprom.MetricGuardInfo); n != 0 {
		t.Fatalf("%d guards before any was created", n)
	}
	reg.MustGuard("a")
	reg.MustGuard("b")
	if n := testutil.CollectAndCount(c, bbprom.MetricGuardInfo); n != 2 {
		t.Fatalf("%d guards, want 2", n)
	}
}

// A guard name that is not valid UTF-8 does not break the scrape.
func TestCollectorInvalidUTF8Name(t *testing.T) {
	reg := newRegistry(t)
	reg.MustGuard("bad\xffname")
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(bbprom.NewCollector(reg))
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if v := labelOf(mfs, bbprom.MetricGuardInfo, "guard"); v != "bad\uFFFDname" {
		t.Fatalf("guard label %q", v)
	}
}

func labelOf(mfs []*dto.MetricFamily, metric, label string) string {
	for _, mf := range mfs {
		if mf.GetName() != metric {
			continue
		}
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			if lp.GetName() == label {
				return lp.GetValue()
			}
		}
	}
	return ""
}

// Two registries exported to one Prometheus registry need const labels to
// tell their series apart; with them, both register and gather.
func TestCollectorConstLabels(t *testing.T) {
	a, b := newRegistry(t), newRegistry(t)
	a.MustGuard("x")
	b.MustGuard("x")
	pr := prometheus.NewPedanticRegistry()
	pr.MustRegister(bbprom.NewCollector(a, bbprom.WithConstLabels(prometheus.Labels{"registry": "a"})))
	if err := pr.Register(bbprom.NewCollector(b)); err == nil {
		t.Fatal("a second collector without const labels registered")
	}
	pr.MustRegister(bbprom.NewCollector(b, bbprom.WithConstLabels(prometheus.Labels{"registry": "b"}), nil))
	n, err := testutil.GatherAndCount(pr, bbprom.MetricGuardInfo)
	if err != nil || n != 2 {
		t.Fatalf("GatherAndCount = %d, %v; want 2 series", n, err)
	}
	// A const label that takes one of the collector's names is an error
	// at registration, not a panic.
	if err := prometheus.NewRegistry().Register(bbprom.NewCollector(a, bbprom.WithConstLabels(prometheus.Labels{"guard": "x"}))); err == nil {
		t.Fatal("a const label named guard registered")
	}
}

// Scrapes run concurrently with calls and with each other (run with -race).
func TestCollectorConcurrentScrapes(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "b", Match: []string{"*"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 4, MaxQueue: 4}}))
	pr := prometheus.NewRegistry()
	pr.MustRegister(bbprom.NewCollector(reg))
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			g := reg.MustGuard([]string{"a", "b"}[w%2])
			for i := range 500 {
				var err error
				if i%3 == 0 {
					err = errors.New("x")
				}
				_ = g.Do(ctx, func(context.Context) error { return err })
			}
		})
		wg.Go(func() {
			for range 20 {
				if _, err := pr.Gather(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Exporting adds nothing to the call path: the collector installs no hook,
// and an admitted call still allocates nothing.
func TestCollectorAddsNoCallCost(t *testing.T) {
	reg := newRegistry(t)
	g := reg.MustGuard("hot")
	prometheus.NewRegistry().MustRegister(bbprom.NewCollector(reg))
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		p, err := g.Allow(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p.Done(nil)
	})
	if allocs != 0 {
		t.Fatalf("admitted call allocates %v times with the collector registered", allocs)
	}
}

// Label pairs are shared between scrapes: a wrapping registerer that adds
// labels in Write must not write into them (run with -race).
func TestCollectorWrappedRegisterer(t *testing.T) {
	reg := newRegistry(t)
	reg.MustGuard("x")
	pr := prometheus.NewRegistry()
	prometheus.WrapRegistererWith(prometheus.Labels{"a_zone": "eu", "zz": "last"}, pr).MustRegister(bbprom.NewCollector(reg))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 20 {
				if _, err := pr.Gather(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	mfs, err := pr.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != bbprom.MetricGuardInfo {
			continue
		}
		var names []string
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			names = append(names, lp.GetName())
		}
		if got := strings.Join(names, ","); got != "a_zone,critical,guard,policy,tags,zz" {
			t.Fatalf("labels %s", got)
		}
	}
}
