// Package fallback runs replacement logic when a guarded call fails: a
// [Chain] of [Step]s tried in order until one returns a result.
//
// A step can be limited to some kinds of error ([Rejected] by a breaker,
// bulkhead or rate limiter; [TimedOut]; or [Failed], anything else, see
// [KindOf]) and further filtered by a predicate, so that, for example, an
// open circuit is answered from a cache while a timeout gets a static
// default. When every eligible step fails, [Chain.Run] returns an error that
// joins the original error and each step's error ([*StepError]), so
// [errors.Is] still finds the original cause.
//
// Fallbacks are not generic: one chain serves calls of every result type,
// as one breaker does, and a fallback returns its result as any. [Typed]
// converts it back with a clear error on a type mismatch:
//
//	v, err := fallback.Typed[*Quote](chain.Run(ctx, err))
//
// A Chain is immutable once built and safe for concurrent use. Run adds no
// allocation of its own when the first eligible step succeeds; panics in
// steps are not recovered.
package fallback
