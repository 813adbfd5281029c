package rivermw

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Defaults of the snooze delay.
const (
	// DefaultMinDelay is the delay of a snoozed job whose rejection
	// carries no retry-after (a full bulkhead, a half-open breaker with
	// every probe slot taken), and the least delay of any snooze.
	DefaultMinDelay = time.Second
	// DefaultMaxDelay caps a snooze's delay.
	DefaultMaxDelay = 10 * time.Minute
	// DefaultJitter adds up to this fraction to each delay, so that the
	// jobs turned away together do not all come back in the same instant.
	DefaultJitter = 0.2
)

// DeferredError is what Middleware returns instead of working a job that
// its guard rejected: the job did not run and River snoozes it for Delay.
//
// It wraps both the guard's *core.RejectedError (errors.Is(err,
// core.ErrRejected) holds) and a *river.JobSnoozeError of Delay, which is
// how River recognises a snooze: the job goes back to its queue, scheduled
// Delay from now, and its attempt is not counted (River decrements the
// attempt it took when it fetched the job), so deferrals never use up
// MaxAttempts. Its RetryAfter method gives Delay to helpers that read
// retry-after hints, such as core.RetryAfter.
type DeferredError struct {
	// Guard is the name of the guard that rejected the job.
	Guard string
	// Delay is how long River keeps the job before working it again: the
	// rejection's retry-after (for an open breaker, the rest of its open
	// time) within [MinDelay, MaxDelay], plus jitter.
	Delay time.Duration
	// Err is the rejection.
	Err error
}

// Error returns "rivermw: job snoozed <delay> by guard <name>: <rejection>".
func (e *DeferredError) Error() string {
	return fmt.Sprintf("rivermw: job snoozed %s by guard %q: %v", e.Delay, e.Guard, e.Err)
}

// Unwrap returns the rejection and a *river.JobSnoozeError of Delay (a
// negative Delay snoozes for zero).
func (e *DeferredError) Unwrap() []error {
	return []error{e.Err, &rivertype.JobSnoozeError{Duration: max(e.Delay, 0)}}
}

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

// Option configures Middleware.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	minDelay, maxDelay time.Duration
	jitter             float64
	classify           func(error) (breaker.Result, bool)
	rand               func() float64
	name               func(kind string) string
	guardOpts          []core.GuardOption
}

func newConfig(opts []Option) config {
	c := config{
		minDelay: DefaultMinDelay, maxDelay: DefaultMaxDelay, jitter: DefaultJitter,
		classify: riverClassifier, rand: rand.Float64,
	}
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

// WithDelays sets the least and the greatest snooze delay (defaults
// DefaultMinDelay and DefaultMaxDelay). A min of zero or less keeps the
// default; a max below min is raised to min.
func WithDelays(minDelay, maxDelay time.Duration) Option {
	return optionFunc(func(c *config) { c.minDelay, c.maxDelay = minDelay, maxDelay })
}

// WithJitter sets the share, in [0, 1], that jitter may add to a delay
// (default DefaultJitter; values outside are clamped). Jitter only
// lengthens a delay, so a job never comes back before its guard's
// retry-after.
func WithJitter(f float64) Option {
	return optionFunc(func(c *config) { c.jitter = f })
}

// WithClassifier decides what a job's error means for the guard's breaker,
// before the guard's own classifier: fn returns the result and true to
// decide, or false to leave the error to the guard (by default nil is a
// success, context.Canceled ignored and any other error a failure). The
// default counts the job's verdicts on itself, river.JobCancel and
// river.JobSnooze, as ignored; a nil fn leaves every error to the guard.
func WithClassifier(fn func(err error) (breaker.Result, bool)) Option {
	return optionFunc(func(c *config) { c.classify = fn })
}

// WithGuardName sets how Middleware names a job's guard (default: the
// job's kind, such as "charge_card"). Names must come from a small set:
// each one is a guard in the registry.
func WithGuardName(fn func(kind string) string) Option {
	return optionFunc(func(c *config) { c.name = fn })
}

// WithGuardOptions passes options to the registry when Middleware creates
// a guard (core.UsePolicy, core.WithTags).
func WithGuardOptions(opts ...core.GuardOption) Option {
	return optionFunc(func(c *config) { c.guardOpts = append(c.guardOpts, opts...) })
}

// Targets for errors.Is: River's error types match any error of their type.
var (
	anyCancel error = &rivertype.JobCancelError{}
	anySnooze error = &rivertype.JobSnoozeError{}
)

// riverClassifier counts a job's cancel or snooze of itself as ignored:
// neither says anything about the dependency.
func riverClassifier(err error) (breaker.Result, bool) {
	if err == nil {
		return 0, false
	}
	if errors.Is(err, anyCancel) || errors.Is(err, anySnooze) {
		return breaker.Ignore, true
	}
	return 0, false
}

// delay computes the snooze delay for the rejection err.
func (c *config) delay(err error) time.Duration {
	d, _ := core.RetryAfter(err)
	d = min(max(d, c.minDelay), c.maxDelay)
	if c.jitter > 0 {
		d += time.Duration(c.rand() * c.jitter * float64(d))
	}
	return d
}

// run works the job (fn) through g: a rejection becomes a *DeferredError
// and fn does not run; otherwise fn's error is reported to the guard and
// returned. A panic in fn counts as a failure and goes on (River recovers
// it and fails the attempt).
func (c *config) run(ctx context.Context, g *core.Guard, fn func(context.Context) error) error {
	p, err := g.Allow(ctx)
	if err != nil {
		if errors.Is(err, core.ErrRejected) {
			return &DeferredError{Guard: g.Name(), Delay: c.delay(err), Err: err}
		}
		return err // ctx ended while the job waited in the bulkhead's queue
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

// middleware is the rivertype.WorkerMiddleware that Middleware returns.
type middleware struct {
	river.MiddlewareDefaults
	reg *core.Registry
	cfg config
}

// Middleware returns a River worker middleware that works every job
// through a guard of reg, named after the job's kind (WithGuardName).
// Install it for every worker of a client in river.Config.Middleware, or
// for one worker from its Middleware method.
//
// When the guard rejects a job (an open breaker, a full bulkhead, a rate
// limit), the worker does not run and the middleware returns a
// *DeferredError, which River takes as a snooze: the job goes back to its
// queue, scheduled after the rejection's retry-after (for an open breaker,
// the rest of its open time, bounded by WithDelays and lengthened by
// jitter), and the attempt does not count against MaxAttempts. The job is
// never dropped: it stays in the database until it runs.
//
// When the guard admits a job, the worker runs and its error is reported
// to the guard (river.JobCancel and river.JobSnooze count as ignored, see
// WithClassifier); a panic counts as a failure and goes on to River,
// which fails the attempt. Jobs have their own retries in River, so the
// guard's policy contributes its admission gates (rate limit, bulkhead,
// breaker) and not its retries, timeouts or fallbacks, as with
// core.Guard.Allow.
//
// An error from the registry (an invalid guard name), or a nil reg, fails
// the attempt.
func Middleware(reg *core.Registry, opts ...Option) rivertype.WorkerMiddleware {
	return &middleware{reg: reg, cfg: newConfig(opts)}
}

// Work implements rivertype.WorkerMiddleware.
func (m *middleware) Work(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
	if m.reg == nil {
		return errors.New("rivermw: Middleware has no registry (reg is nil)")
	}
	name := job.Kind
	if m.cfg.name != nil {
		name = m.cfg.name(name)
	}
	g, err := m.reg.Guard(name, m.cfg.guardOpts...)
	if err != nil {
		return err
	}
	return m.cfg.run(ctx, g, doInner)
}
