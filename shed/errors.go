package shed

import (
	"time"

	"github.com/breakerbox/breakerbox/internal/reject"
)

// ErrShed is the reason of every rejection by a [Shedder]. It matches
// core.ErrRejected under errors.Is and its ErrorType is "load_shed".
var ErrShed = reject.New("shed: load shed", "load_shed")

// Why a request was shed: the Reason of a [*Rejection].
const (
	// ReasonOverload: the service is overloaded (a standing queue, or CPU
	// use over the limit) and the request fell in the share of its
	// criticality the shedder sheds.
	ReasonOverload = "overload"
	// ReasonQueueFull: every slot was busy and the queue was full.
	ReasonQueueFull = "queue_full"
	// ReasonQueueTimeout: the request waited MaxWait in the queue without
	// getting a slot.
	ReasonQueueTimeout = "queue_timeout"
)

// Rejection is the error a [Shedder] returns for a request it sheds. Each
// shedder builds one per criticality and reason when it is created, so
// shedding allocates nothing; treat it as read-only. It unwraps to ErrShed,
// so errors.Is(err, core.ErrRejected) holds, and core.RetryAfter finds its
// retry-after.
type Rejection struct {
	// Criticality is the criticality of the request that was shed.
	Criticality Criticality
	// Reason is why: ReasonOverload, ReasonQueueFull or ReasonQueueTimeout.
	Reason string

	msg        string
	retryAfter time.Duration
}

func newRejection(c Criticality, reason string, retryAfter time.Duration) *Rejection {
	return &Rejection{
		Criticality: c,
		Reason:      reason,
		msg:         "shed: " + c.String() + " request shed (" + reason + ")",
		retryAfter:  retryAfter,
	}
}

// Error returns a message naming the criticality and the reason.
func (e *Rejection) Error() string { return e.msg }

// Unwrap returns ErrShed.
func (e *Rejection) Unwrap() error { return ErrShed }

// RetryAfter returns how long the client should wait before trying again:
// the shedder's Config.RetryAfter.
func (e *Rejection) RetryAfter() time.Duration { return e.retryAfter }

// ErrorType returns "load_shed", for the OTel error.type attribute.
func (e *Rejection) ErrorType() string { return ErrShed.ErrorType() }
