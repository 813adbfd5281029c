// Package ratelimit holds breakerbox's rate limiters: a token bucket with
// burst (TokenBucket), the generic cell rate algorithm (GCRA), a
// sliding-window counter (SlidingWindow), and a limiter per key in bounded
// memory (Keyed). It uses the standard library only.
//
// # Model
//
// A limiter admits Limit calls per Per (Config). Allow takes one call now
// if it fits; Wait blocks until a call fits or its context ends, returning
// ctx.Err() unchanged and taking nothing in that case. Every rejection has a
// retry-after: RetryAfter says how long until one call would fit. Limits
// change at run time with SetLimit, keeping the tokens or window counts
// already spent. Snapshot reads the counters (allowed, rejected) and the
// state for telemetry; Config returns the configuration.
//
// Counts and explicit times go through one call per operation, which takes
// both, as golang.org/x/time/rate's AllowN(t, n) does: AllowN(t, n) takes n
// calls at t at once or none, RetryAfterN(t, n) says how long after t they
// would fit, and WaitN(ctx, n) waits for n. AllowN and RetryAfterN read no
// clock and are exact, for tests and simulations; pass time.Now() for the
// present. SnapshotAt and SetLimitAt are Snapshot and SetLimit at a given
// time. Keyed's calls about one key take the key first: Allow(key),
// AllowN(key, t, n) and so on.
//
// Methods removed before the first tagged version, and their replacements:
//
//	AllowAt(t)          AllowN(t, 1)
//	AllowN(n)           AllowN(time.Now(), n)
//	AllowNAt(t, n)      AllowN(t, n)
//	RetryAfterAt(t)     RetryAfterN(t, 1)
//	RetryAfterN(n)      RetryAfterN(time.Now(), n)
//	RetryAfterNAt(t, n) RetryAfterN(t, n)
//
// and on Keyed the same with the key first (AllowAt(key, t) became
// AllowN(key, t, 1)). The old AllowN(n) and RetryAfterN(n) read the coarse
// clock; their replacements decide at the time given, exactly.
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
// rejection writes nothing but a counter in a stripe of its own (and, at
// most once per ClockResolution, the coarse clock; see below). Counting an
// admitted call costs an atomic add on the cache line the admission has just
// written. Keyed takes a shard mutex for its map and LRU list, then decides
// without it.
//
// # Clock precision
//
// Reading the clock costs more than the rest of Allow (about 30 ns for the
// monotonic clock alone on this project's machines, 60 ns for time.Now).
// Unless Config.Precise is set, Allow admits calls on a shared coarse clock
// instead: a goroutine stores the monotonic time every ClockResolution (1ms)
// and readers load it. The goroutine starts on first
// use and stops by itself after a second without readers; it never runs
// inside a testing/synctest bubble.
//
// Nothing depends on that goroutine being scheduled on time. When every core
// is busy the runtime may run it only every few tens of milliseconds, and
// the coarse clock then lags by that much. A coarse reading is only a lower
// bound of the time: enough to admit a call (the tokens it finds were there
// by then), not to refuse one. So before a coarse limiter refuses a call,
// and before it starts a full bucket or a new window after a gap, it reads
// the precise clock and decides again; a reading that finds the coarse
// clock a resolution or more behind also brings it up to date. It refuses a
// call only if the call does not fit at the precise time, and so admits its
// full rate however far the coarse clock lags (BenchmarkAllowSaturated measures it
// with every core busy calling Allow). A refusal costs a clock read; an
// admission, none. RetryAfter reads the precise clock when the coarse one
// says to wait, so retry-afters are exact; Snapshot, SetLimit, Prune and
// Wait read the precise clock; AllowN, RetryAfterN, SnapshotAt and
// SetLimitAt read none and are exact.
//
// What the coarse clock costs in precision: an admission is decided at the
// coarse time, as if the call had come when the clock last moved. A bucket
// left partly spent that rests while the clock lags can then hand out the
// tokens it held at that earlier time on top of the full bucket an exact
// limiter holds by now: a burst after a quiet time may exceed Burst by up to
// Burst calls, and by no more than the limit allows in the lag
// (Limit×lag/Per calls). Likewise a sliding window may count calls in a
// window that has already ended, and admit up to 3×Limit calls in a span of
// Per instead of 2×Limit. While the clock keeps up (a lag of at most one
// resolution) the excess is at most Limit×ClockResolution/Per calls: one
// call at 1000 per second. Set Config.Precise where that matters more than
// 30 ns per call.
//
// # Contention
//
// A limiter's state is one atomic word. A token bucket or GCRA admits a call
// with one atomic add on it (exact: a call that does not fit is refused on a
// load of the word, and the add is undone when another call took the token
// meanwhile, or when the bucket was idle and a compare-and-swap takes over),
// and counts it in a per-goroutine stripe. Buckets of at least 32768 tokens read
// through the coarse clock go further: Allow hands their tokens out in
// batches of 32 through per-goroutine stripes, so that cores admitting calls
// at full speed rarely touch the shared word. Tokens only ever come from the
// bucket, so such a limiter never admits more than the bucket allows over
// time; but up to 16×31 tokens (at most 1/64 of such a bucket) may sit in
// stripes, so a call can be refused while another goroutine's stripe still
// holds a token, and after a quiet time a burst can exceed Burst by that
// much. Snapshot.Available counts them. Smaller buckets, Precise limiters,
// AllowN and Wait never batch.
//
// Limiters built inside a testing/synctest bubble read the bubble's fake
// clock on every call, so that tests can time.Sleep through their limits.
// Times given to AllowN, RetryAfterN and the At methods should come from
// time.Now (or all be of the same kind): times with a monotonic reading are compared on the
// monotonic clock, others on the wall clock.
package ratelimit
