// Package prometheus exports breakerbox guards to Prometheus.
//
// [NewCollector] returns a prometheus.Collector that reads the registry's
// [core.Registry.Snapshot] at every scrape. Nothing is counted on the call
// path, so exporting costs the guarded calls nothing; descriptors are built
// once. The Collector does not register itself. From the package's
// example, which imports this package as bbprom (its name is
// client_golang's):
//
//	promReg := prometheus.NewRegistry()
//	promReg.MustRegister(bbprom.NewCollector(reg))
//
//	mux := http.NewServeMux()
//	mux.Handle("/metrics", promhttp.HandlerFor(promReg, promhttp.HandlerOpts{}))
//
// # Names
//
// The metrics are those of the table in package
// github.com/breakerbox/breakerbox/metrics, which otelbreaker and
// exporters/datadog render too: same concepts, units and values, spelled
// the Prometheus way. A name is the concept's dotted name with its dots
// replaced by underscores, then _seconds when its unit is seconds, then
// _total for a counter: breakerbox.circuit_breaker.calls is
// [MetricBreakerCalls], breakerbox_circuit_breaker_calls_total. The
// metrics package's documentation has the whole table, concept by concept,
// with the OTel and Datadog names; the Metric constants list every name
// this collector exports.
//
// Labels are short and snake_case where OTel's attributes are dotted:
// guard and policy on every series (OTel's breakerbox.guard.name and
// breakerbox.policy.name), plus outcome, state or reason where the metric
// has them (breakerbox.outcome, breakerbox.circuit_breaker.state,
// breakerbox.rejection.reason). Where OTel has one up-down counter split
// by an attribute, the bulkhead's usage and limits by
// breakerbox.bulkhead.state, this collector has separate gauges:
// [MetricBulkheadUsage] and [MetricBulkheadQueueLength],
// [MetricBulkheadLimit] and [MetricBulkheadQueueLimit]. Rates in the
// current window ([MetricBreakerFailureRate]) are ratios from 0 to 1, as
// Prometheus conventions ask, not the percentages breaker.Snapshot holds.
// A guard's tags are not labels (they would be repeated on every series);
// [MetricGuardInfo], the one series of this collector that is not in the
// table, carries them once per guard, to join on guard:
//
//	sum by (tags) (
//	  rate(breakerbox_circuit_breaker_calls_total[5m])
//	  * on (guard) group_left (tags) breakerbox_guard_info
//	)
//
// Rejections are counted twice, by design: per primitive, with
// outcome="rejected" on [MetricBreakerCalls], [MetricBulkheadCalls] and
// [MetricRateLimiterCalls] (the OTel shape), and per guard by reason on
// [MetricGuardRejections], which is the one to graph a rejection rate with.
//
// The bulkhead counts only the calls it does not admit at once (counting
// every admission would cost each call an atomic add); the calls it admits
// are the breaker's.
// A guard has no series for a primitive it does not have: bulkhead and
// rate-limit series need a bulkhead or a rate limit, retry and fallback
// series a policy with retries or fallbacks.
//
// # Dashboard
//
// grafana/breakerbox.json beside this package is a Grafana dashboard built
// on these metrics: breaker state timeline, call rates by outcome, rejection
// rate by reason, open breakers, failure rates, bulkhead usage and queue,
// rate limits, retries and fallbacks. Its queries are tested against this
// Collector's real output.
package prometheus
