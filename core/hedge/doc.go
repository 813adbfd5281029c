// Package hedge shortens tail latency by hedging: when an attempt of a call
// has not answered after a delay, another attempt starts, and the first
// successful answer wins while the others are cancelled ("The Tail at
// Scale", Dean and Barroso).
//
// # Model
//
// A [Hedger] is built once from a [Config] with [New] and is then safe for
// concurrent use. [Do] runs the first attempt on the caller's goroutine and
// arms the call in the Hedger's table of armed calls; the Hedger's watcher,
// one timer for all its calls, fires the first hedge of a call still
// running at the delay, and a timer of the call's own fires the next ones,
// up to MaxHedges. Each hedge starts on a goroutine of its own with a
// context of its own. The first
// attempt to return a nil error wins; every other attempt still running is
// cancelled through its context and counted ([Stats.Cancelled]). When all
// attempts fail, Do returns the last error. Hedges never outlive their
// attempt: a hedge's goroutine ends when its fn returns, and the watcher is
// a goroutine only while it fires hedges.
//
// # Cost
//
// A call that answers before the delay costs one allocation (about 100
// bytes: the call's state, with the first attempt's context), a clock read
// and two compare-and-swaps on a slot of the table: no timer, no lock, no
// goroutine. The first attempt's context makes its cancellation machinery
// (a context.WithCancel of the caller's context) only when fn calls its
// Done method, as an HTTP or gRPC client does, or when a hedge won. A call
// that finds its stripe of the table full (more than 15 calls of one
// stripe in flight) arms a timer of its own instead. [DoRunner] takes the
// attempt as a value, so that a caller passes the few variables an attempt
// needs without allocating a closure for them.
//
// The delay is fixed, or a live percentile of recent attempt latencies
// (Config.Percentile, such as 95) read from a bounded lock-free [Sketch] and
// floored at Config.Delay.
//
// # Limits on extra load
//
// A hedge starts only when Config.Gate allows it (a guard passes "its
// breaker is closed", so no hedges while it is open or half-open) and
// Config.Budget grants it (a guard passes its retry budget, so that hedges
// and retries together stay a configured share of calls). Refused hedges
// are counted ([Stats.GateStopped], [Stats.BudgetStopped]).
//
// Only idempotent calls may be hedged; the caller decides which (package
// core hedges only calls marked with core.Idempotent).
package hedge
