// Package datadog exports breakerbox guards to Datadog through DogStatsD:
// metrics, a service check per guard and an event per breaker state change.
// From the package's example:
//
//	client, err := statsd.New("127.0.0.1:8125") // the agent's DogStatsD port, or "unix:///var/run/datadog/dsd.socket"
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer client.Close()
//
//	exp := datadog.New(reg, client, datadog.WithTags("env:prod", "service:checkout"))
//	ctx, cancel := context.WithCancel(context.Background())
//	defer cancel()
//	exp.Start(ctx)
//	defer exp.Close() // a last push; the client is closed after it
//
// # What is sent
//
// Every interval (WithInterval, 10s by default) the [Exporter] takes the
// registry's [core.Registry.Snapshot] and sends, for each guard, tagged
// guard:<name> and policy:<name> (and group:<tag> for each of its tags with
// [WithGuardTags]):
//
//   - counts: the increase since the previous push of each cumulative
//     counter (calls by outcome, rejections by reason, transitions,
//     retries, fallbacks, ...); nothing when a counter did not move;
//   - gauges: breaker status per state and the time it entered its state,
//     failure and slow-call rates as ratios from 0 to 1, bulkhead usage
//     and queue, rate-limit headroom;
//   - a service check, [DefaultServiceCheck], per guard: OK while the
//     breaker is closed, WARNING while half-open, CRITICAL while open or
//     forced open (see [ServiceCheckStatus]).
//
// Each breaker state change is also sent as an event (error for open,
// warning for half-open, success for closed, info for the manual states),
// grouped per guard by its aggregation key, with the reason and the actor of
// a manual change, followed by the guard's service check, so that monitors
// see it without waiting for the next push.
//
// The metrics are those of the table in package
// github.com/breakerbox/breakerbox/metrics, which otelbreaker and
// exporters/prometheus render too: same concepts, units and values. Their
// names are the table's dotted names, which are also the OTel instrument
// names (breakerbox.circuit_breaker.calls), listed by the Metric constants;
// their tags are the Prometheus labels as key:value (outcome:success,
// state:open, reason:circuit_open) where OTel has dotted attribute keys.
// Like Prometheus, and unlike OTel's two up-down counters split by
// breakerbox.bulkhead.state, the bulkhead's usage and limits are four
// gauges ([MetricBulkheadUsage], [MetricBulkheadQueueLength],
// [MetricBulkheadLimit], [MetricBulkheadQueueLimit]). One metric differs
// in shape: DogStatsD counts are integers, so the table's total queue wait
// is sent as [MetricBulkheadQueueWaitTime], the mean wait of the calls that
// waited since the previous push. A guard has no series for a primitive it
// lacks: bulkhead and rate-limit metrics need a bulkhead or a rate limit,
// retry and fallback metrics a policy with retries or fallbacks. The
// metrics package's documentation maps every name to its OTel and
// Prometheus spellings.
//
// Distributions need values per call, which a snapshot does not hold:
// [WithCallDuration] sends each call's duration as the distribution
// [MetricCallDuration], the one option that adds work to the call path.
//
// # Never in the way
//
// Metrics are read from snapshots, so they cost the calls nothing. A state
// change is put on a bounded queue by the hook and sent by the exporter's
// goroutine; when the queue is full it is dropped and counted rather than
// wait ([Exporter.Dropped], [MetricEventsDropped]). The statsd client
// buffers and sends on its own goroutines, over UDP or a Unix socket,
// and does not block when the agent is absent.
//
// # Tests
//
// [Exporter.Flush] pushes at once, so tests need no clock: the tests of
// this package decode the DogStatsD datagrams a real statsd client sends to
// a UDP socket on the loopback interface, and test the interval loop with
// testing/synctest.
package datadog
