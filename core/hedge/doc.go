// Package hedge shortens tail latency by hedging: when an attempt of a call
// has not answered after a delay, another attempt starts, and the first
// successful answer wins while the others are cancelled ("The Tail at
// Scale", Dean and Barroso).
//
// # Model
//
// A [Hedger] is built once from a [Config] with [New] and is then safe for
// concurrent use. [Do] runs the first attempt on the caller's goroutine and
// arms a timer; each time the timer fires, up to MaxHedges times, a hedge
// starts on a goroutine of its own with a context of its own. The first
// attempt to return a nil error wins; every other attempt still running is
// cancelled through its context and counted ([Stats.Cancelled]). When all
// attempts fail, Do returns the last error. Hedges never outlive their
// attempt: a hedge's goroutine ends when its fn returns.
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
