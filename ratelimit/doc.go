// Package ratelimit holds breakerbox's rate limiters: a token bucket with
// burst (TokenBucket), the generic cell rate algorithm (GCRA), a
// sliding-window counter (SlidingWindow), and a limiter per key in bounded
// memory (Keyed). It uses the standard library only.
//
// # Model
//
// A limiter admits Limit calls per Per (Config). Allow takes one call now
// if it fits; AllowN takes n at once or none; Wait blocks until a call fits
// or its context ends, returning ctx.Err() unchanged and taking nothing in
// that case. Every rejection has a retry-after: RetryAfter says how long until
// one call would fit. Each method has an explicit-time variant (AllowAt,
// AllowNAt, RetryAfterAt, SnapshotAt, SetLimitAt) that is exact and reads no
// clock, for tests and simulations. Limits change at run time with SetLimit,
// keeping the tokens or window counts already spent. Snapshot reads the
// counters (allowed, rejected) and the state for telemetry.
//
// Choosing an algorithm:
//
//   - TokenBucket (the default): bursts up to Burst, then the rate. Wait
//     reserves ahead, so waiters are served in order at exactly the rate.
//   - GCRA: the same decisions as the token bucket, kept as one theoretical
//     arrival time (the form a shared store holds, as the distributed
//     limiter will); Wait never reserves, so callers that only Allow are
//     never held behind waiters.
//   - SlidingWindow: "at most Limit calls in the last Per", estimated from
//     two fixed windows; no burst beyond Limit.
//
// TokenBucket, GCRA and SlidingWindow implement Limiter, which the guard
// composition uses; New builds one from a Config. ErrLimited is the package's
// rejection sentinel; it matches core.ErrRejected.
//
// # Concurrency and cost
//
// Each limiter's state is one atomic 64-bit word changed by compare-and-swap:
// Allow takes no lock, starts no goroutine and allocates nothing, and a
// rejection writes nothing but a counter in a stripe of its own. Counting an
// admitted call costs an atomic add on the cache line the admission has just
// written. Keyed takes a shard mutex for its map and LRU list, then decides
// without it.
//
// # Clock precision
//
// Reading the clock costs more than the rest of Allow (about 30 ns for the
// monotonic clock alone on this project's machines, 60 ns for time.Now).
// Unless Config.Precise is set, Allow, RetryAfter and Snapshot read a shared
// coarse clock instead: a goroutine stores the monotonic time every
// ClockResolution (1ms) and readers load it. The goroutine starts on first
// use and stops by itself after a second without readers; it never runs
// inside a testing/synctest bubble.
//
// What it costs in precision: a coarse-clock limiter decides as an exact
// limiter would one resolution earlier (more if the runtime cannot schedule
// the clock's goroutine, as when every P is busy). So a rejection's
// retry-after may be up to that much longer than the exact one, and over any
// span of time it admits at most Limit×ClockResolution/Per calls more or
// fewer than the exact limiter (one call at 1000 per second; one in a
// thousand of the rate). The explicit-time variants are exact, and Wait reads
// the precise clock, since it sleeps anyway. Set Config.Precise where that
// matters more than 30 ns per call.
//
// # Contention
//
// A limiter's state is one atomic word. A token bucket or GCRA admits a call
// with one atomic add on it (exact: the add is undone when the call does not
// fit, or when the bucket was idle and a compare-and-swap takes over), and
// counts it in a per-goroutine stripe. Buckets of at least 32768 tokens read
// through the coarse clock go further: Allow hands their tokens out in
// batches of 32 through per-goroutine stripes, so that cores admitting calls
// at full speed rarely touch the shared word. Tokens only ever come from the
// bucket, so such a limiter never admits more than the bucket allows over
// time; but up to 16×31 tokens (at most 1/64 of such a bucket) may sit in
// stripes, so a call can be refused while another goroutine's stripe still
// holds a token, and after a quiet time a burst can exceed Burst by that
// much. Snapshot.Available counts them. Smaller buckets, Precise limiters,
// AllowN, the explicit-time variants and Wait never batch.
//
// Limiters built inside a testing/synctest bubble read the bubble's fake
// clock on every call, so that tests can time.Sleep through their limits.
// Times given to the explicit-time variants should come from time.Now (or all
// be of the same kind): times with a monotonic reading are compared on the
// monotonic clock, others on the wall clock.
package ratelimit
