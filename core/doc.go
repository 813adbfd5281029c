// Package core composes breakerbox's primitives into named guards.
//
// A [Guard] protects calls to one dependency. It always has a circuit
// breaker (which also keeps the guard's counters) and, as its [Policy]
// says, a rate limit, a bulkhead (a limit on concurrent calls with a
// bounded queue), retries with backoff and a budget, per-attempt and total
// timeouts and a fallback chain. A call made through [Do] passes, outermost
// first:
//
//	fallback → total timeout → retry → throttle → rate limit → bulkhead → breaker → attempt timeout → fn
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
// # Adaptive protection
//
// Three opt-in policy sections adapt to the dependency instead of fixed
// numbers, and cost nothing to a guard that leaves them out:
// bulkhead.adaptive ([AdaptivePolicy]) makes the bulkhead's limit follow
// the dependency's capacity (package adaptive: Gradient2, Vegas, AIMD);
// throttle ([ThrottlePolicy]) rejects calls locally, with
// throttle.ErrThrottled, as the dependency refuses more of them (package
// throttle, the SRE book's client-side throttling); breaker.learned
// ([LearnedPolicy]) trips the breaker when the failure rate or latency
// departs from what it learned is normal (breaker.LearnedConfig).
// [GuardSnapshot] reports the current limit (Adaptive) and the throttle
// (Throttle, Rejected.Throttled).
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
// # Hedging and cached fallbacks
//
// A policy's Hedge section ([HedgePolicy]) hedges calls made with
// [DoIdempotent]: after a fixed delay or a live latency percentile, another
// attempt starts, the first good answer wins and the others are cancelled;
// hedges spend the retry budget and stop while the breaker is not closed.
// [Do] never hedges. A Cache section ([CachePolicy]) answers a failed call
// with the last good value of its key ([CacheKey]) no older than its max
// staleness, before the named fallbacks; [DoResult] and [WithResult] tell
// such a stale answer apart. [GuardSnapshot] carries both primitives'
// counters.
//
// [WithProfilerLabels] runs guarded functions under runtime/pprof labels
// naming the guard, so CPU profiles can be sliced by guard; it is opt-in,
// as labels cost a few allocations per call.
//
// # Tenants and variants
//
// A policy [Document] may give tenants overlays of its policies and define
// variants of a policy for a segment of calls. The call's context carries
// its tenant ([WithTenant]; the adapters set it from a header, metadata or
// a key function) and its segment key and attributes ([WithSegment]), and
// [Registry.GuardFor] (or [Registry.ForCall] for a guard already in hand)
// picks the guard: the tenant's own guard ("payments.charge{tenant=acme}",
// see [TenantGuardName]), then the variant's guard when an enforced variant
// selects the call. At most tenants.maxGuards tenant guards (1000 by
// default) exist at once; past the bound a call uses the base guard and
// [Registry.TenantStats] counts the overflow. Idle tenant guards are pruned
// like any other guard, which frees their places. A shadow variant never
// changes the guard: a breaker built with the variant's policy is fed the
// outcomes of the segment's calls, and its would-be rejections and trips
// are counted, never enforced. [Registry.Variants] compares every variant
// with its control. Without tenants or variants, GuardFor is Guard plus one
// atomic load.
//
// # Dependencies between circuits
//
// A policy's DependsOn names guards its guards depend on: while one is
// open, the dependents are forced open with actor [DependencyActor] and the
// cause in the reason ("dependency postgres open"), and they close when it
// recovers (DependencyRecovery "follow") or probe by their own breaker
// ("own"). [Registry.Causes] returns the chain of causes and
// [Registry.Dependencies] the graph. Unknown names and cycles are refused at
// load. The registry follows dependencies with a state-change hook it
// installs only while some policy has DependsOn, so registries without
// dependencies pay nothing on the call path.
package core
