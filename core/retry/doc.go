// Package retry runs a function again when it fails: a bounded number of
// attempts, exponential backoff with jitter, respect for retry-after hints,
// and a retry budget that keeps retries a small share of calls so a failing
// dependency is not buried under a retry storm.
//
// # Model
//
// A [Retrier] is built once from a [Config] with [New] and is then immutable
// and safe for concurrent use. [Retrier.Do] calls a function up to
// MaxAttempts times. Between attempts it sleeps a delay from the backoff
// schedule, InitialDelay×Multiplier^(n-2) capped at MaxDelay and
// randomised by the [Jitter] (full jitter by default); [Retrier.Delay] is
// that schedule as a pure function. Defaults: 3 attempts, 100ms initial
// delay, 10s cap, multiplier 2, full jitter, [DefaultRetryOn].
//
// # What is retried
//
// [DefaultRetryOn] retries every error except rejections by the guard's own
// breaker, bulkhead or rate limiter (errors matching core.ErrRejected),
// the caller's cancellation ([context.Canceled]) and an inner retrier's
// [ErrBudgetExhausted]. Do also stops as soon as ctx is done, and gives up
// early (with the last error) when ctx's deadline or MaxTotal would pass
// during the next delay.
//
// # Retry-after hints
//
// When an attempt's error, or one it wraps, has a method
// RetryAfter() time.Duration returning a positive value (see [RetryAfter]),
// the next delay is at least that long, still capped at MaxDelay. If the
// hint exceeds what is left of MaxTotal, Do stops and returns the error.
// [ParseRetryAfter] reads an HTTP Retry-After value (seconds or a date)
// into such a hint, capped at [MaxRetryAfter]; it uses only the time
// package, so notifications and clients that are not HTTP adapters can
// read the header without importing one.
//
// # Budget
//
// A [Budget] shared between calls (and Retriers) to one dependency allows
// retries only while, over the last Window, retries stay below
// Ratio×calls plus a small floor. When it refuses, Do returns an error that
// wraps the last error and matches [ErrBudgetExhausted] (which does not
// match core.ErrRejected: the call was made and failed). A deposit per
// call is lock-free, allocation-free and reads the clock once per 32 calls.
//
// # Cost
//
// When the function succeeds on the first attempt, Do allocates nothing and
// reads no clock unless MaxTotal is set; a Budget adds one atomic add, and
// a clock read once per 32 calls. Timers, and every other clock read,
// happen only on the retry path.
package retry
