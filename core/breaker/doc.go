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
// traffic in steps.
//
// Operators can override the automatic states: forced-open (reject
// everything), disabled (admit everything, never trip) and metrics-only
// (record everything, never reject). Every state change carries a reason and,
// for manual changes, an actor.
//
// The closed path is built for speed: an admitted call with the default
// count window takes no lock, reads no clock and allocates nothing; an open
// breaker rejects without a clock read or allocation either. Every method
// that depends on time has an explicit-time variant (AllowAt, DoneAt) so the
// machine can be tested and simulated without a clock.
package breaker
