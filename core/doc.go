// Package core composes breakerbox's primitives into named guards.
//
// A [Guard] protects calls to one dependency. It always has a circuit
// breaker (which also keeps the guard's counters) and, as its [Policy]
// says, a rate limit, a bulkhead (a limit on concurrent calls with a
// bounded queue), retries with backoff and a budget, per-attempt and total
// timeouts and a fallback chain. A call made through [Do] passes, outermost
// first:
//
//	fallback → total timeout → retry → rate limit → bulkhead → breaker → attempt timeout → fn
//
// A [Registry] owns the guards of a process: it creates each one on first
// use from the policy that matches its name, tags them into groups, lets
// operators steer them (force open, open for a while, disable,
// metrics-only, reset, release), prunes idle ones, composes [Hooks] and
// takes a [Registry.Snapshot] of all of them for exporters, the admin API
// and the dashboard, without holding up calls or the creation of guards.
//
// # Policies
//
// A [Policy] is plain data (JSON with durations as strings). A guard takes
// the policy [UsePolicy] names when it is created, else the policy named as
// the guard, else the first policy whose Match pattern matches its name,
// else the registry's default ([WithDefaultPolicy], or the built-in
// defaults). Patterns fit the names
// adapters build ("/pkg.Svc/Method" for gRPC, "GET /quote/{sku}" for HTTP
// routes, "payments.charge" for your own): "*" alone matches every name; in
// a longer pattern "*" stays within one "/"-separated segment and "**"
// crosses segments, so "GET /*" matches "GET /quote" and "GET /**" also
// matches "GET /quote/{sku}" (see Policy.Match and [MatchName]).
//
// In every policy field, zero means "not set": the value comes from the
// Extends parent (a policy, or a built-in preset named "preset:<name>", see
// [Preset]), else the default documented on the field. A policy is
// validated merged with its Extends chain. Every duration is at most
// [MaxDuration] (about 146 years). Invalid policies, JSON values that do
// not decode and keys no field has (keys are case-sensitive) are refused
// with the field's path, such as `breaker.openDuration: "3x" is not a
// duration`.
//
// # Policy documents and reloads
//
// A [Document] holds a service's whole set of policies. [ParseDocument]
// reads one from strict JSON (at most [MaxDocumentBytes]) and lists every
// problem as a [Problem] with its line, column, field path and value.
// [Registry.Apply] makes a document live as a whole or refuses it, the
// last good one staying live, and numbers it ([Registry.PolicyVersion]).
// Apply reconfigures the guards that exist without dropping or holding up
// a call: a guard whose resolved policy did not change is left untouched;
// a changed breaker keeps its state and cumulative counters, and its
// window's contents when the window keeps its shape; a bulkhead or rate
// limit that stays keeps the slots held and the tokens spent; the rest
// (retries, timeouts, fallbacks, tags, a bulkhead or rate limit added or
// removed) is swapped atomically, and a call admitted before the reload
// reports to what admitted it. [Registry.SetPolicies] adds policies for
// guards created later, without touching existing guards or the version.
//
// # Calls
//
// Two ways to run a call through a guard:
//
//   - [Do] (or [Guard.Do]) wraps a function: it admits the call, runs it,
//     reports the outcome, and turns a panic into a recorded failure before
//     re-panicking.
//   - [Guard.Allow] and [Permit.Done] split admission and report for
//     adapters (HTTP middleware, gRPC interceptors), without a closure;
//     a deferred [Permit.Settle] counts a call that panics or returns
//     without reporting, and does nothing after Done. Allow runs the three
//     gates only (rate limit, bulkhead, breaker): retries, timeouts and
//     fallbacks are Do's.
//
// Do, from the package's example:
//
//	charge := reg.MustGuard("payments.charge")
//
//	receipt, err := core.Do(context.Background(), charge, func(ctx context.Context) (string, error) {
//		return "receipt-42", nil // call the payment provider here
//	})
//
// Allow, Settle and Done, from Permit's example:
//
//	p, err := g.Allow(ctx)
//	if err != nil {
//		return err
//	}
//	defer p.Settle() // does nothing once Done has reported
//	err = call(ctx)
//	p.Done(err)
//	return err
//
// Every rejection is a [*RejectedError] that matches [ErrRejected] and the
// primitive's own sentinel (breaker.ErrOpen, bulkhead.ErrFull,
// ratelimit.ErrLimited) with errors.Is, carries the guard's name, a
// retry-after hint and an ErrorType for telemetry, and is allocated once
// per guard, so that the rejection path allocates nothing.
//
// [WithProfilerLabels] runs guarded functions under runtime/pprof labels
// naming the guard, so CPU profiles can be sliced by guard; it is opt-in,
// as labels cost a few allocations per call.
package core
