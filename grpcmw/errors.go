package grpcmw

import (
	"context"
	"errors"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// PushbackHeader is the trailer metadata key through which a gRPC server
// tells clients how long to wait before retrying (gRFC A6): a whole number of
// milliseconds, or a negative value for "do not retry".
const PushbackHeader = "grpc-retry-pushback-ms"

type grpcStatuser interface{ GRPCStatus() *status.Status }

// codeOf returns the gRPC code of a call's error without allocating for nil,
// status errors and context errors.
func codeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if s, ok := err.(grpcStatuser); ok {
		if st := s.GRPCStatus(); st != nil {
			return st.Code()
		}
		return codes.Unknown
	}
	switch {
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	return status.Code(err)
}

// rejectionStatus builds the status of a rejected call: code, the guard's
// message, and a RetryInfo detail when the retry-after is known.
func rejectionStatus(code codes.Code, msg string, retryAfter time.Duration) *status.Status {
	st := status.New(code, msg)
	if retryAfter > 0 {
		if d, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)}); err == nil {
			st = d
		}
	}
	return st
}

// clientRejection is the error the client interceptors return when a guard
// rejects a call. It is a one-pointer struct, so returning it as an error
// allocates nothing; the status is built only when asked for.
type clientRejection struct{ r *core.RejectedError }

func (e clientRejection) Error() string { return e.r.Error() }

// Unwrap returns the guard's *core.RejectedError, so errors.Is finds
// core.ErrRejected and the primitive's sentinel.
func (e clientRejection) Unwrap() error { return e.r }

// GRPCStatus returns codes.Unavailable with the guard's message and a
// RetryInfo detail, so status.FromError and status.Code see a gRPC error.
func (e clientRejection) GRPCStatus() *status.Status {
	return rejectionStatus(codes.Unavailable, e.r.Error(), e.r.RetryAfter())
}

// asRejected returns the guard's rejection in err, or nil. Allow returns it
// unwrapped, and a handler's error is often a status error, which wraps
// nothing: in those cases it allocates nothing.
func asRejected(err error) *core.RejectedError {
	switch e := err.(type) {
	case *core.RejectedError:
		return e
	case clientRejection:
		return e.r
	case interface{ Unwrap() error }, interface{ Unwrap() []error }, interface{ As(any) bool }:
		var r *core.RejectedError
		if errors.As(err, &r) {
			return r
		}
	}
	return nil
}

// answer is the error a server interceptor returns when it answers for the
// call (a rejection, WithPublicErrors): the status sent to the client, and
// the whole error, for the server's own outer interceptors (logging,
// metrics). grpc-go sends the status of an error that has a GRPCStatus
// method as it is, message included.
type answer struct {
	err error
	st  *status.Status
}

func (e *answer) Error() string              { return e.err.Error() }
func (e *answer) Unwrap() error              { return e.err }
func (e *answer) GRPCStatus() *status.Status { return e.st }

// serverRejectionCode is the status a server answers a rejection with: an
// open breaker makes the method Unavailable; shedding by a bulkhead, a rate
// limiter or any other gate is ResourceExhausted.
func serverRejectionCode(r *core.RejectedError) codes.Code {
	if errors.Is(r.Reason, breaker.ErrOpen) {
		return codes.Unavailable
	}
	return codes.ResourceExhausted
}

// pushbackError carries a server's pushback on a failed attempt, for the
// retrier: RetryAfter gives the hint, and stop marks a server's "do not
// retry" (a negative pushback), which Retryable honours.
type pushbackError struct {
	err   error
	after time.Duration
	stop  bool
}

func (e *pushbackError) Error() string              { return e.err.Error() }
func (e *pushbackError) Unwrap() error              { return e.err }
func (e *pushbackError) RetryAfter() time.Duration  { return e.after }
func (e *pushbackError) GRPCStatus() *status.Status { return status.Convert(e.err) }

// pushback finds a server's pushback for a failed call: the
// grpc-retry-pushback-ms trailer first, then a RetryInfo detail of the
// status. stop reports a negative or malformed trailer ("do not retry").
func pushback(trailer metadata.MD, err error) (d time.Duration, stop, ok bool) {
	if vs := trailer.Get(PushbackHeader); len(vs) > 0 {
		ms, perr := strconv.ParseInt(vs[0], 10, 64)
		if perr != nil || ms < 0 || len(vs) > 1 {
			return 0, true, true
		}
		return time.Duration(ms) * time.Millisecond, false, true
	}
	st, isStatus := status.FromError(err)
	if !isStatus {
		return 0, false, false
	}
	for _, det := range st.Details() {
		if ri, isRI := det.(*errdetails.RetryInfo); isRI && ri.GetRetryDelay() != nil {
			if d := ri.GetRetryDelay().AsDuration(); d > 0 {
				return d, false, true
			}
		}
	}
	return 0, false, false
}

// Retryable reports whether a failed call may be retried: the call was not
// rejected by the client's own guard (core.ErrRejected), the server did not
// push back with "do not retry", and its code is Unavailable, or
// ResourceExhausted with a pushback from the server (an overloaded server
// that says when to come back, as opposed to an exhausted quota). Use it as
// retry.Config.RetryOn for WithRetrier.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, core.ErrRejected) {
		return false
	}
	hinted := false
	for e := err; e != nil; e = errors.Unwrap(e) {
		if pe, ok := e.(*pushbackError); ok {
			if pe.stop {
				return false
			}
			hinted = pe.after > 0
			break
		}
	}
	switch codeOf(err) {
	case codes.Unavailable:
		return true
	case codes.ResourceExhausted:
		return hinted
	}
	return false
}

// pushbackMD is the trailer a server sends with a rejection.
func pushbackMD(d time.Duration) metadata.MD {
	ms := d.Milliseconds()
	if d > 0 && ms == 0 {
		ms = 1
	}
	return metadata.Pairs(PushbackHeader, strconv.FormatInt(ms, 10))
}
