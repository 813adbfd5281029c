package queue

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// WithGuardName sets how Middleware names a task's guard (default: the
// task's type, such as "email:send"). Names must come from a small set:
// each one is a guard in the registry.
func WithGuardName(fn func(taskType string) string) Option {
	return optionFunc(func(c *config) { c.key = fn })
}

// WithGuardOptions passes options to the registry when Middleware creates
// a guard (core.UsePolicy, core.WithTags).
func WithGuardOptions(opts ...core.GuardOption) Option {
	return optionFunc(func(c *config) { c.guardOpts = append(c.guardOpts, opts...) })
}

// asynqClassifier counts the job's verdicts on itself as ignored.
func asynqClassifier(err error) (breaker.Result, bool) {
	if errors.Is(err, asynq.SkipRetry) || errors.Is(err, asynq.RevokeTask) {
		return breaker.Ignore, true
	}
	return 0, false
}

// Middleware returns an asynq middleware that runs every task through a
// guard of reg, named after the task's type (WithGuardName). When the
// guard rejects a task, the handler does not run and the middleware
// returns a *DeferredError; a server configured with Configure (or with
// RetryDelay and IsFailure) then puts the task back in its queue's retry
// set for the deferral's delay (for an open breaker, the rest of its open
// time), without counting a failed attempt against the task's MaxRetry.
// The task is never dropped: asynq keeps it in Redis until it runs.
//
// Errors the handler returns are reported to the guard; asynq.SkipRetry
// and asynq.RevokeTask count as ignored (WithClassifier changes that).
//
// One caveat of asynq: a task that has already used every retry on real
// failures and is then deferred is archived (asynq checks the retry count
// before it asks for a delay); it stays in Redis and can be run again from
// the archive.
func Middleware(reg *core.Registry, opts ...Option) asynq.MiddlewareFunc {
	c := newConfig(opts)
	if c.classify == nil {
		c.classify = asynqClassifier
	}
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
			name := t.Type()
			if c.key != nil {
				name = c.key(name)
			}
			g, err := reg.Guard(name, c.guardOpts...)
			if err != nil {
				return err
			}
			return c.run(ctx, g, func(ctx context.Context) error { return next.ProcessTask(ctx, t) })
		})
	}
}

// RetryDelay returns an asynq.RetryDelayFunc that gives a deferred task
// (one whose error is a DeferredError) its deferral's delay, and asks next
// for every other error (nil next means asynq.DefaultRetryDelayFunc).
func RetryDelay(next asynq.RetryDelayFunc) asynq.RetryDelayFunc {
	if next == nil {
		next = asynq.DefaultRetryDelayFunc
	}
	return func(n int, err error, t *asynq.Task) time.Duration {
		if d, ok := Deferred(err); ok {
			return d
		}
		return next(n, err, t)
	}
}

// IsFailure returns an asynq IsFailure predicate under which a deferral is
// not a failure: asynq then neither counts it against the task's MaxRetry
// nor in the queue's failure statistics. Other errors are decided by next
// (nil next means any non-nil error is a failure).
func IsFailure(next func(error) bool) func(error) bool {
	return func(err error) bool {
		if _, ok := Deferred(err); ok {
			return false
		}
		if next != nil {
			return next(err)
		}
		return err != nil
	}
}

// Configure returns cfg with RetryDelayFunc and IsFailure wrapped by
// RetryDelay and IsFailure, as Middleware needs.
func Configure(cfg asynq.Config) asynq.Config {
	cfg.RetryDelayFunc = RetryDelay(cfg.RetryDelayFunc)
	cfg.IsFailure = IsFailure(cfg.IsFailure)
	return cfg
}
