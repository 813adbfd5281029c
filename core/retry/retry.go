package retry

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/breakerbox/breakerbox/internal/reject"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	DefaultMaxAttempts  = 3
	DefaultInitialDelay = 100 * time.Millisecond
	DefaultMaxDelay     = 10 * time.Second
	DefaultMultiplier   = 2.0
)

// Jitter selects how the backoff schedule is randomised. The zero value is
// [FullJitter], the default.
type Jitter int

const (
	// FullJitter draws each delay uniformly from [0, d], where d is the
	// exponential delay InitialDelay×Multiplier^(n-2) capped at MaxDelay.
	// It spreads retries of many clients best. The default.
	FullJitter Jitter = iota
	// NoJitter sleeps exactly the exponential delay d.
	NoJitter
	// DecorrelatedJitter draws each delay uniformly from
	// [InitialDelay, min(MaxDelay, 3×previous delay)], so delays grow
	// roughly like the exponential schedule but each one depends on the
	// last. Multiplier does not apply to it.
	DecorrelatedJitter
)

// String returns "full", "none" or "decorrelated", the names [ParseJitter]
// accepts, or "Jitter(n)" for an unknown value.
func (j Jitter) String() string {
	switch j {
	case FullJitter:
		return "full"
	case NoJitter:
		return "none"
	case DecorrelatedJitter:
		return "decorrelated"
	}
	return "Jitter(" + strconv.Itoa(int(j)) + ")"
}

// ParseJitter parses "none", "full" or "decorrelated". The empty string is
// the default, [FullJitter].
func ParseJitter(s string) (Jitter, error) {
	switch s {
	case "full", "":
		return FullJitter, nil
	case "none":
		return NoJitter, nil
	case "decorrelated":
		return DecorrelatedJitter, nil
	}
	return 0, fmt.Errorf("retry: jitter: %q must be none, full or decorrelated", s)
}

// MarshalText implements [encoding.TextMarshaler] with [Jitter.String].
func (j Jitter) MarshalText() ([]byte, error) {
	if j < FullJitter || j > DecorrelatedJitter {
		return nil, fmt.Errorf("retry: jitter: %v must be none, full or decorrelated", j)
	}
	return []byte(j.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler] with [ParseJitter].
func (j *Jitter) UnmarshalText(text []byte) error {
	v, err := ParseJitter(string(text))
	if err != nil {
		return err
	}
	*j = v
	return nil
}

// Config configures a [Retrier]. Zero fields take the defaults named on each
// field; [New] validates the rest with [Config.Validate].
type Config struct {
	// MaxAttempts is the total number of attempts, the first included.
	// 0 means DefaultMaxAttempts (3); 1 means no retries.
	MaxAttempts int
	// InitialDelay is the delay before the first retry, before jitter.
	// 0 means DefaultInitialDelay (100ms).
	InitialDelay time.Duration
	// MaxDelay caps one delay, retry-after hints included.
	// 0 means DefaultMaxDelay (10s). It must be at least InitialDelay.
	MaxDelay time.Duration
	// MaxTotal caps the time one Do call spends, attempts and delays
	// together: Do does not start a delay that would end at or after it and
	// returns the last error instead. It never cuts an attempt short (use
	// a timeout for that). 0 means no cap; a cap costs one clock read per
	// call.
	MaxTotal time.Duration
	// Multiplier is the growth factor of the exponential schedule: the
	// delay before attempt n is InitialDelay×Multiplier^(n-2) before
	// jitter. 0 means DefaultMultiplier (2); 1 gives constant delays.
	Multiplier float64
	// Jitter randomises the schedule. The zero value is FullJitter.
	Jitter Jitter
	// RetryOn reports whether an attempt's error may be retried.
	// nil means DefaultRetryOn.
	RetryOn func(err error) bool
	// Budget, if set, limits retries to a share of calls; share one Budget
	// between the Retriers (or guards) that call the same dependency.
	Budget *Budget
	// OnRetry, if set, is called before each delay with the attempt about
	// to run. It runs on the calling goroutine; a panic in it is not
	// recovered.
	OnRetry func(ctx context.Context, a Attempt)
	// Rand, if set, replaces the jitter's random source. It must return
	// values in [0, 1) and be safe for concurrent use. nil means
	// math/rand/v2's Float64. Tests use it for a seeded or fixed source.
	Rand func() float64
}

// Attempt describes a retry about to happen, for [Config.OnRetry].
type Attempt struct {
	// Number is the attempt about to run: 2 for the first retry.
	Number int
	// Delay is the time Do sleeps before it, retry-after hint included.
	Delay time.Duration
	// Err is the previous attempt's error.
	Err error
}

// Validate reports every invalid field of c, each naming the field as its
// JSON name would, joined with [errors.Join]. Zero fields are valid: they
// mean the defaults.
func (c Config) Validate() error {
	var errs []error
	if c.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("retry: maxAttempts: %d must be at least 1", c.MaxAttempts))
	}
	if c.InitialDelay < 0 {
		errs = append(errs, fmt.Errorf("retry: initialDelay: %v must not be negative", c.InitialDelay))
	}
	if c.MaxDelay < 0 {
		errs = append(errs, fmt.Errorf("retry: maxDelay: %v must not be negative", c.MaxDelay))
	}
	if c.MaxTotal < 0 {
		errs = append(errs, fmt.Errorf("retry: maxTotal: %v must not be negative", c.MaxTotal))
	}
	if math.IsNaN(c.Multiplier) || math.IsInf(c.Multiplier, 0) || (c.Multiplier != 0 && c.Multiplier < 1) {
		errs = append(errs, fmt.Errorf("retry: multiplier: %v must be at least 1", c.Multiplier))
	}
	if c.Jitter < FullJitter || c.Jitter > DecorrelatedJitter {
		errs = append(errs, fmt.Errorf("retry: jitter: %v must be none, full or decorrelated", c.Jitter))
	}
	if c.InitialDelay >= 0 && c.MaxDelay >= 0 {
		d := c.withDefaults()
		if d.MaxDelay < d.InitialDelay {
			errs = append(errs, fmt.Errorf("retry: maxDelay: %v must be at least initialDelay (%v)", d.MaxDelay, d.InitialDelay))
		}
	}
	return errors.Join(errs...)
}

func (c Config) withDefaults() Config {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.InitialDelay == 0 {
		c.InitialDelay = DefaultInitialDelay
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = DefaultMaxDelay
	}
	if c.Multiplier == 0 {
		c.Multiplier = DefaultMultiplier
	}
	if c.RetryOn == nil {
		c.RetryOn = DefaultRetryOn
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	return c
}

// Retrier runs a function again when it fails, waiting a backoff delay
// between attempts. Build it with [New]; it is then immutable and safe for
// concurrent use. A nil or zero Retrier runs the function once.
type Retrier struct {
	cfg Config // defaults applied
}

// New returns a Retrier for cfg with defaults applied, or the error of
// [Config.Validate].
func New(cfg Config) (*Retrier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Retrier{cfg: cfg.withDefaults()}, nil
}

// Config returns the Retrier's configuration with defaults applied.
func (r *Retrier) Config() Config { return r.cfg }

// Do calls fn, and calls it again while it fails, until it succeeds, the
// error is not retryable, or a limit is reached. It returns nil on success
// and otherwise the last attempt's error unchanged, except that:
//
//   - when ctx is done during a delay, Do returns ctx.Err() unchanged;
//   - when ctx's deadline would pass before the delay ends, or the delay
//     (or the retry-after hint) does not fit in what is left of MaxTotal,
//     Do gives up at once with the last error;
//   - when the Budget refuses a retry, Do returns an error that wraps the
//     last error and matches [ErrBudgetExhausted].
//
// Before each retry Do asks RetryOn, computes the delay with [Retrier.Delay]
// and raises it to the error's retry-after hint (see [RetryAfter]), capped at
// MaxDelay; then it withdraws from the Budget and calls OnRetry. Every call
// deposits into the Budget.
//
// When fn succeeds on the first attempt, Do allocates nothing and reads no
// clock, except once for MaxTotal if set and once per 32 calls for a
// Budget. fn does not escape (Do only calls it), so a closure passed to Do
// can stay on the caller's stack.
func (r *Retrier) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	if r == nil {
		return fn(ctx)
	}
	if r.cfg.Budget != nil {
		r.cfg.Budget.Deposit()
	}
	var start time.Time
	if r.cfg.MaxTotal > 0 {
		start = time.Now()
	}
	err := fn(ctx)
	if err == nil || r.cfg.MaxAttempts <= 1 {
		return err
	}
	return r.retry(ctx, fn, err, start)
}

// retry runs attempts 2.. after the first one failed with err.
func (r *Retrier) retry(ctx context.Context, fn func(ctx context.Context) error, err error, start time.Time) error {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var prev time.Duration
	for n := 2; n <= r.cfg.MaxAttempts; n++ {
		if !r.cfg.RetryOn(err) {
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		var u float64
		if r.cfg.Jitter != NoJitter {
			u = r.cfg.Rand()
		}
		d := r.Delay(n, prev, u)
		prev = d
		hint, hinted := RetryAfter(err)
		if hinted && hint > d {
			d = min(hint, r.cfg.MaxDelay)
		}
		if dl, hasDeadline := ctx.Deadline(); r.cfg.MaxTotal > 0 || hasDeadline {
			now := time.Now()
			if r.cfg.MaxTotal > 0 {
				left := r.cfg.MaxTotal - now.Sub(start)
				if d >= left || (hinted && hint > left) {
					return err
				}
			}
			if hasDeadline && dl.Sub(now) <= d {
				return err
			}
		}
		if b := r.cfg.Budget; b != nil && !b.Withdraw() {
			return &exhaustedError{err: err}
		}
		if r.cfg.OnRetry != nil {
			r.cfg.OnRetry(ctx, Attempt{Number: n, Delay: d, Err: err})
		}
		if d > 0 {
			if timer == nil {
				timer = time.NewTimer(d)
			} else {
				timer.Reset(d)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-timer.C:
			}
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err = fn(ctx); err == nil {
			return nil
		}
	}
	return err
}

// Delay returns the backoff delay before attempt n (2 for the first retry),
// before any retry-after hint: a pure function of its arguments and the
// configuration, for tests and simulations. prev is the delay this function
// returned for the previous retry (0 before the first), which only
// [DecorrelatedJitter] uses; u is a random draw in [0, 1) (clamped into
// [0, 1]), which [NoJitter] ignores.
//
//   - NoJitter: d = min(MaxDelay, InitialDelay×Multiplier^(n-2)).
//   - FullJitter: u×d, in [0, d].
//   - DecorrelatedJitter: InitialDelay + u×(hi-InitialDelay), in
//     [InitialDelay, hi] with hi = min(MaxDelay, 3×max(prev, InitialDelay)).
//
// Delay returns 0 for n < 2.
func (r *Retrier) Delay(n int, prev time.Duration, u float64) time.Duration {
	if n < 2 {
		return 0
	}
	if !(u >= 0) { // also NaN
		u = 0
	} else if u > 1 {
		u = 1
	}
	c := &r.cfg
	if c.Jitter == DecorrelatedJitter {
		lo := c.InitialDelay
		prev = max(prev, lo)
		hi := c.MaxDelay
		if prev <= c.MaxDelay/3 {
			hi = 3 * prev
		}
		return lo + time.Duration(u*float64(hi-lo))
	}
	d := c.MaxDelay
	if f := float64(c.InitialDelay) * math.Pow(c.Multiplier, float64(n-2)); f < float64(c.MaxDelay) {
		d = time.Duration(f)
	}
	if c.Jitter == FullJitter {
		return time.Duration(u * float64(d))
	}
	return d
}

// DefaultRetryOn is the default [Config.RetryOn]. It retries every error
// except:
//
//   - nil (a success);
//   - an error matching reject.ErrRejected (core.ErrRejected): a rejection
//     by the guard's own breaker, bulkhead or rate limiter, which a retry
//     microseconds later would only meet again and which must not feed
//     load back into an open circuit;
//   - an error matching [context.Canceled]: the caller gave up;
//   - an error matching [ErrBudgetExhausted]: an inner retrier's budget
//     already refused retries, and retrying around it would multiply load
//     the budget exists to cap.
//
// [context.DeadlineExceeded] is retried: it is usually a per-attempt
// timeout; when the caller's own deadline has passed, Do stops on ctx
// anyway.
func DefaultRetryOn(err error) bool {
	return err != nil &&
		!errors.Is(err, reject.ErrRejected) &&
		!errors.Is(err, context.Canceled) &&
		!errors.Is(err, ErrBudgetExhausted)
}

// RetryAfter returns the first positive hint found on err or the errors it
// wraps (through Unwrap() error and Unwrap() []error, depth first) that
// implement
//
//	interface{ RetryAfter() time.Duration }
//
// such as a rate limiter's rejection or an HTTP 429/503 with Retry-After.
// It allocates nothing.
func RetryAfter(err error) (time.Duration, bool) {
	for err != nil {
		if h, ok := err.(interface{ RetryAfter() time.Duration }); ok {
			if d := h.RetryAfter(); d > 0 {
				return d, true
			}
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if d, ok := RetryAfter(e); ok {
					return d, true
				}
			}
			return 0, false
		default:
			return 0, false
		}
	}
	return 0, false
}

// ErrBudgetExhausted is matched (with [errors.Is]) by the error [Retrier.Do]
// returns when its [Budget] refuses a retry; that error also wraps the last
// attempt's error. Its ErrorType is "retry_budget_exhausted".
//
// It does not match reject.ErrRejected (core.ErrRejected): the call did
// reach the dependency and failed; the budget only refused more attempts.
// Counting it as a rejection would hide real failures from fallbacks (which
// see it as a failure, not a rejection) and from error metrics.
// [DefaultRetryOn] still never retries it.
var ErrBudgetExhausted error = &sentinel{msg: "retry: budget exhausted", typ: "retry_budget_exhausted"}

type sentinel struct{ msg, typ string }

func (s *sentinel) Error() string { return s.msg }

// ErrorType returns the error's telemetry type, for `error.type`.
func (s *sentinel) ErrorType() string { return s.typ }

// exhaustedError is ErrBudgetExhausted wrapping the last attempt's error.
type exhaustedError struct{ err error }

func (e *exhaustedError) Error() string        { return "retry: budget exhausted: " + e.err.Error() }
func (e *exhaustedError) ErrorType() string    { return "retry_budget_exhausted" }
func (e *exhaustedError) Is(target error) bool { return target == ErrBudgetExhausted }
func (e *exhaustedError) Unwrap() error        { return e.err }
