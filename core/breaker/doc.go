// Package breaker implements breakerbox's circuit-breaker state machine.
//
// A [Breaker] sits in front of a dependency and watches the outcomes of the
// calls made to it. While the dependency is healthy the breaker is closed and
// admits every call. When a configured rule sees too many failures (a failure
// rate, a slow-call rate or a run of consecutive failures) the breaker opens
// and rejects calls with [ErrOpen] for an open duration, so that the
// dependency is given room to recover and callers fail fast. After the open
// duration the breaker half-opens: a bounded number of probe calls are let
// through, and their outcomes decide whether it closes again or reopens for a
// longer time. A ramp can replace plain probing, admitting a growing share of
// traffic in steps. A grace period (GraceCalls, GraceDuration) can let more
// calls through after a trip before the rejections start.
//
// A caller asks [Breaker.Allow] for a [Permit] before the call and reports
// the call's outcome on the permit after it ([Permit.Done] with the call's
// error, or [Permit.Finish] with an [Outcome] that a [Classifier] judges).
//
// Operators can override the automatic states: forced-open (reject
// everything), disabled (admit everything, never trip) and metrics-only
// (record everything, never reject). Every state change carries a reason and,
// for manual changes, an actor.
//
// [Breaker.Reconfigure] replaces the configuration of a live breaker (as a
// reloaded policy does) keeping its state, timers, probes in flight and
// cumulative counters, and its window's contents when the window keeps its
// shape; a window of a new shape starts empty.
//
// Protection holds under stress:
//
//   - At most HalfOpenProbes probes run at once, counting probes still
//     running from an earlier half-open period: a probe keeps its slot
//     across a reopen (or a Reconfigure that lowers the limit) until it
//     reports or its ProbeTimeout passes.
//   - Every timeout takes effect on its own: a timer half-opens an open
//     breaker, and another frees a lost probe's slot (reopening the breaker
//     when the probe belongs to the current half-open period), with or
//     without traffic. The explicit-time methods check the same deadlines
//     on each call instead.
//   - When the rules are judged: a count window is judged on every failure
//     or slow call, and on the success that brings it to MinCalls; a time
//     window is judged on every outcome (without a lock for a success), so
//     a rate that rises because older successes left the window is acted on
//     at the next call that finishes. Every state change, Reset and manual
//     change starts an empty window.
//   - Durations are at most MaxDuration (about 146 years): Config.Validate
//     refuses longer ones with the field named, derived defaults saturate,
//     and OpenFor and OpenUntil clamp, so no deadline wraps into the past.
//
// The closed path is built for speed: an admitted call with the default
// count window takes no lock, reads no clock and allocates nothing; an open
// breaker rejects without a clock read or allocation either. Every method
// that depends on time has an explicit-time variant (AllowAt, DoneAt,
// FinishAt, ReportAt) so the machine can be tested and simulated without a
// clock.
package breaker
