package sim

import (
	"time"

	"github.com/breakerbox/breakerbox/core/adaptive"
	"github.com/breakerbox/breakerbox/shed"
)

// NoLimit admits every request.
type NoLimit struct{}

// Admit admits.
func (NoLimit) Admit(time.Time, shed.Criticality) (any, bool) { return nil, true }

// Done does nothing.
func (NoLimit) Done(time.Time, any, time.Duration, bool) {}

// Waited does nothing.
func (NoLimit) Waited(time.Time, time.Duration) {}

// Limit returns 0: no limit.
func (NoLimit) Limit() int { return 0 }

// Static is a bulkhead with a fixed limit and no queue: a request that
// finds Max requests in the service is rejected.
type Static struct {
	Max      int
	inflight int
}

// Admit admits a request while fewer than Max are in the service.
func (s *Static) Admit(time.Time, shed.Criticality) (any, bool) {
	if s.inflight >= s.Max {
		return nil, false
	}
	s.inflight++
	return nil, true
}

// Done frees the request's slot.
func (s *Static) Done(time.Time, any, time.Duration, bool) { s.inflight-- }

// Waited does nothing.
func (s *Static) Waited(time.Time, time.Duration) {}

// Limit returns Max.
func (s *Static) Limit() int { return s.Max }

// Adaptive is a bulkhead whose limit an adaptive.Limiter sets: a request
// is admitted while fewer than the current limit are in the service, and
// each completion is recorded (its RTT, the requests in flight, and
// whether it missed its deadline).
type Adaptive struct {
	L        *adaptive.Limiter
	inflight int
}

// NewAdaptive returns an Adaptive limiter over alg, with w's windows.
func NewAdaptive(alg adaptive.Algorithm, w adaptive.Window) (*Adaptive, error) {
	l, err := adaptive.NewLimiter(alg, w)
	if err != nil {
		return nil, err
	}
	return &Adaptive{L: l}, nil
}

// Admit admits a request while fewer than the limit are in the service.
func (a *Adaptive) Admit(time.Time, shed.Criticality) (any, bool) {
	if a.inflight >= a.L.Limit() {
		return nil, false
	}
	a.inflight++
	return nil, true
}

// Done records the completion and frees the slot.
func (a *Adaptive) Done(now time.Time, _ any, rtt time.Duration, dropped bool) {
	a.L.Record(now, rtt, a.inflight, dropped)
	a.inflight--
}

// Waited does nothing: the algorithms see the RTT, queueing included.
func (a *Adaptive) Waited(time.Time, time.Duration) {}

// Limit returns the current limit.
func (a *Adaptive) Limit() int { return a.L.Limit() }

// Shed puts a shed.Shedder in front of the service: each request is
// decided by AllowAt with its criticality, and the service's queue reports
// each request's wait to ObserveAt (the CoDel signal).
type Shed struct{ S *shed.Shedder }

// Admit asks the shedder.
func (s Shed) Admit(now time.Time, c shed.Criticality) (any, bool) {
	return nil, s.S.AllowAt(now, c) == nil
}

// Done does nothing: the shedder watches the queue, not the RTT.
func (s Shed) Done(time.Time, any, time.Duration, bool) {}

// Waited reports the queue delay to the shedder.
func (s Shed) Waited(now time.Time, wait time.Duration) { s.S.ObserveAt(now, wait) }

// Limit returns 0: the shedder has no concurrency limit.
func (s Shed) Limit() int { return 0 }
