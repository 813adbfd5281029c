package datadog_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/exporters/datadog"
	"github.com/breakerbox/breakerbox/metrics"
)

// docNames reads the names table of the metrics package's documentation:
// for each concept (name{value} for a split metric's parts), its
// Prometheus and Datadog names.
func docNames(t *testing.T) map[string][2]string {
	t.Helper()
	raw, err := os.ReadFile("../../metrics/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][2]string{}
	in := false
	for line := range strings.Lines(string(raw)) {
		if !in {
			in = strings.HasPrefix(line, "//\tconcept (OTel name)")
			continue
		}
		f := strings.Fields(strings.TrimPrefix(line, "//"))
		if len(f) != 3 {
			break
		}
		out[f[0]] = [2]string{f[1], f[2]}
	}
	if len(out) == 0 {
		t.Fatal("no names table in metrics/doc.go")
	}
	return out
}

// everyMetric drives a registry until each metric of the table has a value
// to send: a guard with a bulkhead (and a call that waited 1s for its slot)
// and a rate limit, one with retries and a fallback, one whose retry budget
// is spent, a slow call, a metrics-only breaker's shadow trip. Run it in a
// synctest bubble: the clock stands still unless a goroutine sleeps.
func everyMetric(t *testing.T) *core.Registry {
	t.Helper()
	retry := &core.RetryPolicy{MaxAttempts: 3, InitialDelay: core.Duration(time.Microsecond), Jitter: "none"}
	reg := newRegistry(t,
		core.WithFallback("cached", func(context.Context, fallback.Cause) (any, error) { return struct{}{}, nil }),
		core.WithPolicies(
			core.Policy{Name: "api", Match: []string{"api.*"},
				Breaker:   &core.BreakerPolicy{ConsecutiveFailures: 2, DisableFailureRate: true, SlowCallDuration: core.Duration(time.Millisecond), MeasureLatency: true},
				Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 1, MaxQueue: 1},
				RateLimit: &core.RateLimitPolicy{Limit: 100, Per: core.Duration(time.Hour), Burst: 100, Precise: true}},
			core.Policy{Name: "r", Match: []string{"r.*"}, Retry: retry, Fallbacks: []core.FallbackRef{{Name: "cached"}},
				Hedge: &core.HedgePolicy{Delay: core.Duration(time.Second)},
				Cache: &core.CachePolicy{MaxStaleness: core.Duration(time.Minute), MaxEntries: 1}},
			core.Policy{Name: "broke", Match: []string{"broke.*"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1000, DisableFailureRate: true}, Retry: &core.RetryPolicy{MaxAttempts: 3,
				InitialDelay: core.Duration(time.Microsecond), Jitter: "none", Budget: &core.RetryBudgetPolicy{Ratio: -1, MinRetriesPerSec: 1}}},
			core.Policy{Name: "shadow", Match: []string{"shadow.*"}, Breaker: &core.BreakerPolicy{Mode: "metrics-only", ConsecutiveFailures: 1}},
			core.Policy{Name: "adaptive", Match: []string{"adaptive.*"}, Bulkhead: &core.BulkheadPolicy{Adaptive: &core.AdaptivePolicy{InitialLimit: 5}}},
			core.Policy{Name: "priced", Match: []string{"priced.*"}, Cost: &core.CostPolicy{PerCall: 0.002, Currency: "USD"},
				Machine: &core.MachinePolicy{Initial: "healthy", States: []core.MachineState{{Name: "healthy"}, {Name: "degraded", Admit: "percent", Percent: 50}},
					Transitions: []core.MachineTransition{{From: "healthy", To: "degraded", When: core.MachineCondition{ConsecutiveFailures: 5}}, {From: "degraded", To: "healthy", When: core.MachineCondition{MinCalls: 5}}}}},
		))
	reg.MustGuard("adaptive.dep")
	ctx := context.Background()
	// Enough calls for an overhead sample, on a guard with a cost.
	for range breaker.SampleEvery + 1 {
		_ = reg.MustGuard("priced.llm").Do(ctx, func(context.Context) error { return nil })
	}
	boom := func(context.Context) error { return errors.New("boom") }

	api := reg.MustGuard("api.charge")
	held, err := api.Allow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p, err := api.Allow(ctx) // queues
		if err == nil {
			p.Done(nil)
		}
	}()
	synctest.Wait()
	if _, err := api.Allow(ctx); err == nil { // queue full: rejected
		t.Fatal("a third call got in")
	}
	time.Sleep(time.Second) // the queued call waits 1s, the held one is slow
	held.Done(nil)
	<-done
	_ = api.Do(ctx, boom)
	_ = api.Do(ctx, boom) // opens
	_ = api.Do(ctx, boom) // rejected

	r := reg.MustGuard("r.quote")
	if err := r.Do(ctx, boom); err != nil {
		t.Fatalf("the fallback should have answered: %v", err)
	}
	// A hedge that wins (the first attempt is slow), and two keys for a
	// cache of one entry: an eviction.
	var n atomic.Int32
	slowFirst := func(ctx context.Context) (int, error) {
		i := n.Add(1)
		if i == 1 {
			select {
			case <-time.After(time.Hour):
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		return int(i), nil
	}
	if _, err := core.DoIdempotent(core.CacheKey(ctx, "a"), r, slowFirst); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Do(core.CacheKey(ctx, "b"), r, func(context.Context) (int, error) { return 1, nil }); err != nil {
		t.Fatal(err)
	}
	for range 20 { // at most 10 retries in the budget's 10s window
		_ = reg.MustGuard("broke.x").Do(ctx, boom)
	}
	_ = reg.MustGuard("shadow.x").Do(ctx, boom)
	return reg
}

// One push sends every metric of the table that has something to send,
// under the Datadog name the metrics package documents, with the table's
// tags and values (counts: the increase, here the whole counter; the queue
// wait: its mean), and nothing that is not in the table.
func TestPushRendersTheTable(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		names := docNames(t)
		reg := everyMetric(t)
		rec := newRecorder()
		exp := datadog.New(reg, rec)
		defer exp.Close()
		if err := exp.Flush(); err != nil {
			t.Fatal(err)
		}

		wantCounts, wantGauges := map[string]int64{}, map[string]float64{}
		sent := map[string]bool{} // table metrics that sent something
		for _, s := range reg.Snapshot() {
			has := metrics.PrimitivesOf(reg, &s)
			base := []string{"guard:" + s.Name, "policy:" + s.Policy}
			for _, m := range metrics.Table() {
				v := make([]float64, m.Len())
				if !has.Has(m.Requires) || !m.Read(&s, v) {
					continue
				}
				for j, x := range v {
					concept, tags := m.Name, base
					switch {
					case m.Split != nil:
						concept += "{" + m.Values[j] + "}"
					case len(m.Values) > 0:
						tags = append(tags[:len(tags):len(tags)], m.Attribute.Label+":"+m.Values[j])
					}
					dd, ok := names[concept]
					if !ok {
						t.Fatalf("%s: not in the documented names table", concept)
					}
					k := key(dd[1], tags)
					switch {
					case dd[1] == datadog.MetricBulkheadQueueWaitTime:
						if s.Bulkhead.Waited > 0 {
							wantGauges[k] = s.Bulkhead.WaitTime.Seconds() / float64(s.Bulkhead.Waited)
							sent[m.Name] = true
						}
					case dd[1] == datadog.MetricCostAmount: // a gauge of the cumulative amount
						wantGauges[k] = x
						sent[m.Name] = true
					case m.Kind == metrics.Counter:
						if x > 0 {
							wantCounts[k] = int64(x)
							sent[m.Name] = true
						}
					default:
						wantGauges[k] = x
						sent[m.Name] = true
					}
				}
			}
		}
		for k, v := range wantCounts {
			if got, ok := rec.counts[k]; !ok || got != v {
				t.Errorf("count %s = %v (sent %v), want %v", k, got, ok, v)
			}
		}
		for k, v := range wantGauges {
			if got, ok := rec.gauges[k]; !ok || got != v {
				t.Errorf("gauge %s = %v (sent %v), want %v", k, got, ok, v)
			}
		}
		for k := range rec.counts {
			if _, ok := wantCounts[k]; !ok {
				t.Errorf("count %s sent, not in the table", k)
			}
		}
		for k := range rec.gauges {
			if _, ok := wantGauges[k]; !ok {
				t.Errorf("gauge %s sent, not in the table", k)
			}
		}
		for _, m := range metrics.Table() {
			if !sent[m.Name] {
				t.Errorf("%s: the fixture sent nothing for it", m.Name)
			}
		}
	})
}

// The Metric constants are the documented Datadog names, plus the
// exporter's own and the per-call distribution.
func TestMetricConstantsAreTheTables(t *testing.T) {
	documented := map[string]bool{}
	for _, n := range docNames(t) {
		documented[n[1]] = true
	}
	consts := []string{
		datadog.MetricBreakerCalls, datadog.MetricBreakerStatus, datadog.MetricBreakerTransitions,
		datadog.MetricBreakerStateChange, datadog.MetricBreakerFailureRate, datadog.MetricBreakerSlowCallRate,
		datadog.MetricBreakerWindowCalls, datadog.MetricBreakerConsecutiveFailures, datadog.MetricBreakerSlowCalls,
		datadog.MetricBreakerShadowTrips, datadog.MetricGuardRejections,
		datadog.MetricBulkheadUsage, datadog.MetricBulkheadLimit, datadog.MetricBulkheadQueueLength,
		datadog.MetricBulkheadQueueLimit, datadog.MetricBulkheadCalls, datadog.MetricBulkheadQueueWaitTime, datadog.MetricBulkheadAdaptiveLimit,
		datadog.MetricRateLimiterCalls, datadog.MetricRateLimiterAvailable, datadog.MetricRateLimiterLimit,
		datadog.MetricRetryRetries, datadog.MetricRetryAttempts, datadog.MetricRetryCalls, datadog.MetricFallbackCalls,
		datadog.MetricHedgeHedges, datadog.MetricHedgeCancelled,
		datadog.MetricCacheCalls, datadog.MetricCacheStale, datadog.MetricCacheEvictions, datadog.MetricCacheEntries, datadog.MetricCacheBytes,
		datadog.MetricGuardOverhead, datadog.MetricCostAmount, datadog.MetricMaintenanceActive, datadog.MetricDependencyOpen,
		datadog.MetricMachineState, datadog.MetricMachineCalls,
	}
	for _, c := range consts {
		if !documented[c] {
			t.Errorf("%s is not a documented Datadog name", c)
		}
		delete(documented, c)
	}
	for n := range documented {
		t.Errorf("%s is documented but has no constant", n)
	}
	if datadog.MetricCallDuration != metrics.CallDuration().Name {
		t.Errorf("call duration %s, the table's %s", datadog.MetricCallDuration, metrics.CallDuration().Name)
	}
}
