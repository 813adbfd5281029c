package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Defaults of the deferral delay.
const (
	// DefaultMinDelay is the delay of a deferred job whose rejection
	// carries no retry-after (a full bulkhead, a half-open breaker with
	// every probe slot taken), and the least delay of any deferral.
	DefaultMinDelay = time.Second
	// DefaultMaxDelay caps a deferral's delay.
	DefaultMaxDelay = 10 * time.Minute
	// DefaultJitter adds up to this fraction to each delay, so that the
	// jobs turned away together do not all come back in the same instant.
	DefaultJitter = 0.2
)

// DeferredError is returned instead of running a job that its guard
// rejected: the job did not run and must go back to its queue after Delay.
// It wraps the guard's *core.RejectedError, so errors.Is(err,
// core.ErrRejected) holds, and its RetryAfter method gives Delay to
// queue libraries and helpers (core.RetryAfter) that read retry-after
// hints.
type DeferredError struct {
	// Guard is the name of the guard that rejected the job.
	Guard string
	// Delay is how long to wait before running the job again: the
	// rejection's retry-after (for an open breaker, the rest of its open
	// time) within [MinDelay, MaxDelay], plus jitter.
	Delay time.Duration
	// Err is the rejection.
	Err error
}

// Error returns "queue: job deferred <delay> by guard <name>: <rejection>".
func (e *DeferredError) Error() string {
	return fmt.Sprintf("queue: job deferred %s by guard %q: %v", e.Delay, e.Guard, e.Err)
}

// Unwrap returns the rejection.
func (e *DeferredError) Unwrap() error { return e.Err }

// RetryAfter returns Delay.
func (e *DeferredError) RetryAfter() time.Duration { return e.Delay }

// Deferred reports whether err is (or wraps) a DeferredError, and its
// delay.
func Deferred(err error) (time.Duration, bool) {
	var d *DeferredError
	if errors.As(err, &d) {
		return d.Delay, true
	}
	return 0, false
}

// Option configures Wrap and Middleware.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	minDelay, maxDelay time.Duration
	jitter             float64
	classify           func(error) (breaker.Result, bool)
	rand               func() float64

	// Middleware only.
	key       func(taskType string) string
	guardOpts []core.GuardOption
}

func newConfig(opts []Option) config {
	c := config{minDelay: DefaultMinDelay, maxDelay: DefaultMaxDelay, jitter: DefaultJitter, rand: rand.Float64}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	if c.minDelay <= 0 {
		c.minDelay = DefaultMinDelay
	}
	if c.maxDelay < c.minDelay {
		c.maxDelay = c.minDelay
	}
	c.jitter = min(max(c.jitter, 0), 1)
	return c
}

// WithDelays sets the least and the greatest deferral delay (defaults
// DefaultMinDelay and DefaultMaxDelay). A min of zero or less keeps the
// default; a max below min is raised to min.
func WithDelays(minDelay, maxDelay time.Duration) Option {
	return optionFunc(func(c *config) { c.minDelay, c.maxDelay = minDelay, maxDelay })
}

// WithJitter sets the share, in [0, 1], that jitter may add to a delay
// (default DefaultJitter). Jitter only lengthens a delay, so a job never
// comes back before its guard's retry-after.
func WithJitter(f float64) Option {
	return optionFunc(func(c *config) { c.jitter = f })
}

// WithClassifier decides what a job's error means for the guard's breaker,
// before the guard's own classifier: fn returns the result and true to
// decide, or false to leave the error to the guard (by default nil is a
// success, context.Canceled ignored and any other error a failure).
// Middleware's default counts asynq.SkipRetry and asynq.RevokeTask as
// ignored (they are the job's verdict on itself, not on the dependency).
func WithClassifier(fn func(err error) (breaker.Result, bool)) Option {
	return optionFunc(func(c *config) { c.classify = fn })
}

// delay computes the deferral delay for the rejection err.
func (c *config) delay(err error) time.Duration {
	d, _ := core.RetryAfter(err)
	d = min(max(d, c.minDelay), c.maxDelay)
	if c.jitter > 0 {
		d += time.Duration(c.rand() * c.jitter * float64(d))
	}
	return d
}

// run runs fn through g: a rejection becomes a *DeferredError and fn does
// not run; otherwise fn's error is reported to the guard and returned. A
// panic in fn counts as a failure and goes on.
func (c *config) run(ctx context.Context, g *core.Guard, fn func(context.Context) error) (err error) {
	p, aerr := g.Allow(ctx)
	if aerr != nil {
		if errors.Is(aerr, core.ErrRejected) {
			return &DeferredError{Guard: g.Name(), Delay: c.delay(aerr), Err: aerr}
		}
		return aerr // ctx ended while queued in the bulkhead
	}
	defer p.Settle()
	err = fn(ctx)
	if c.classify != nil {
		if r, ok := c.classify(err); ok {
			p.Report(r, err)
			return err
		}
	}
	p.Done(err)
	return err
}

// Wrap returns fn guarded by g, for any job type T and any queue: the
// returned function asks g to admit the job; when g rejects, fn does not
// run and the function returns a *DeferredError whose Delay says when to
// run the job again (hand it back to the queue with that delay rather than
// count a failure: see Deferred). Otherwise fn runs and its outcome is
// reported to g (a panic counts as a failure and goes on).
//
// Jobs have their own retries in their queue, so the guard's policy
// contributes its admission gates (rate limit, bulkhead, breaker) and not
// its retries, timeouts or fallbacks, as with Guard.Allow.
func Wrap[T any](g *core.Guard, fn func(ctx context.Context, job T) error, opts ...Option) func(ctx context.Context, job T) error {
	c := newConfig(opts)
	return func(ctx context.Context, job T) error {
		return c.run(ctx, g, func(ctx context.Context) error { return fn(ctx, job) })
	}
}
