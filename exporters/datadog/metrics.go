package datadog

import (
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// Metric names: the OTel instrument names of package otelbreaker, which
// Datadog takes as they are. Counts are the increase since the previous
// push; gauges are sent at every push.
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
	// MetricRetryCalls (count) counts calls by how their retries ended;
	// the one outcome tag sent is budget_exhausted: calls that stopped
	// retrying because the retry budget was spent.
	MetricRetryCalls = "breakerbox.retry.calls"

	// MetricFallbackCalls (count) counts failed calls handed to fallbacks,
	// by outcome tag: served (a fallback answered) or failed.
	MetricFallbackCalls = "breakerbox.fallback.calls"

	// MetricCallDuration (distribution, seconds) is the duration of each
	// admitted call, by outcome tag (success, failure, ignored); sent only
	// with WithCallDuration.
	MetricCallDuration = "breakerbox.call.duration"

	// MetricEventsDropped (count) counts state changes not sent as events
	// because the event queue was full.
	MetricEventsDropped = "breakerbox.datadog.events_dropped"
)

// countSpec is one count every guard may have.
type countSpec struct {
	name, tag string // tag: "key:value" or ""
	// value returns the cumulative counter and false when the guard has no
	// such counter (a primitive it lacks).
	value func(s *core.GuardSnapshot) (uint64, bool)
}

// gaugeSpec is one gauge every guard may have.
type gaugeSpec struct {
	name, tag string
	value     func(s *core.GuardSnapshot) (float64, bool)
}

func always[T any](f func(s *core.GuardSnapshot) T) func(s *core.GuardSnapshot) (T, bool) {
	return func(s *core.GuardSnapshot) (T, bool) { return f(s), true }
}

func withBulkhead[T any](f func(b *bulkhead.Snapshot) T) func(s *core.GuardSnapshot) (T, bool) {
	return func(s *core.GuardSnapshot) (T, bool) {
		if s.Bulkhead == nil {
			var zero T
			return zero, false
		}
		return f(s.Bulkhead), true
	}
}

func withRateLimit[T any](f func(r *ratelimit.Snapshot) T) func(s *core.GuardSnapshot) (T, bool) {
	return func(s *core.GuardSnapshot) (T, bool) {
		if s.RateLimit == nil {
			var zero T
			return zero, false
		}
		return f(s.RateLimit), true
	}
}

var counts = []countSpec{
	{MetricBreakerCalls, "outcome:success", always(func(s *core.GuardSnapshot) uint64 { return s.Breaker.Succeeded })},
	{MetricBreakerCalls, "outcome:failure", always(func(s *core.GuardSnapshot) uint64 { return s.Breaker.Failed })},
	{MetricBreakerCalls, "outcome:ignored", always(func(s *core.GuardSnapshot) uint64 { return s.Breaker.Ignored })},
	{MetricBreakerCalls, "outcome:rejected", always(func(s *core.GuardSnapshot) uint64 { return s.Breaker.Rejected + s.Breaker.RejectedProbe })},
	{MetricBreakerTransitions, "", always(func(s *core.GuardSnapshot) uint64 { return s.Breaker.Transitions })},
	{MetricBreakerSlowCalls, "", always(func(s *core.GuardSnapshot) uint64 { return s.Breaker.Slow })},
	{MetricBreakerShadowTrips, "", always(func(s *core.GuardSnapshot) uint64 { return s.Breaker.ShadowTrips })},

	{MetricGuardRejections, "reason:circuit_open", always(func(s *core.GuardSnapshot) uint64 { return s.Rejected.Open })},
	{MetricGuardRejections, "reason:circuit_half_open", always(func(s *core.GuardSnapshot) uint64 { return s.Rejected.HalfOpen })},
	{MetricGuardRejections, "reason:bulkhead_full", always(func(s *core.GuardSnapshot) uint64 { return s.Rejected.Full })},
	{MetricGuardRejections, "reason:rate_limited", always(func(s *core.GuardSnapshot) uint64 { return s.Rejected.Limited })},

	{MetricBulkheadCalls, "outcome:rejected", withBulkhead(func(b *bulkhead.Snapshot) uint64 { return b.Rejected })},
	{MetricBulkheadCalls, "outcome:timed_out", withBulkhead(func(b *bulkhead.Snapshot) uint64 { return b.TimedOut })},
	{MetricBulkheadCalls, "outcome:canceled", withBulkhead(func(b *bulkhead.Snapshot) uint64 { return b.Canceled })},
	{MetricBulkheadCalls, "outcome:waited", withBulkhead(func(b *bulkhead.Snapshot) uint64 { return b.Waited })},

	{MetricRateLimiterCalls, "outcome:permitted", withRateLimit(func(r *ratelimit.Snapshot) uint64 { return r.Allowed })},
	{MetricRateLimiterCalls, "outcome:rejected", withRateLimit(func(r *ratelimit.Snapshot) uint64 { return r.Rejected })},

	{MetricRetryRetries, "", always(func(s *core.GuardSnapshot) uint64 { return s.Retries })},
	{MetricRetryCalls, "outcome:budget_exhausted", always(func(s *core.GuardSnapshot) uint64 { return s.RetryBudgetExhausted })},
	{MetricFallbackCalls, "outcome:served", always(func(s *core.GuardSnapshot) uint64 { return s.FallbackServed })},
	{MetricFallbackCalls, "outcome:failed", always(func(s *core.GuardSnapshot) uint64 { return s.FallbackFailed })},
}

var gauges = func() []gaugeSpec {
	var gs []gaugeSpec
	for st := breaker.Closed; st <= breaker.MetricsOnly; st++ {
		gs = append(gs, gaugeSpec{MetricBreakerStatus, "state:" + st.String(), always(func(s *core.GuardSnapshot) float64 {
			if s.Breaker.State == st {
				return 1
			}
			return 0
		})})
	}
	return append(gs,
		gaugeSpec{MetricBreakerFailureRate, "", always(func(s *core.GuardSnapshot) float64 { return s.Breaker.FailureRate / 100 })},
		gaugeSpec{MetricBreakerSlowCallRate, "", always(func(s *core.GuardSnapshot) float64 { return s.Breaker.SlowCallRate / 100 })},
		gaugeSpec{MetricBreakerWindowCalls, "", always(func(s *core.GuardSnapshot) float64 { return float64(s.Breaker.WindowCalls) })},
		gaugeSpec{MetricBreakerConsecutiveFailures, "", always(func(s *core.GuardSnapshot) float64 { return float64(s.Breaker.ConsecutiveFailures) })},
		gaugeSpec{MetricBulkheadUsage, "", withBulkhead(func(b *bulkhead.Snapshot) float64 { return float64(b.InUse) })},
		gaugeSpec{MetricBulkheadLimit, "", withBulkhead(func(b *bulkhead.Snapshot) float64 { return float64(b.MaxConcurrent) })},
		gaugeSpec{MetricBulkheadQueueLength, "", withBulkhead(func(b *bulkhead.Snapshot) float64 { return float64(b.Queued) })},
		gaugeSpec{MetricBulkheadQueueLimit, "", withBulkhead(func(b *bulkhead.Snapshot) float64 { return float64(b.MaxQueue) })},
		gaugeSpec{MetricRateLimiterAvailable, "", withRateLimit(func(r *ratelimit.Snapshot) float64 { return r.Available })},
		gaugeSpec{MetricRateLimiterLimit, "", withRateLimit(func(r *ratelimit.Snapshot) float64 {
			per := r.Config.Per
			if per <= 0 {
				per = time.Second
			}
			return r.Config.Limit / per.Seconds()
		})},
	)
}()
