package core

import (
	"context"
	"time"

	"github.com/breakerbox/breakerbox/core/retry"
)

// RetryState is one call's retry progress for [Guard.RetryAt], the
// explicit-time form of what Guard.Do keeps on its stack between attempts.
// Start it with [Guard.BeginAt]; RetryAt updates it. The zero value is a
// call of a guard without retries: RetryAt never retries it.
type RetryState struct {
	// Start is when the call's first attempt began: MaxTotal and the
	// policy's total timeout count from it.
	Start time.Time
	// Attempts counts the attempts made so far, the one that just failed
	// included: 1 after the first attempt.
	Attempts int
	// Backoff is the backoff delay chosen before the last retry, before any
	// retry-after hint (retry.Retrier.Delay's prev): 0 before the first
	// retry. Only decorrelated jitter uses it.
	Backoff time.Duration

	// pt are the parts live when the call began: like Do, a call keeps its
	// retry policy across a reload.
	pt *parts
}

// BeginAt starts a call at the explicit time t for [Guard.RetryAt], as
// Guard.Do does when it is called: it deposits the call into the retry
// budget (with retry.Budget.DepositAt, exactly at t where Do's Deposit
// reads the clock once per 32 calls) and returns the call's RetryState
// with its first attempt counted. Admit each attempt with AllowAt and
// report it with DoneAt or ReportAt as usual.
func (g *Guard) BeginAt(t time.Time) RetryState {
	pt := g.cur.Load()
	if pt.retrier != nil {
		if b := pt.retrier.Config().Budget; b != nil {
			b.DepositAt(t)
		}
	}
	return RetryState{Start: t, Attempts: 1, pt: pt}
}

// RetryAt decides at the explicit time t, after an attempt of the call s
// failed with err, whether Guard.Do would retry and after what delay,
// with the guard's retry policy as of [Guard.BeginAt]. u is the jitter's
// random draw in [0, 1) (clamped into [0, 1]), which the caller supplies
// so that a simulation is deterministic; NoJitter ignores it.
//
// It returns the delay before the next attempt and a nil error when Do
// would retry; the next attempt is then due at t plus the delay. Otherwise
// it returns the error Do would return, in Do's order of checks: err
// itself when the call has no retry policy, err is not retryable (RetryOn),
// the attempts are used up, or the delay (or a retry-after hint) does not
// fit in MaxTotal or before the policy's total timeout; context.DeadlineExceeded
// when the total timeout has passed by t; an error matching
// retry.ErrBudgetExhausted and wrapping err when the retry budget refuses
// the retry (retry.Budget.WithdrawAt(t)).
//
// As Do does, a retry counts in GuardSnapshot.Retries and runs the
// OnRetry hooks, and a refusal by the budget counts in
// RetryBudgetExhausted. It reads no clock and sets no timer; the normal
// call path pays nothing for it.
func (g *Guard) RetryAt(t time.Time, s *RetryState, err error, u float64) (time.Duration, error) {
	if err == nil {
		return 0, nil
	}
	pt := s.pt
	if pt == nil || pt.retrier == nil {
		return 0, err
	}
	r := pt.retrier
	cfg := r.Config()
	n := s.Attempts + 1
	if n > cfg.MaxAttempts || !cfg.RetryOn(err) {
		return 0, err
	}
	var deadline time.Time
	if pt.total > 0 {
		deadline = s.Start.Add(pt.total)
		if !t.Before(deadline) {
			return 0, context.DeadlineExceeded
		}
	}
	if cfg.Jitter == retry.NoJitter {
		u = 0
	}
	d := r.Delay(n, s.Backoff, u)
	backoff := d
	hint, hinted := retry.RetryAfter(err)
	if hinted && hint > d {
		d = min(hint, cfg.MaxDelay)
	}
	if cfg.MaxTotal > 0 {
		left := cfg.MaxTotal - t.Sub(s.Start)
		if d >= left || (hinted && hint > left) {
			return 0, err
		}
	}
	if !deadline.IsZero() && deadline.Sub(t) <= d {
		return 0, err
	}
	if b := cfg.Budget; b != nil && !b.WithdrawAt(t) {
		g.budgetSpent.Add(1)
		return 0, &budgetError{err: err}
	}
	s.Attempts, s.Backoff = n, backoff
	g.onRetry(context.Background(), retry.Attempt{Number: n, Delay: d, Err: err})
	return d, nil
}

// budgetError is what RetryAt returns when the budget refuses a retry: it
// matches retry.ErrBudgetExhausted and wraps the attempt's error, as the
// error of retry.Retrier.Do does.
type budgetError struct{ err error }

func (e *budgetError) Error() string        { return "retry: budget exhausted: " + e.err.Error() }
func (e *budgetError) ErrorType() string    { return "retry_budget_exhausted" }
func (e *budgetError) Is(target error) bool { return target == retry.ErrBudgetExhausted }
func (e *budgetError) Unwrap() error        { return e.err }
