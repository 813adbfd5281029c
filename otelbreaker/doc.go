// Package otelbreaker makes a breakerbox registry observable through
// OpenTelemetry: metrics, breaker decisions on traces, and state-change
// events. It uses the OpenTelemetry API only; the application chooses the
// SDK and the exporters. From the package's example:
//
//	inst, err := otelbreaker.Instrument(reg, otelbreaker.WithMeterProvider(mp))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer inst.Shutdown(ctx)
//
// Providers are passed in with WithMeterProvider, WithTracerProvider and
// WithLoggerProvider (the globals when absent); every meter, tracer and
// logger is named ScopeName, with version Version.
//
// # Metrics
//
// The metrics are those of the table in package
// github.com/breakerbox/breakerbox/metrics, which exporters/prometheus and
// exporters/datadog render too: same concepts, units and values, with the
// OTel names and dotted attribute keys (Prometheus spells them
// breakerbox_circuit_breaker_calls_total with an outcome label; the
// metrics package's documentation maps every name). They are read from
// [core.Registry.Snapshot] by observable instruments, once per collection:
// enabling them costs nothing per call. Every series carries
// breakerbox.guard.name (the guard) and breakerbox.policy.name (the policy
// it was built from); both come from the registry, so their number is
// bounded by the number of guards (httpmw keys guards by route pattern,
// never by URL).
//
//	breakerbox.guard.rejections                        counter {call}          breakerbox.rejection.reason = circuit_open | circuit_half_open | bulkhead_full | rate_limited
//	breakerbox.circuit_breaker.calls                   counter {call}          breakerbox.outcome = success | failure | ignored | rejected
//	breakerbox.circuit_breaker.status                  gauge                   1 for the current breakerbox.circuit_breaker.state, 0 for the other five
//	breakerbox.circuit_breaker.transitions             counter                 state changes
//	breakerbox.circuit_breaker.state_change_timestamp  gauge (s)               Unix time the current state began
//	breakerbox.circuit_breaker.failure_rate            gauge (1)               failed share of the current window, 0 to 1
//	breakerbox.circuit_breaker.slow_call_rate          gauge (1)               slow share of the current window, 0 to 1
//	breakerbox.circuit_breaker.window_calls            gauge {call}            calls in the current window
//	breakerbox.circuit_breaker.consecutive_failures    gauge {call}            current run of failures
//	breakerbox.circuit_breaker.slow_calls              counter {call}          calls at or above the slow threshold
//	breakerbox.circuit_breaker.shadow_trips            counter                 trips a metrics-only breaker would have made
//	breakerbox.bulkhead.calls                          counter {call}          breakerbox.outcome = rejected | timed_out | canceled | waited
//	breakerbox.bulkhead.usage                          updowncounter {call}    breakerbox.bulkhead.state = in_use | queued
//	breakerbox.bulkhead.limit                          updowncounter {call}    breakerbox.bulkhead.state = in_use (max concurrent) | queued (max queue)
//	breakerbox.bulkhead.queue.wait_time                counter (s)             total time queued by calls that got a slot
//	breakerbox.bulkhead.adaptive.limit                 updowncounter {call}    an adaptive bulkhead's current limit
//	breakerbox.guard.overhead                          gauge (s)               breakerbox.outcome = gates | report: time the guard adds, sampled
//	breakerbox.maintenance.active                      gauge                   1 while a maintenance window holds the guard
//	breakerbox.dependency.open                         gauge                   1 while a dependency holds the guard open
//	breakerbox.cost.amount                             counter {currency}      breakerbox.outcome = spent | retries | avoided_breaker | avoided_rate_limit
//	breakerbox.machine.state                           gauge (1)               the custom state, as its index in the policy's machine states
//	breakerbox.machine.calls                           counter {call}          breakerbox.outcome = admitted | rejected
//	breakerbox.rate_limiter.calls                      counter {call}          breakerbox.outcome = permitted | rejected
//	breakerbox.rate_limiter.available                  gauge {call}            calls the limiter could admit at once now
//	breakerbox.rate_limiter.limit                      updowncounter {call}/s  the configured rate
//	breakerbox.retry.retries                           counter                 retry attempts (first attempts excluded)
//	breakerbox.retry.attempts                          counter                 all attempts through a retrying guard (admitted or rejected at its gates)
//	breakerbox.retry.calls                             counter {call}          breakerbox.outcome = budget_exhausted
//	breakerbox.fallback.calls                          counter {call}          breakerbox.outcome = served | failed
//	breakerbox.hedge.hedges                            counter {hedge}         breakerbox.outcome = won | lost | budget_exhausted | breaker_not_closed
//	breakerbox.hedge.cancelled                         counter {attempt}       attempts cancelled because another answered first
//	breakerbox.cache.calls                             counter {call}          breakerbox.outcome = hit | shared | filled
//	breakerbox.cache.stale                             counter {call}          breakerbox.outcome = served | missing
//	breakerbox.cache.evictions                         counter {entry}         entries evicted
//	breakerbox.cache.entries                           updowncounter {entry}   entries in the cache
//	breakerbox.cache.bytes                             updowncounter (By)      bytes the entries count
//	breakerbox.call.duration                           histogram (s)           opt-in, see below
//
// Integer metrics are int64 instruments; the rates, times and the rate
// limiter's figures are float64. Where Prometheus and Datadog have four
// bulkhead gauges (usage, queue length, limit, queue limit), OTel has two
// up-down counters split by breakerbox.bulkhead.state, whose states add up
// to the calls in the bulkhead and to its capacity.
//
// The breaker's "rejected" counts the calls the breaker itself refused
// (open, forced open, half-open with every probe slot taken); calls that a
// bulkhead or a rate limiter refused first are counted by their own metrics,
// and breakerbox.guard.rejections counts them all by reason.
// There is no breakerbox.rate_limiter.wait_time (the design's plan listed
// one): a guard's rate limit rejects rather than waits, so the wait is
// always zero; programs that call a limiter's Wait themselves can time it.
// Bulkhead, rate-limiter, retry and fallback series exist only for guards
// whose policy has that primitive. Counters are cumulative since each guard
// was created (a pruned and recreated guard starts again from zero, which
// OTel readers treat as a reset).
//
// WithDurationHistogram adds breakerbox.call.duration, recorded per
// admitted call through a completion hook, with breakerbox.outcome
// (success, failure, ignored) and, on the others, error.type (the error's
// ErrorType, "timeout", "canceled" or "_OTHER"; at most 16 types per guard).
// Its attribute sets are built once per guard, outcome and error type.
// Guards measure each call's latency only while such a hook is installed.
//
// # Traces
//
// No span is created by default. When a guard rejects a call, the span
// active in the call's context gets breakerbox.guard.name,
// breakerbox.policy.name, breakerbox.outcome=rejected, error.type (such as
// "circuit_open", "bulkhead_full", "rate_limited"),
// breakerbox.circuit_breaker.state and breakerbox.retry_after (seconds,
// when known). Its status is set to Error unless it is a server span: HTTP
// and RPC conventions leave a server span's status to the response, which
// the server instrumentation sets from the 503 or 429 the adapter answers
// (a 503 is an error, a 429 is not).
//
// When a breaker changes state, a log record with event name
// breakerbox.circuit_breaker.state_change is emitted through the Logs API
// (severity WARN for open and forced-open, INFO otherwise), in the context of
// the call that caused the change, so it carries that call's trace and span
// ids; the same event, with the same attributes (the new and previous
// states, the reason and, for manual changes, the actor), is added to that
// call's span. Changes made by timers or operators have no call, hence no
// span event. A change of a guard's custom state (core.MachinePolicy) is a
// log record of its own, event name breakerbox.machine.state_change
// (severity INFO), with breakerbox.machine.state and
// breakerbox.machine.previous_state, the reason and the actor.
//
// When a guard starts a hedge of a call (core.HedgePolicy, core.DoIdempotent,
// the httpmw Transport, grpcmw.WithHedging), a breakerbox.hedge event is
// added to the call's span, with the guard and policy names,
// breakerbox.hedge.number (1 for the first hedge) and breakerbox.hedge.delay
// (seconds).
//
// WithRetrySpans adds a span per retry made by core.Do, a child of the
// call's span, with breakerbox.retry.attempt (2 for the first retry), the
// backoff delay and the attempt's outcome. The guarded function's own spans
// stay children of the call's span: the core's retry hook cannot hand the
// attempt a new context.
//
// # With otelhttp and otelgrpc
//
// Order matters, so that breaker decisions land on the right spans.
//
// Server: put the breakerbox middleware inside the OTel one, so that the
// server span exists when the guard decides, and records the 503 or 429:
//
//	handler := otelhttp.NewHandler(httpmw.Middleware(reg)(mux), "server")
//
// (The other way round, a rejected request is answered before otelhttp
// runs, and leaves no span at all.) With gRPC, give the server the otelgrpc
// stats handler (grpc.StatsHandler(otelgrpc.NewServerHandler())) and the
// breakerbox interceptors: stats handlers run around interceptors, so the
// interceptors see the server span.
//
// Client: put the breakerbox transport outside the OTel one, so that a
// rejected request never reaches otelhttp and makes no HTTP client span
// (nothing was sent); the rejection is recorded on the caller's span:
//
//	transport := otelhttp.NewTransport(http.DefaultTransport)
//	client := &http.Client{Transport: httpmw.NewTransport(transport, httpmw.WithRegistry(reg))}
//
// With gRPC, the otelgrpc client stats handler sits below the client
// interceptors: a call that a breakerbox client interceptor rejects is never
// started, so it gets no client span either.
//
// # Profiling
//
// [SpanProfilerLabels] adds the active span's id to the runtime/pprof
// labels that core.WithProfilerLabels puts around guarded functions, for
// span-to-profile linking:
//
//	reg, err := core.NewRegistry(core.WithProfilerLabels(otelbreaker.SpanProfilerLabels))
//
// Profilers that upload Go's pprof profiles keep the labels, so samples can
// be filtered by breakerbox_guard: Pyroscope's Go SDK (whose span profiles
// read span_id) and the profiler package of Datadog's dd-trace-go.
//
// # Sending to an APM over OTLP
//
// The OTLP exporters of the Go SDK (otlptracehttp, otlpmetrichttp,
// otlploghttp and their gRPC twins) read the standard environment variables
// (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS and the like), so
// pointing the telemetry at a vendor needs no code. docs/apm.md in the
// repository gives the cost of each way to see the traces (a hosted APM, a
// local Jaeger, or no APM at all) and the settings for New Relic, Honeycomb,
// Grafana Cloud (Tempo), Datadog (through its Agent, or agentless) and
// Jaeger, each with its source; the test module otelbreaker/otlpcheck runs
// every block of settings on that page as written and checks on a local
// OTLP receiver that the documented path, headers and breakerbox attributes
// arrive. For example, Honeycomb:
//
//	OTEL_EXPORTER_OTLP_ENDPOINT=https://api.honeycomb.io
//	OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=<API key>
//	OTEL_SERVICE_NAME=checkout
//
// examples/apm in this repository sends a demo's traces wherever these
// variables point (a local Jaeger on http://localhost:4318 without them).
//
// # Links from the admin dashboard
//
// [TraceID] reads a call's trace id for admin.WithTraceLinks, with which the
// admin API's event stream and history carry the trace ids of the calls
// behind state changes and rejections, and the dashboard links them to the
// trace in the APM (URL templates for Jaeger, Grafana Tempo, Datadog and
// Honeycomb in docs/apm.md):
//
//	srv, err := admin.New(reg, admin.WithTraceLinks("http://localhost:16686/trace/{traceId}", otelbreaker.TraceID))
//
// # Cost
//
// Instrument installs rejection and state-change hooks, which run only on
// rejections and state changes and do work only when a span is recording or
// a logger is enabled. An admitted call pays nothing more than without
// instrumentation (one extra nil check of the completion hook, and
// no allocation; see BenchmarkAdmitted). The duration histogram makes each
// admitted call read the clock twice and record one measurement (README.md
// in this directory has the numbers measured on the project's machines).
//
// A collection costs the SDK a few allocations per series (about 3.5), so
// its cost grows with guards times series: 31 series for a guard with a
// bulkhead. A program that does not want some metrics drops them with a
// view, and a dropped instrument costs next to nothing
// (BenchmarkCollectWithViews drops the breaker's window gauges, slow-call
// and shadow-trip counters, state-change time and rejections by reason):
//
//	drop := sdkmetric.NewView(
//		sdkmetric.Instrument{Name: "breakerbox.circuit_breaker.window_calls"},
//		sdkmetric.Stream{Aggregation: sdkmetric.AggregationDrop{}})
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithView(drop))
package otelbreaker
