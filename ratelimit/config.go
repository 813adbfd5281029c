package ratelimit

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/breakerbox/breakerbox/internal/reject"
)

// ErrLimited is the rejection sentinel of this package. It matches
// core.ErrRejected with errors.Is and has the error type "rate_limited".
// Wait returns it (wrapped) for a request that can never be admitted.
var ErrLimited = reject.New("ratelimit: limited", "rate_limited")

// Limiter is what every limiter of this package implements (TokenBucket,
// GCRA, SlidingWindow), what New returns and what the guard composition
// uses. Allow, RetryAfter and Wait act now, on the limiter's clock (see
// Config.Precise); AllowN and RetryAfterN take the time and the count
// explicitly, read no clock and are exact.
type Limiter interface {
	// Allow reports whether one call may happen now, and takes it if so.
	Allow() bool
	// AllowN reports whether n calls may happen at t, and takes them all if
	// so (none if not).
	AllowN(t time.Time, n int) bool
	// RetryAfter returns how long until one call would be allowed, from
	// now; 0 if now.
	RetryAfter() time.Duration
	// RetryAfterN returns how long after t n calls would be allowed at
	// once; 0 if at t.
	RetryAfterN(t time.Time, n int) time.Duration
	// Wait blocks until one call is allowed and takes it, or until ctx ends,
	// in which case it returns ctx.Err() unchanged and takes nothing.
	Wait(ctx context.Context) error
	// WaitN is Wait for n calls at once.
	WaitN(ctx context.Context, n int) error
	// Snapshot returns the limiter's counters and state now.
	Snapshot() Snapshot
	// SnapshotAt returns the limiter's counters and state at t.
	SnapshotAt(t time.Time) Snapshot
	// Config returns the limiter's configuration, with defaults filled in.
	Config() Config
	// SetLimit changes the limit now, keeping what was already spent.
	SetLimit(cfg Config) error
	// SetLimitAt is SetLimit at t.
	SetLimitAt(t time.Time, cfg Config) error
}

// Algorithm names a rate-limiting algorithm. The zero value means the
// default, AlgorithmTokenBucket.
type Algorithm uint8

const (
	// AlgorithmDefault is the zero Algorithm: a token bucket in New, and
	// "keep the limiter's algorithm" in SetLimit.
	AlgorithmDefault Algorithm = iota
	// AlgorithmTokenBucket is a token bucket with burst; Wait reserves
	// tokens ahead (first come, first served). See TokenBucket.
	AlgorithmTokenBucket
	// AlgorithmGCRA is the generic cell rate algorithm; Wait never reserves.
	// See GCRA.
	AlgorithmGCRA
	// AlgorithmSlidingWindow is a sliding-window counter. See SlidingWindow.
	AlgorithmSlidingWindow
)

// String returns "token_bucket", "gcra" or "sliding_window" ("" for
// AlgorithmDefault).
func (a Algorithm) String() string {
	switch a {
	case AlgorithmDefault:
		return ""
	case AlgorithmTokenBucket:
		return "token_bucket"
	case AlgorithmGCRA:
		return "gcra"
	case AlgorithmSlidingWindow:
		return "sliding_window"
	}
	return fmt.Sprintf("Algorithm(%d)", uint8(a))
}

// ParseAlgorithm parses the names String returns; "" is AlgorithmDefault.
func ParseAlgorithm(s string) (Algorithm, error) {
	switch s {
	case "":
		return AlgorithmDefault, nil
	case "token_bucket":
		return AlgorithmTokenBucket, nil
	case "gcra":
		return AlgorithmGCRA, nil
	case "sliding_window":
		return AlgorithmSlidingWindow, nil
	}
	return 0, fmt.Errorf("ratelimit: algorithm: %q is not one of token_bucket, gcra, sliding_window", s)
}

// MarshalText implements encoding.TextMarshaler with the names of String.
func (a Algorithm) MarshalText() ([]byte, error) {
	if a > AlgorithmSlidingWindow {
		return nil, fmt.Errorf("ratelimit: algorithm: %d is not a known algorithm", uint8(a))
	}
	return []byte(a.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseAlgorithm.
func (a *Algorithm) UnmarshalText(b []byte) error {
	v, err := ParseAlgorithm(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Config describes a limiter as plain data: Limit calls per Per, with a burst.
//
// Defaults: Algorithm AlgorithmTokenBucket, Per one second, Burst
// max(1, ceil(Limit)) (one Per's worth of calls may come at once). The zero
// Config is invalid: Limit must be set.
//
// For the token bucket and GCRA the emission interval Per/Limit is kept in
// whole nanoseconds: rates of at most one call per nanosecond, rounded to the
// nearest nanosecond per call (an error of at most 0.05% up to 10^6 calls per
// second). For the sliding window, Limit is rounded down to whole calls (at
// least 1) and the window shrinks to match, so that the rate stays Limit/Per:
// Limit 2.5 per second counts 2 calls per 800ms window.
type Config struct {
	// Algorithm is the algorithm; the zero value is the token bucket.
	Algorithm Algorithm
	// Limit is the number of calls per Per; it must be > 0.
	Limit float64
	// Per is the period of Limit; 0 means one second.
	Per time.Duration
	// Burst is the bucket size (token bucket) or burst tolerance (GCRA): how
	// many calls may come at once after a quiet time. 0 means
	// max(1, ceil(Limit)). The sliding window ignores it.
	Burst int
	// Precise makes the limiter read the clock on every call (about 30 ns).
	// Otherwise it admits calls on the shared coarse clock (one atomic load,
	// see ClockResolution) and reads the clock only to refuse one. Refusals
	// and retry-afters are exact either way, as are the explicit-time
	// methods; the package documentation says what admissions on the coarse
	// clock cost in precision.
	Precise bool
}

// Validate reports the first invalid field of c, naming it as in JSON:
// "ratelimit: limit: -3 must be > 0".
func (c Config) Validate() error {
	_, err := c.rate()
	return err
}

// kind is the state machine behind an algorithm.
type kind uint8

const (
	meterKind  kind = iota // token bucket and GCRA: a theoretical arrival time
	windowKind             // sliding window: two counts and a window number
)

// rate is a Config compiled for the hot path. It is immutable and shared by
// every cell (and every key of a Keyed limiter) that uses it.
type rate struct {
	cfg     Config // normalized: defaults filled in
	kind    kind
	reserve bool // Wait reserves (token bucket) rather than polls
	precise bool
	clk     *coarseClock // the clock now reads; nil when precise

	// meterKind
	interval int64 // ns per call
	capacity int64 // burst * interval
	burst    int64

	// windowKind
	window int64  // ns
	limit  int64  // calls per window
	bits   uint   // bits per count in the packed state
	mask   uint64 // (1<<bits)-1
}

// maxWindowLimit is the largest sliding-window count: 2^20 calls per window,
// so that two counts and at least 22 bits of window number fit in 64 bits.
const maxWindowLimit = 1 << 20

func (c Config) rate() (*rate, error) {
	if c.Algorithm > AlgorithmSlidingWindow {
		return nil, fmt.Errorf("ratelimit: algorithm: %d is not a known algorithm", uint8(c.Algorithm))
	}
	if math.IsNaN(c.Limit) || c.Limit <= 0 {
		return nil, fmt.Errorf("ratelimit: limit: %v must be > 0", c.Limit)
	}
	if math.IsInf(c.Limit, 0) {
		return nil, fmt.Errorf("ratelimit: limit: %v must be finite", c.Limit)
	}
	if c.Per < 0 {
		return nil, fmt.Errorf("ratelimit: per: %v must be > 0", c.Per)
	}
	if c.Burst < 0 {
		return nil, fmt.Errorf("ratelimit: burst: %d must be >= 0", c.Burst)
	}
	if c.Algorithm == AlgorithmDefault {
		c.Algorithm = AlgorithmTokenBucket
	}
	if c.Per == 0 {
		c.Per = time.Second
	}
	r := &rate{}
	if !c.Precise {
		r.clk = coarseClockFor()
	}
	r.precise = r.clk == nil
	if c.Algorithm == AlgorithmSlidingWindow {
		limit := max(1, math.Floor(c.Limit))
		if limit > maxWindowLimit {
			return nil, fmt.Errorf("ratelimit: limit: %v must be at most %d per window for sliding_window", c.Limit, maxWindowLimit)
		}
		w := math.Round(float64(c.Per) * limit / c.Limit)
		if w < 1 || w > maxSpan {
			return nil, fmt.Errorf("ratelimit: limit: %v per %v makes a window of %v calls out of range [1ns, 36y]", c.Limit, c.Per, limit)
		}
		r.kind = windowKind
		r.window = int64(w)
		r.limit = int64(limit)
		r.bits = uint(bits.Len64(uint64(r.limit + 1)))
		r.mask = 1<<r.bits - 1
	} else {
		iv := float64(c.Per) / c.Limit
		if iv < 1 {
			return nil, fmt.Errorf("ratelimit: limit: %v per %v is more than one call per nanosecond", c.Limit, c.Per)
		}
		if iv > maxSpan {
			return nil, fmt.Errorf("ratelimit: limit: %v per %v is less than one call per 36 years", c.Limit, c.Per)
		}
		iv = math.Round(iv)
		if c.Burst == 0 {
			c.Burst = int(min(math.Max(1, math.Ceil(c.Limit)), maxSpan))
		}
		if float64(c.Burst)*iv > maxSpan {
			return nil, fmt.Errorf("ratelimit: burst: %d calls of %v each span more than 36 years", c.Burst, time.Duration(iv))
		}
		r.kind = meterKind
		r.reserve = c.Algorithm == AlgorithmTokenBucket
		r.interval = int64(iv)
		r.burst = int64(c.Burst)
		r.capacity = r.burst * r.interval
	}
	r.cfg = c
	return r, nil
}

// maxCalls is the most calls that can ever be admitted at once.
func (r *rate) maxCalls() int64 {
	if r.kind == meterKind {
		return r.burst
	}
	return r.limit
}

// now reads the limiter's clock: its coarse clock, or preciseNow if
// r.precise. The common case (the coarse clock, read since its last tick) is
// one load, inlined.
func (r *rate) now() int64 {
	if c := r.clk; c != nil {
		if w := c.word.Load(); w&1 != 0 {
			return w >> 1
		}
	}
	return r.slowNow()
}

func (r *rate) slowNow() int64 {
	if r.clk == nil {
		return preciseNow()
	}
	return r.clk.slow()
}

// fresh reads the precise clock, and brings the limiter's coarse clock up to
// it if that has fallen behind. Coarse-clock limiters read it before they
// refuse a call (see engine.allow).
func (r *rate) fresh() int64 {
	t := preciseNow()
	if r.clk != nil {
		r.clk.catchUp(t)
	}
	return t
}

// New builds the limiter that cfg describes: a *TokenBucket, *GCRA or
// *SlidingWindow.
func New(cfg Config) (Limiter, error) {
	switch cfg.Algorithm {
	case AlgorithmDefault, AlgorithmTokenBucket:
		return NewTokenBucket(cfg)
	case AlgorithmGCRA:
		return NewGCRA(cfg)
	case AlgorithmSlidingWindow:
		return NewSlidingWindow(cfg)
	}
	return nil, cfg.Validate()
}

// Snapshot is a limiter's state at one time, for telemetry.
type Snapshot struct {
	// Config is the limiter's configuration, with defaults filled in.
	Config Config
	// Allowed and Rejected count the calls since the limiter was built
	// (Wait counts one or the other; a Wait ended by its context is
	// rejected).
	Allowed, Rejected uint64
	// Available is how many calls could be admitted at once now: the tokens
	// in the bucket (token bucket, GCRA; negative while Wait reservations are
	// outstanding), or the headroom under the limit (sliding window).
	Available float64
	// RetryAfter is how long until one call would be admitted; 0 if now.
	RetryAfter time.Duration
}
