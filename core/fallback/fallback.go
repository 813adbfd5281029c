package fallback

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/breakerbox/breakerbox/internal/reject"
)

// Kind classifies the error a fallback chain runs for.
type Kind int

const (
	// Failed is any error that is neither a rejection nor a timeout.
	Failed Kind = iota
	// Rejected is a rejection by a breaker, bulkhead, rate limiter or other
	// guard: an error matching reject.ErrRejected (core.ErrRejected).
	Rejected
	// TimedOut is a timeout: an error matching [context.DeadlineExceeded],
	// or wrapping an error whose Timeout() method reports true (such as
	// [os.ErrDeadlineExceeded] or a net.Error timeout).
	TimedOut
)

// String returns "failed", "rejected" or "timed_out" (the names
// [ParseKind] accepts), or "Kind(n)" for an unknown value.
func (k Kind) String() string {
	switch k {
	case Failed:
		return "failed"
	case Rejected:
		return "rejected"
	case TimedOut:
		return "timed_out"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// ParseKind parses "failed", "rejected" or "timed_out".
func ParseKind(s string) (Kind, error) {
	switch s {
	case "failed":
		return Failed, nil
	case "rejected":
		return Rejected, nil
	case "timed_out":
		return TimedOut, nil
	}
	return 0, fmt.Errorf("fallback: kind: %q must be failed, rejected or timed_out", s)
}

// MarshalText implements [encoding.TextMarshaler] with [Kind.String].
func (k Kind) MarshalText() ([]byte, error) {
	if k < Failed || k > TimedOut {
		return nil, fmt.Errorf("fallback: kind: %v must be failed, rejected or timed_out", k)
	}
	return []byte(k.String()), nil
}

// UnmarshalText implements [encoding.TextUnmarshaler] with [ParseKind].
func (k *Kind) UnmarshalText(text []byte) error {
	v, err := ParseKind(string(text))
	if err != nil {
		return err
	}
	*k = v
	return nil
}

// KindOf classifies err: [Rejected] if it matches reject.ErrRejected,
// else [TimedOut] if it matches [context.DeadlineExceeded] or an error in
// its tree has a Timeout() method reporting true, else [Failed] (nil
// included). It allocates nothing.
func KindOf(err error) Kind {
	switch {
	case err == nil:
		return Failed
	case errors.Is(err, reject.ErrRejected):
		return Rejected
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return TimedOut
	}
	return Failed
}

// isTimeout reports whether err or an error it wraps has a Timeout method
// reporting true. Plain type assertions: errors.As would allocate.
func isTimeout(err error) bool {
	for err != nil {
		if t, ok := err.(interface{ Timeout() bool }); ok && t.Timeout() {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if isTimeout(e) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}

// Cause is what a fallback is given: the error the chain runs for, and its
// kind.
type Cause struct {
	// Err is the original error (not a previous step's).
	Err error
	// Kind is KindOf(Err).
	Kind Kind
}

// Func is a fallback: it returns a replacement result for the failed call,
// or an error to pass on to the next step. It is not generic so that one
// chain serves calls of every result type; use [Typed] to get a typed
// result back.
type Func func(ctx context.Context, c Cause) (any, error)

// Step is one fallback of a [Chain].
type Step struct {
	// Name identifies the step in errors, e.g. "cache" or "static".
	Name string
	// Fn is the fallback. A step with a nil Fn fails with an error naming it.
	Fn Func
	// On lists the kinds of error the step handles; empty means every kind.
	On []Kind
	// When, if set, is an extra filter: the step runs only if When reports
	// true for the original error.
	When func(err error) bool
}

// Chain is an ordered list of fallbacks, tried in order until one succeeds.
// It is immutable once built and safe for concurrent use; a nil *Chain
// has no steps.
type Chain struct {
	steps []step
}

type step struct {
	name string
	fn   Func
	on   uint // bit k set: handles Kind k; 0: every kind
	when func(error) bool
}

// NewChain returns a chain of the given steps, copied, so later changes to
// them do not affect it.
func NewChain(steps ...Step) *Chain {
	c := &Chain{steps: make([]step, len(steps))}
	for i, s := range steps {
		st := step{name: s.Name, fn: s.Fn, when: s.When}
		if st.name == "" {
			st.name = "#" + strconv.Itoa(i+1)
		}
		for _, k := range s.On {
			if k >= 0 && k < 64 {
				st.on |= 1 << uint(k)
			}
		}
		if len(s.On) > 0 && st.on == 0 {
			st.on = 1 << 63 // only unknown kinds listed: matches none of ours
		}
		c.steps[i] = st
	}
	return c
}

// Len returns the number of steps.
func (c *Chain) Len() int {
	if c == nil {
		return 0
	}
	return len(c.steps)
}

// Run handles err with the chain. It runs each eligible step in order (a
// step is eligible when KindOf(err) is in its On list, or On is empty, and
// its When filter, if any, accepts err) and returns the result of the first
// one that returns a nil error.
//
// When no step succeeds, Run returns a nil result and an error that joins
// err and each step's error, in order, with [errors.Join] semantics:
// [errors.Is] and [errors.As] find err and every step's error, each of which
// is wrapped in a [*StepError]. Its message is err's message followed by
// each step's, separated by "; ":
//
//	upstream: 503; fallback "cache": miss; fallback "static": no default
//
// When no step is eligible, Run returns err itself. When err is nil, Run
// runs nothing and returns (nil, nil).
//
// Run does not check ctx between steps: each step gets ctx and decides (a
// static default may ignore it; a cache read after a timeout may want
// [context.WithoutCancel]). A panic in a step is not recovered: it
// propagates to Run's caller, as in any function call.
//
// Run allocates nothing of its own when the first eligible step succeeds.
func (c *Chain) Run(ctx context.Context, err error) (any, error) {
	if err == nil {
		return nil, nil
	}
	if c == nil || len(c.steps) == 0 {
		return nil, err
	}
	kind := KindOf(err)
	var errs []error
	for i := range c.steps {
		s := &c.steps[i]
		if s.on != 0 && s.on&(1<<uint(kind)) == 0 {
			continue
		}
		if s.when != nil && !s.when(err) {
			continue
		}
		var v any
		var serr error
		if s.fn == nil {
			serr = errNoFunc
		} else if v, serr = s.fn(ctx, Cause{Err: err, Kind: kind}); serr == nil {
			return v, nil
		}
		if errs == nil {
			errs = make([]error, 1, 1+len(c.steps)-i)
			errs[0] = err
		}
		errs = append(errs, &StepError{Step: s.name, Err: serr})
	}
	if errs == nil {
		return nil, err
	}
	return nil, &chainError{errs: errs}
}

// errNoFunc is the error of a step whose Fn is nil.
var errNoFunc = errors.New("step has no Fn")

// StepError is the error of one step that failed, as found with [errors.As]
// in the error [Chain.Run] returns.
type StepError struct {
	// Step is the step's name ("#n" for an unnamed step, n from 1).
	Step string
	// Err is the error the step returned.
	Err error
}

// Error returns `fallback "name": ` and the step's error message.
func (e *StepError) Error() string { return "fallback " + strconv.Quote(e.Step) + ": " + e.Err.Error() }

// Unwrap returns the step's error.
func (e *StepError) Unwrap() error { return e.Err }

// chainError joins the original error (first) and every step's *StepError.
type chainError struct{ errs []error }

func (e *chainError) Error() string {
	var b strings.Builder
	for i, err := range e.errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

func (e *chainError) Unwrap() []error { return e.errs }

// Typed converts a fallback result to T: it passes err through (with T's
// zero value), returns v as a T when it is one, and otherwise an error such
// as
//
//	fallback: result is string, want int
//
// A nil v converts to the zero T when T is an interface, pointer, slice,
// map, channel or function type; for other types it is an error too.
//
//	price, err := fallback.Typed[float64](chain.Run(ctx, err))
func Typed[T any](v any, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	if t, ok := v.(T); ok {
		return t, nil
	}
	want := reflect.TypeFor[T]()
	if v == nil {
		switch want.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Slice, reflect.Map, reflect.Chan, reflect.Func, reflect.UnsafePointer:
			return zero, nil
		}
		return zero, fmt.Errorf("fallback: result is nil, want %v", want)
	}
	return zero, fmt.Errorf("fallback: result is %T, want %v", v, want)
}
