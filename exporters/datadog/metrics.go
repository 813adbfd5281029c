package datadog

import (
	"github.com/breakerbox/breakerbox/metrics"
)

// Metric names: the names of the metrics package's table, which are the
// OTel instrument names of package otelbreaker, as they are (the bulkhead's
// usage and limits are split into four gauges, as in Prometheus). Counts
// are the increase since the previous push; gauges are sent at every push.
// A guard has no series for a primitive it lacks: a guard without a
// bulkhead has no bulkhead series, one whose policy has no retries no retry
// series.
const (
	// MetricBreakerCalls (count) counts calls by outcome tag: success,
	// failure and ignored for admitted calls once they report, rejected
	// for calls the breaker refused.
	MetricBreakerCalls = "breakerbox.circuit_breaker.calls"
	// MetricBreakerStatus (gauge) is 1 for the breaker's current state and
	// 0 for the others, by state tag (closed, open, half-open, forced-open,
	// disabled, metrics-only).
	MetricBreakerStatus = "breakerbox.circuit_breaker.status"
	// MetricBreakerTransitions (count) counts state changes.
	MetricBreakerTransitions = "breakerbox.circuit_breaker.transitions"
	// MetricBreakerStateChange (gauge) is the Unix time, in seconds, at
	// which the breaker entered its current state.
	MetricBreakerStateChange = "breakerbox.circuit_breaker.state_change_timestamp"
	// MetricBreakerFailureRate (gauge) is the share of failed calls in the
	// breaker's current window, from 0 to 1.
	MetricBreakerFailureRate = "breakerbox.circuit_breaker.failure_rate"
	// MetricBreakerSlowCallRate (gauge) is the share of slow calls in the
	// current window, from 0 to 1.
	MetricBreakerSlowCallRate = "breakerbox.circuit_breaker.slow_call_rate"
	// MetricBreakerWindowCalls (gauge) is the number of calls in the
	// current window.
	MetricBreakerWindowCalls = "breakerbox.circuit_breaker.window_calls"
	// MetricBreakerConsecutiveFailures (gauge) is the current run of
	// failures.
	MetricBreakerConsecutiveFailures = "breakerbox.circuit_breaker.consecutive_failures"
	// MetricBreakerSlowCalls (count) counts calls at or above the slow
	// threshold.
	MetricBreakerSlowCalls = "breakerbox.circuit_breaker.slow_calls"
	// MetricBreakerShadowTrips (count) counts the trips a metrics-only
	// breaker would have made.
	MetricBreakerShadowTrips = "breakerbox.circuit_breaker.shadow_trips"

	// MetricGuardRejections (count) counts rejected calls by reason tag:
	// circuit_open, circuit_half_open, bulkhead_full, rate_limited.
	MetricGuardRejections = "breakerbox.guard.rejections"

	// MetricBulkheadUsage (gauge) is the number of slots held.
	MetricBulkheadUsage = "breakerbox.bulkhead.usage"
	// MetricBulkheadLimit (gauge) is the configured number of slots.
	MetricBulkheadLimit = "breakerbox.bulkhead.limit"
	// MetricBulkheadQueueLength (gauge) is the number of callers waiting.
	MetricBulkheadQueueLength = "breakerbox.bulkhead.queue.length"
	// MetricBulkheadQueueLimit (gauge) is the configured queue size.
	MetricBulkheadQueueLimit = "breakerbox.bulkhead.queue.limit"
	// MetricBulkheadCalls (count) counts the calls the bulkhead did not
	// admit at once, by outcome tag: rejected (no slot, queue full or
	// absent), timed_out (waited the maximum wait), canceled (context ended
	// while queued), waited (queued, then admitted).
	MetricBulkheadCalls = "breakerbox.bulkhead.calls"
	// MetricBulkheadAdaptiveLimit (gauge) is an adaptive bulkhead's current
	// limit, as its algorithm last computed it.
	MetricBulkheadAdaptiveLimit = "breakerbox.bulkhead.adaptive.limit"
	// MetricGuardOverhead (gauge, seconds) is the time a guard itself adds
	// to a call, by outcome tag gates and report, measured on about one
	// call in 1024.
	MetricGuardOverhead = "breakerbox.guard.overhead"
	// MetricMaintenanceActive (gauge) is 1 while a maintenance window holds
	// a guard (forced open or metrics-only by package maintenance), else 0.
	MetricMaintenanceActive = "breakerbox.maintenance.active"
	// MetricDependencyOpen (gauge) is 1 while a guard is held open because
	// a guard it depends on is open (a policy's dependsOn), else 0.
	MetricDependencyOpen = "breakerbox.dependency.open"
	// MetricMaintenanceWindows (gauge) counts the registry's maintenance
	// windows by state tag, active or upcoming; sent with WithWindows only,
	// without guard tags.
	MetricMaintenanceWindows = "breakerbox.maintenance.windows"
	// MetricCostAmount (gauge: the cumulative amount, since DogStatsD
	// counts are integers) is what a guard's calls cost, in its policy's
	// currency, by outcome tag: spent, retries, avoided_breaker,
	// avoided_rate_limit (see core.CostPolicy).
	MetricCostAmount = "breakerbox.cost.amount"
	// MetricMachineState (gauge) is a guard's current custom state, as its
	// index in the states of its policy's machine section.
	MetricMachineState = "breakerbox.machine.state"
	// MetricMachineCalls (count) is the calls a guard's custom state
	// admitted or rejected, by outcome tag.
	MetricMachineCalls = "breakerbox.machine.calls"
	// MetricBulkheadQueueWaitTime (gauge) is the mean time, in seconds,
	// that the calls that waited (MetricBulkheadCalls, outcome:waited)
	// since the previous push spent queued; not sent when there were none.
	MetricBulkheadQueueWaitTime = "breakerbox.bulkhead.queue.wait_time"

	// MetricRateLimiterCalls (count) counts calls by outcome tag:
	// permitted or rejected.
	MetricRateLimiterCalls = "breakerbox.rate_limiter.calls"
	// MetricRateLimiterAvailable (gauge) is how many calls the limiter
	// could admit at once now.
	MetricRateLimiterAvailable = "breakerbox.rate_limiter.available"
	// MetricRateLimiterLimit (gauge) is the configured rate, in calls per
	// second.
	MetricRateLimiterLimit = "breakerbox.rate_limiter.limit"

	// MetricRetryRetries (count) counts retry attempts.
	MetricRetryRetries = "breakerbox.retry.retries"
	// MetricRetryAttempts (count) counts the attempts made through a
	// retrying guard, first attempts and retries, as counted at its gates
	// (admitted or rejected).
	MetricRetryAttempts = "breakerbox.retry.attempts"
	// MetricRetryCalls (count) counts calls by how their retries ended;
	// the one outcome tag sent is budget_exhausted: calls that stopped
	// retrying because the retry budget was spent.
	MetricRetryCalls = "breakerbox.retry.calls"

	// MetricFallbackCalls (count) counts failed calls handed to fallbacks,
	// by outcome tag: served (a fallback answered) or failed.
	MetricFallbackCalls = "breakerbox.fallback.calls"

	// MetricHedgeHedges (count) counts hedges of idempotent calls by
	// outcome tag: won, lost, budget_exhausted or breaker_not_closed (the
	// last two were not started).
	MetricHedgeHedges = "breakerbox.hedge.hedges"
	// MetricHedgeCancelled (count) counts attempts cancelled because
	// another attempt of their call answered first.
	MetricHedgeCancelled = "breakerbox.hedge.cancelled"

	// MetricCacheCalls (count) counts calls through a guard's cache by
	// outcome tag: hit, shared or filled.
	MetricCacheCalls = "breakerbox.cache.calls"
	// MetricCacheStale (count) counts failed calls handed to the cache by
	// outcome tag: served (a stale value answered) or missing.
	MetricCacheStale = "breakerbox.cache.stale"
	// MetricCacheEvictions (count) counts entries evicted from the cache.
	MetricCacheEvictions = "breakerbox.cache.evictions"
	// MetricCacheEntries (gauge) is the number of entries in the cache.
	MetricCacheEntries = "breakerbox.cache.entries"
	// MetricCacheBytes (gauge) is the bytes the cache's entries count.
	MetricCacheBytes = "breakerbox.cache.bytes"

	// MetricCallDuration (distribution, seconds) is the duration of each
	// admitted call, by outcome tag (success, failure, ignored); sent only
	// with WithCallDuration.
	MetricCallDuration = "breakerbox.call.duration"

	// MetricEventsDropped (count) counts state changes not sent as events
	// because the event queue was full.
	MetricEventsDropped = "breakerbox.datadog.events_dropped"
)

// kind is how a series is sent.
type kind uint8

const (
	countKind    kind = iota // a count: the increase since the previous push
	gaugeKind                // a gauge: the value now
	meanWaitKind             // the bulkhead's mean queue wait since the previous push
	noKind                   // not sent: a metric this exporter cannot render
)

// series is one DogStatsD metric every guard may have.
type series struct {
	name, tag string // tag: "key:value" or ""
	kind      kind
}

// plan is how the exporter renders the metrics package's table: one series
// per value of each metric.
type plan struct {
	table  []metrics.Metric
	series []series
	first  []int // by table index: the index in series of its first value
	width  int   // the most values of one metric
}

// thePlan is built once: the table does not change.
var thePlan = newPlan(metrics.Table())

func newPlan(table []metrics.Metric) *plan {
	p := &plan{table: table}
	for i := range table {
		m := &table[i]
		p.first = append(p.first, len(p.series))
		p.width = max(p.width, m.Len())
		k := gaugeKind
		switch {
		case m.Name == MetricBulkheadQueueWaitTime:
			// DogStatsD counts are integers: seconds would be rounded
			// away. The mean wait is what a dashboard wants anyway.
			k = meanWaitKind
		case m.Name == MetricCostAmount:
			// DogStatsD counts are integers: cents would be rounded
			// away. The cumulative amount goes as a gauge.
			k = gaugeKind
		case m.Kind == metrics.Counter && m.Integer:
			k = countKind
		case m.Kind == metrics.Counter:
			// A counter of fractions has no DogStatsD rendering yet; the
			// tests, which check that every metric is sent, say so.
			k = noKind
		}
		switch {
		case m.Split != nil:
			for _, part := range m.Split {
				p.series = append(p.series, series{name: part.Name, kind: k})
			}
		case len(m.Values) > 0:
			for _, v := range m.Values {
				p.series = append(p.series, series{name: m.Name, tag: m.Attribute.Label + ":" + v, kind: k})
			}
		default:
			p.series = append(p.series, series{name: m.Name, kind: k})
		}
	}
	return p
}
