// Package core composes breakerbox's primitives into named guards.
//
// A [Guard] runs calls through, outermost first, a bulkhead (a limit on
// concurrent calls) and a circuit breaker, as configured by a [Policy]. A
// [Registry] owns the guards of a process: it creates each one on first use
// from the policy that matches its name, tags them into groups, lets
// operators steer them (force open, disable, reset, release), prunes idle
// ones and takes a [Snapshot] of all of them for exporters, the admin API
// and the dashboard.
//
// Two ways to run a call through a guard:
//
//   - [Do] (or [Guard.Do]) wraps a function: it admits the call, runs it,
//     reports the outcome, and turns a panic into a recorded failure before
//     re-panicking.
//   - [Guard.Allow] and [Permit.Done] split admission and report for
//     adapters (HTTP middleware, gRPC interceptors), without a closure.
//
// Every rejection is a [*RejectedError] that matches [ErrRejected] and the
// primitive's own sentinel (breaker.ErrOpen, bulkhead.ErrFull) with
// errors.Is, carries the guard's name, a retry-after hint and an ErrorType
// for telemetry, and is allocated once per guard, so that the rejection path
// allocates nothing.
package core
