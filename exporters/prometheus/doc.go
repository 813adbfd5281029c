// Package prometheus exports breakerbox guards to Prometheus.
//
// [NewCollector] returns a prometheus.Collector that reads the registry's
// [core.Registry.Snapshot] at every scrape. Nothing is counted on the call
// path, so exporting costs the guarded calls nothing; descriptors are built
// once. The Collector does not register itself:
//
//	import bbprom "github.com/breakerbox/breakerbox/exporters/prometheus"
//
//	prometheus.MustRegister(bbprom.NewCollector(reg))
//	http.Handle("/metrics", promhttp.Handler())
//
// # Names
//
// Metric names are the OTel instrument names of package otelbreaker through
// the Prometheus translation (dots become underscores, counters end in
// _total, durations in _seconds), so dashboards and alerts read the same
// whichever way the metrics travel: breakerbox.circuit_breaker.calls is
// [MetricBreakerCalls], breakerbox_circuit_breaker_calls_total. The Metric
// constants list every name and what it means.
//
// Labels are short and bounded: guard (the guard's name) and policy on
// every series, plus outcome, state or reason where the metric has them.
// Rates in the current window ([MetricBreakerFailureRate]) are ratios from
// 0 to 1, as Prometheus conventions ask, not the percentages
// breaker.Snapshot holds. A guard's tags are not labels (they would be
// repeated on every series); [MetricGuardInfo] carries them once per guard,
// to join on guard:
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
// A guard's series for a primitive it does not have (a bulkhead, a rate
// limit) are not exported.
//
// # Dashboard
//
// grafana/breakerbox.json beside this package is a Grafana dashboard built
// on these metrics: breaker state timeline, call rates by outcome, rejection
// rate by reason, open breakers, failure rates, bulkhead usage and queue,
// rate limits, retries and fallbacks. Its queries are tested against this
// Collector's real output.
package prometheus
