// Package metrics describes, once, every metric breakerbox exports about
// its guards: for each, a concept name, a unit, a kind, a description, the
// attribute that splits it and how to read its values from a
// [core.GuardSnapshot]. The exporters render this one [Table] in their own
// conventions: otelbreaker as OpenTelemetry instruments,
// exporters/prometheus as a Prometheus collector, exporters/datadog as
// DogStatsD metrics. A metric added here appears in all three; each has a
// test that it renders every entry and nothing else.
//
// The package holds data and reads snapshots: it registers nothing, runs
// nothing and adds nothing to the call path. Exporters read the registry's
// Snapshot at collection time and call each Metric's Read, which does not
// allocate.
//
// # Same concepts, three conventions
//
// Every back end gets the same concepts, in the same units, with the same
// attribute values; what differs is only how each spells them.
//
//   - OpenTelemetry (otelbreaker): an instrument named [Metric.Name], with
//     [Metric.Unit] and [Metric.Description]; dotted attribute keys
//     ([Attribute.Key]: breakerbox.outcome). Integer metrics are int64
//     instruments. The bulkhead's usage and limits are one up-down counter
//     each, split by breakerbox.bulkhead.state (in_use, queued), so that
//     summing the states gives the calls in the bulkhead and its capacity,
//     as OTel's conventions do for connection pools.
//   - Prometheus (exporters/prometheus): the name with its dots replaced by
//     underscores, then _seconds when the unit is s, then _total for a
//     counter (breakerbox_circuit_breaker_calls_total); short snake_case
//     labels ([Attribute.Label]: outcome); HELP is the description.
//     Gauges and up-down counters are gauges. The bulkhead's usage and
//     limits are four separate gauges, one per [Metric.Split] part
//     (breakerbox_bulkhead_usage, _queue_length, _limit, _queue_limit),
//     the names the collector has always had. The OpenTelemetry
//     Collector's own translation of the OTel names would differ in small
//     ways (dotted labels such as breakerbox_outcome, _ratio on the
//     unit-1 gauges, _per_second on the rate limit), so scraping the
//     collector and exporting OTel through a Collector give slightly
//     different names.
//   - Datadog (exporters/datadog): the dotted name as it is, with
//     label:value tags (outcome:success), and the same four bulkhead
//     gauges as Prometheus, dotted. Counters are sent as counts of their
//     increase since the previous push; gauges and up-down counters as
//     gauges. One exception: DogStatsD counts are integers, so
//     breakerbox.bulkhead.queue.wait_time is sent as a gauge, the mean wait
//     in seconds of the calls that waited since the previous push (not
//     sent when none did).
//
// Every series also carries the guard's name and its policy's name
// ([GuardName], [PolicyName]: breakerbox.guard.name and
// breakerbox.policy.name in OTel, guard and policy in Prometheus and
// Datadog). Both come from the registry, so their number is bounded by the
// number of guards.
//
// A guard has series only for the primitives it has ([Metric.Requires]):
// bulkhead, rate-limit, hedge, cache, cost and machine metrics for guards with a
// bulkhead, a rate limit, hedging, a cache, a cost or custom states (from the snapshot), retry and fallback metrics for guards whose
// policy has retries or fallbacks ([PrimitivesOf]). Counters are
// cumulative since the guard was created.
//
// # The table
//
// Names, by concept (a split metric has one row per part):
//
//	concept (OTel name)                                Prometheus                                                 Datadog
//	breakerbox.guard.rejections                        breakerbox_guard_rejections_total                          breakerbox.guard.rejections
//	breakerbox.circuit_breaker.calls                   breakerbox_circuit_breaker_calls_total                     breakerbox.circuit_breaker.calls
//	breakerbox.circuit_breaker.status                  breakerbox_circuit_breaker_status                          breakerbox.circuit_breaker.status
//	breakerbox.circuit_breaker.transitions             breakerbox_circuit_breaker_transitions_total               breakerbox.circuit_breaker.transitions
//	breakerbox.circuit_breaker.state_change_timestamp  breakerbox_circuit_breaker_state_change_timestamp_seconds  breakerbox.circuit_breaker.state_change_timestamp
//	breakerbox.circuit_breaker.failure_rate            breakerbox_circuit_breaker_failure_rate                    breakerbox.circuit_breaker.failure_rate
//	breakerbox.circuit_breaker.slow_call_rate          breakerbox_circuit_breaker_slow_call_rate                  breakerbox.circuit_breaker.slow_call_rate
//	breakerbox.circuit_breaker.window_calls            breakerbox_circuit_breaker_window_calls                    breakerbox.circuit_breaker.window_calls
//	breakerbox.circuit_breaker.consecutive_failures    breakerbox_circuit_breaker_consecutive_failures            breakerbox.circuit_breaker.consecutive_failures
//	breakerbox.circuit_breaker.slow_calls              breakerbox_circuit_breaker_slow_calls_total                breakerbox.circuit_breaker.slow_calls
//	breakerbox.circuit_breaker.shadow_trips            breakerbox_circuit_breaker_shadow_trips_total              breakerbox.circuit_breaker.shadow_trips
//	breakerbox.bulkhead.calls                          breakerbox_bulkhead_calls_total                            breakerbox.bulkhead.calls
//	breakerbox.bulkhead.usage{in_use}                  breakerbox_bulkhead_usage                                  breakerbox.bulkhead.usage
//	breakerbox.bulkhead.usage{queued}                  breakerbox_bulkhead_queue_length                           breakerbox.bulkhead.queue.length
//	breakerbox.bulkhead.limit{in_use}                  breakerbox_bulkhead_limit                                  breakerbox.bulkhead.limit
//	breakerbox.bulkhead.limit{queued}                  breakerbox_bulkhead_queue_limit                            breakerbox.bulkhead.queue.limit
//	breakerbox.bulkhead.queue.wait_time                breakerbox_bulkhead_queue_wait_time_seconds_total          breakerbox.bulkhead.queue.wait_time
//	breakerbox.rate_limiter.calls                      breakerbox_rate_limiter_calls_total                        breakerbox.rate_limiter.calls
//	breakerbox.rate_limiter.available                  breakerbox_rate_limiter_available                          breakerbox.rate_limiter.available
//	breakerbox.rate_limiter.limit                      breakerbox_rate_limiter_limit                              breakerbox.rate_limiter.limit
//	breakerbox.retry.retries                           breakerbox_retry_retries_total                             breakerbox.retry.retries
//	breakerbox.retry.attempts                          breakerbox_retry_attempts_total                            breakerbox.retry.attempts
//	breakerbox.retry.calls                             breakerbox_retry_calls_total                               breakerbox.retry.calls
//	breakerbox.fallback.calls                          breakerbox_fallback_calls_total                            breakerbox.fallback.calls
//	breakerbox.hedge.hedges                            breakerbox_hedge_hedges_total                              breakerbox.hedge.hedges
//	breakerbox.hedge.cancelled                         breakerbox_hedge_cancelled_total                           breakerbox.hedge.cancelled
//	breakerbox.cache.calls                             breakerbox_cache_calls_total                               breakerbox.cache.calls
//	breakerbox.cache.stale                             breakerbox_cache_stale_total                               breakerbox.cache.stale
//	breakerbox.cache.evictions                         breakerbox_cache_evictions_total                           breakerbox.cache.evictions
//	breakerbox.cache.entries                           breakerbox_cache_entries                                   breakerbox.cache.entries
//	breakerbox.cache.bytes                             breakerbox_cache_bytes                                     breakerbox.cache.bytes
//	breakerbox.bulkhead.adaptive.limit                 breakerbox_bulkhead_adaptive_limit                         breakerbox.bulkhead.adaptive.limit
//	breakerbox.guard.overhead                          breakerbox_guard_overhead_seconds                          breakerbox.guard.overhead
//	breakerbox.maintenance.active                      breakerbox_maintenance_active                              breakerbox.maintenance.active
//	breakerbox.dependency.open                         breakerbox_dependency_open                                 breakerbox.dependency.open
//	breakerbox.cost.amount                             breakerbox_cost_amount_total                               breakerbox.cost.amount
//	breakerbox.machine.state                           breakerbox_machine_state                                   breakerbox.machine.state
//	breakerbox.machine.calls                           breakerbox_machine_calls_total                             breakerbox.machine.calls
//
// Kinds, units, the primitive a guard needs, and the attribute (label or
// key) with its values:
//
//	concept                                            kind           unit          requires   attribute: values
//	breakerbox.guard.rejections                        counter        {call}        -          reason: circuit_open | circuit_half_open | bulkhead_full | rate_limited
//	breakerbox.circuit_breaker.calls                   counter        {call}        -          outcome: success | failure | ignored | rejected
//	breakerbox.circuit_breaker.status                  gauge          1             -          state: closed | open | half-open | forced-open | disabled | metrics-only
//	breakerbox.circuit_breaker.transitions             counter        {transition}  -          -
//	breakerbox.circuit_breaker.state_change_timestamp  gauge          s             -          -
//	breakerbox.circuit_breaker.failure_rate            gauge          1             -          -
//	breakerbox.circuit_breaker.slow_call_rate          gauge          1             -          -
//	breakerbox.circuit_breaker.window_calls            gauge          {call}        -          -
//	breakerbox.circuit_breaker.consecutive_failures    gauge          {call}        -          -
//	breakerbox.circuit_breaker.slow_calls              counter        {call}        -          -
//	breakerbox.circuit_breaker.shadow_trips            counter        {trip}        -          -
//	breakerbox.bulkhead.calls                          counter        {call}        bulkhead   outcome: rejected | timed_out | canceled | waited
//	breakerbox.bulkhead.usage                          updowncounter  {call}        bulkhead   breakerbox.bulkhead.state: in_use | queued
//	breakerbox.bulkhead.limit                          updowncounter  {call}        bulkhead   breakerbox.bulkhead.state: in_use | queued
//	breakerbox.bulkhead.queue.wait_time                counter        s             bulkhead   -
//	breakerbox.rate_limiter.calls                      counter        {call}        ratelimit  outcome: permitted | rejected
//	breakerbox.rate_limiter.available                  gauge          {call}        ratelimit  -
//	breakerbox.rate_limiter.limit                      updowncounter  {call}/s      ratelimit  -
//	breakerbox.retry.retries                           counter        {retry}       retry      -
//	breakerbox.retry.attempts                          counter        {attempt}     retry      -
//	breakerbox.retry.calls                             counter        {call}        retry      outcome: budget_exhausted
//	breakerbox.fallback.calls                          counter        {call}        fallback   outcome: served | failed
//	breakerbox.hedge.hedges                            counter        {hedge}       hedge      outcome: won | lost | budget_exhausted | breaker_not_closed
//	breakerbox.hedge.cancelled                         counter        {attempt}     hedge      -
//	breakerbox.cache.calls                             counter        {call}        cache      outcome: hit | shared | filled
//	breakerbox.cache.stale                             counter        {call}        cache      outcome: served | missing
//	breakerbox.cache.evictions                         counter        {entry}       cache      -
//	breakerbox.cache.entries                           updowncounter  {entry}       cache      -
//	breakerbox.cache.bytes                             updowncounter  By            cache      -
//	breakerbox.bulkhead.adaptive.limit                 updowncounter  {call}        adaptive   -
//	breakerbox.guard.overhead                          gauge          s             -          outcome: gates | report
//	breakerbox.maintenance.active                      gauge          1             -          -
//	breakerbox.dependency.open                         gauge          1             -          -
//	breakerbox.cost.amount                             counter        {currency}    cost       outcome: spent | retries | avoided_breaker | avoided_rate_limit
//	breakerbox.machine.state                           gauge          1             machine    -
//	breakerbox.machine.calls                           counter        {call}        machine    outcome: admitted | rejected
//
// Ratios (unit 1) are from 0 to 1, never percentages, even though
// breaker.Snapshot holds percentages. Rejections are counted twice by
// design: per primitive (outcome rejected on the breaker's, the bulkhead's
// and the rate limiter's calls) and per guard by reason
// (breakerbox.guard.rejections, the one to graph a rejection rate with).
// circuit_half_open apart, the reasons are the error.type values that
// rejections carry on traces.
//
// # Outside the table
//
// [CallDuration] describes breakerbox.call.duration, the opt-in per-call
// histogram (seconds, by outcome): an OTel histogram in otelbreaker, a
// DogStatsD distribution in exporters/datadog, absent from Prometheus,
// whose collector reads snapshots only. Each exporter also has series of
// its own, documented with it: breakerbox_guard_info in Prometheus (the
// guard's tags, to join on), breakerbox.datadog.events_dropped plus the
// service checks and events in Datadog.
//
// [MaintenanceWindows] describes breakerbox.maintenance.windows, the count
// of a registry's maintenance windows by state (active, upcoming): a gauge
// of the registry as a whole, without guard or policy attributes, read from
// a [WindowCounter] (package maintenance's Scheduler) by the exporters
// given one with their WithWindows options (breakerbox_maintenance_windows
// in Prometheus).
//
// # Fleet mode
//
// [Fleet] describes, apart from the table, the metrics of a replica's fleet
// mode (package fleet), read from the agent's fleet.Snapshot rather than
// from a guard's: breakerbox.fleet.store.up (gauge, 0 while the store is
// unreachable), breakerbox.fleet.store.errors, .store.timeouts and
// .store.skipped (counters of store calls), breakerbox.fleet.publications.dropped,
// breakerbox.fleet.values.malformed and
// breakerbox.fleet.rate_limiter.allowed_by_failure_mode (counters),
// breakerbox.fleet.members (gauge), and per guard
// breakerbox.fleet.guard.open_votes and breakerbox.fleet.guard.adopted
// (gauges). exporters/prometheus renders them with a FleetCollector,
// otelbreaker with InstrumentFleet, exporters/datadog with WithFleet. The
// admin API serves the same values in GET /v1/fleet.
//
// # Multi-region mode
//
// [Regions] describes the metrics of a replica's region agent (package
// fleet/region), read from its Report and Health ([RegionsSource]):
// breakerbox.region.store.up (gauge), .store.errors and .store.skipped,
// .summaries.malformed, .global.opens, .relay.copies and .relay.failures
// (counters), .global.held and .relay.links_down (gauges), and per region
// (attribute [RegionName]) .summary.age and .summary.members (gauges).
// exporters/prometheus renders them with a RegionsCollector, otelbreaker
// with InstrumentRegions, exporters/datadog with WithRegions. The admin API serves the same values in GET
// /v1/regions and /health.
package metrics
