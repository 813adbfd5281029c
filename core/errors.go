package core

import (
	"errors"
	"time"

	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/internal/reject"
)

// ErrRejected is matched, through errors.Is, by every rejection of every
// breakerbox primitive: breaker.ErrOpen, bulkhead.ErrFull and the errors
// returned by a Guard that wrap them.
var ErrRejected = reject.ErrRejected

// ErrPanicked is the error a guard records as the outcome of a call whose
// function panicked. The panic itself is re-raised.
var ErrPanicked = errors.New("core: guarded function panicked")

// ErrAbandoned is the error Permit.Settle records as the outcome of an
// admitted call that ended without reporting one and without panicking: it
// returned early, or its goroutine called runtime.Goexit.
var ErrAbandoned = errors.New("core: call ended without reporting its outcome")

// ErrUnknownGuard is returned (wrapped, with the name) by registry operations
// that name a guard the registry does not hold.
var ErrUnknownGuard = errors.New("core: unknown guard")

// RejectedError is returned when a guard rejects a call. Each guard holds one
// RejectedError per reason, built when the guard is created, so returning it
// allocates nothing; treat it as read-only.
type RejectedError struct {
	// Guard is the name of the guard that rejected the call.
	Guard string
	// Reason is the primitive's sentinel, such as breaker.ErrOpen or
	// bulkhead.ErrFull.
	Reason error

	msg        string
	retryAfter func() time.Duration
}

func newRejectedError(guard string, reason error, retryAfter func() time.Duration) *RejectedError {
	return &RejectedError{
		Guard:      guard,
		Reason:     reason,
		msg:        "breakerbox: guard " + quote(guard) + " rejected the call: " + reason.Error(),
		retryAfter: retryAfter,
	}
}

func quote(s string) string { return `"` + s + `"` }

// Error returns a message naming the guard and the reason.
func (e *RejectedError) Error() string { return e.msg }

// Unwrap returns Reason, so errors.Is finds the sentinel and ErrRejected.
func (e *RejectedError) Unwrap() error { return e.Reason }

// RetryAfter returns how long the caller should wait before trying again,
// computed now (an open breaker's remaining open time, for example); zero
// when unknown.
func (e *RejectedError) RetryAfter() time.Duration {
	if e.retryAfter == nil {
		return 0
	}
	return e.retryAfter()
}

// ErrorType returns the reason's telemetry type ("circuit_open",
// "bulkhead_full", ...), for the OTel `error.type` attribute.
func (e *RejectedError) ErrorType() string {
	if t, ok := e.Reason.(interface{ ErrorType() string }); ok {
		return t.ErrorType()
	}
	return "rejected"
}

// RetryAfter finds a retry-after hint in err or any error it wraps (any
// error with a `RetryAfter() time.Duration` method and a positive value),
// as retry.RetryAfter does. It allocates nothing.
func RetryAfter(err error) (time.Duration, bool) { return retry.RetryAfter(err) }

// ErrorType returns the telemetry type of err: its own ErrorType if it (or
// an error it wraps) has one, "" for nil, and "_OTHER" otherwise, following
// the OTel `error.type` convention.
func ErrorType(err error) string {
	if err == nil {
		return ""
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		if t, ok := e.(interface{ ErrorType() string }); ok {
			return t.ErrorType()
		}
	}
	return "_OTHER"
}
