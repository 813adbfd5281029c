// Package reject holds the root of breakerbox's rejection errors, shared by
// every primitive so that each one's sentinel matches core.ErrRejected
// without the primitives importing package core.
package reject

// ErrRejected is the error every rejection sentinel matches with errors.Is.
// Package core re-exports it as core.ErrRejected.
var ErrRejected error = rootError{}

type rootError struct{}

func (rootError) Error() string { return "breakerbox: rejected" }

// Sentinel is a rejection sentinel: a fixed message, a telemetry type, and
// identity with ErrRejected under errors.Is. Sentinels are compared by
// pointer, so each one is created once, as a package variable.
type Sentinel struct {
	msg string
	typ string
}

// New returns a sentinel with the message msg and the telemetry type typ
// (an `error.type` value such as "circuit_open").
func New(msg, typ string) *Sentinel { return &Sentinel{msg: msg, typ: typ} }

// Error returns the sentinel's message.
func (s *Sentinel) Error() string { return s.msg }

// ErrorType returns the sentinel's telemetry type, for `error.type`.
func (s *Sentinel) ErrorType() string { return s.typ }

// Is reports whether target is ErrRejected, so every sentinel is a rejection.
func (s *Sentinel) Is(target error) bool { return target == ErrRejected }
