package graphql

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/fallback"
)

// Error codes carried in the "code" extension of the errors this package
// reports. A rejection's code is its error type in upper case (see
// core.ErrorType), so a primitive added later brings its own code.
const (
	// CodeCircuitOpen: the guard's circuit breaker is open (or half-open
	// with every probe taken); retry after the breaker's remaining open
	// time.
	CodeCircuitOpen = "CIRCUIT_OPEN"
	// CodeBulkheadFull: too many calls of the guard (or operations) were
	// running at once.
	CodeBulkheadFull = "BULKHEAD_FULL"
	// CodeRateLimited: the guard's (or the client's) rate limit refused
	// the call.
	CodeRateLimited = "RATE_LIMITED"
	// CodeTimeout: the field did not answer within its timeout (the
	// directive's timeout argument or the guard's policy).
	CodeTimeout = "TIMEOUT"
)

// ErrorFunc turns the error of a guarded field into the error reported to
// the client; see [FieldError] and [WithErrorFunc].
type ErrorFunc func(ctx context.Context, err error) error

// FieldError is the default [ErrorFunc]. A rejection (an error matching
// core.ErrRejected) or a timeout becomes a *gqlerror.Error that wraps err
// (errors.Is and errors.As still find it) with the extensions
//
//	{"code": "CIRCUIT_OPEN", "retryAfter": 12}
//
// where code is one of the Code constants and retryAfter, present for
// rejections, is the number of seconds after which the client may try
// again: the rejection's hint rounded up to whole seconds, and at least 1
// (as in an HTTP Retry-After field; a client told 0 would come straight
// back). Any other error is returned unchanged, so that the resolver's own
// errors (and their extensions) reach the client as they would without the
// guard. gqlgen adds the field's path and location.
func FieldError(ctx context.Context, err error) error {
	code := Code(err)
	if code == "" {
		return err
	}
	var g *gqlerror.Error
	if errors.As(err, &g) && g.Extensions["code"] != nil {
		return err // already coded by the resolver
	}
	ext := map[string]any{"code": code}
	if errors.Is(err, core.ErrRejected) {
		ra, _ := core.RetryAfter(err)
		ext["retryAfter"] = RetryAfterSeconds(ra)
	}
	return &gqlerror.Error{Err: err, Message: err.Error(), Extensions: ext}
}

// Code returns the error code of err for the "code" extension: for a
// rejection, its error type in upper case (CodeCircuitOpen, CodeBulkheadFull,
// CodeRateLimited, ...); for a timeout (fallback.KindOf(err) ==
// fallback.TimedOut), CodeTimeout; otherwise "".
func Code(err error) string {
	switch fallback.KindOf(err) {
	case fallback.Rejected:
		switch t := core.ErrorType(err); t {
		case "circuit_open":
			return CodeCircuitOpen
		case "bulkhead_full":
			return CodeBulkheadFull
		case "rate_limited":
			return CodeRateLimited
		case "", "_OTHER":
			return "REJECTED"
		default:
			return strings.ToUpper(t)
		}
	case fallback.TimedOut:
		return CodeTimeout
	}
	return ""
}

// RetryAfterSeconds rounds d up to whole seconds, at least 1: the value of
// the "retryAfter" extension.
func RetryAfterSeconds(d time.Duration) int64 {
	if d <= time.Second {
		return 1
	}
	return int64((d + time.Second - 1) / time.Second)
}

// rejectionError builds the error of a rejected operation.
func rejectionError(err error, retryAfter time.Duration) *gqlerror.Error {
	return &gqlerror.Error{
		Err:     err,
		Message: err.Error(),
		Extensions: map[string]any{
			"code":       Code(err),
			"retryAfter": RetryAfterSeconds(retryAfter),
		},
	}
}
