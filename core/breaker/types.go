package breaker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/breakerbox/breakerbox/internal/reject"
)

// ErrOpen is returned when the breaker rejects a call: it is open or forced
// open, or half-open with every probe slot taken, or ramping and the call fell
// outside the admitted share. It matches core.ErrRejected with errors.Is and
// its ErrorType is "circuit_open".
var ErrOpen error = reject.New("breaker: open", "circuit_open")

// State is a breaker's state.
type State uint8

// The automatic states come first, then the manual ones an operator sets.
const (
	// Closed admits every call and watches the outcomes.
	Closed State = iota
	// Open rejects every call until the open duration has passed.
	Open
	// HalfOpen admits a bounded number of probes (or, with a ramp, a growing
	// share of traffic) to decide whether to close or reopen.
	HalfOpen
	// ForcedOpen rejects every call until an operator releases it.
	ForcedOpen
	// Disabled admits every call and never trips (forced closed).
	Disabled
	// MetricsOnly admits every call and records outcomes, but never rejects;
	// a trip that would have happened is counted as a shadow trip.
	MetricsOnly

	numStates
)

var stateNames = [numStates]string{"closed", "open", "half-open", "forced-open", "disabled", "metrics-only"}

// String returns the state's name: "closed", "open", "half-open",
// "forced-open", "disabled" or "metrics-only".
func (s State) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ParseState parses a name returned by String.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if n == name {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("breaker: unknown state %q", name)
}

// Manual reports whether s is one of the states only an operator sets.
func (s State) Manual() bool { return s >= ForcedOpen && s < numStates }

// MarshalText encodes the state as its name.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText decodes a name returned by String.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err == nil {
		*s = v
	}
	return err
}

// Result is the verdict on a finished call.
type Result uint8

const (
	// Success counts as a healthy call.
	Success Result = iota
	// Failure counts against the dependency.
	Failure
	// Ignore leaves the breaker's statistics untouched (the call is still
	// counted as ignored).
	Ignore
)

// String returns "success", "failure" or "ignore".
func (r Result) String() string {
	switch r {
	case Success:
		return "success"
	case Failure:
		return "failure"
	case Ignore:
		return "ignore"
	}
	return fmt.Sprintf("Result(%d)", uint8(r))
}

// Outcome is what a classifier sees of a finished call.
type Outcome struct {
	// Err is the call's error, nil on success.
	Err error
	// Latency is the call's duration; it is measured only when the breaker
	// needs it (SlowCallDuration or MeasureLatency set), zero otherwise.
	Latency time.Duration
	// Code is an adapter's outcome label, such as an HTTP status or a gRPC
	// code; meaningful only when HasCode is true.
	Code int
	// HasCode reports whether Code was set.
	HasCode bool
}

// Classifier decides what a finished call means for the breaker.
type Classifier func(Outcome) Result

// DefaultClassifier counts a nil error as a success, an error matching
// context.Canceled (the caller gave up, which says nothing about the
// dependency) as ignored, and any other error as a failure. Adapters pass
// their own classifiers for status codes.
func DefaultClassifier(o Outcome) Result {
	if o.Err == nil {
		return Success
	}
	if errors.Is(o.Err, context.Canceled) {
		return Ignore
	}
	return Failure
}

// Manual names who made a manual change and why. Both fields are free text
// and end up in the transition, hooks and audit records.
type Manual struct {
	Actor  string
	Reason string
}

// Transition describes one state change.
type Transition struct {
	From, To State
	// Reason says why, for example "failure rate 60% >= 50% over 20 calls"
	// or the operator's reason for a manual change.
	Reason string
	// Actor is who made a manual change; empty for automatic ones.
	Actor string
	// At is when the change happened (the explicit time for *At methods).
	At time.Time
	// The window as it stood just before the change (the window is cleared
	// on every change): its calls, failures and slow calls, the failure and
	// slow-call rates in percent, and the run of consecutive failures.
	WindowCalls, WindowFailures, WindowSlow int
	FailureRate, SlowCallRate               float64
	ConsecutiveFailures                     int
}

// String formats the transition for logs.
func (t Transition) String() string {
	s := t.From.String() + " -> " + t.To.String() + ": " + t.Reason
	if t.Actor != "" {
		s += " (by " + t.Actor + ")"
	}
	return s
}
