package sim

import (
	"time"

	"github.com/breakerbox/breakerbox/core/adaptive"
	"github.com/breakerbox/breakerbox/core/bulkhead"
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

// Static is core/bulkhead's Bulkhead with a fixed limit and no queue: a
// request that finds every slot taken is rejected.
type Static struct {
	B   *bulkhead.Bulkhead
	max int
}

// NewStatic returns a Static limiter of max slots.
func NewStatic(max int) (*Static, error) {
	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: max})
	if err != nil {
		return nil, err
	}
	return &Static{B: b, max: max}, nil
}

// Admit takes a slot if one is free.
func (s *Static) Admit(time.Time, shed.Criticality) (any, bool) { return nil, s.B.TryAcquire() }

// Done gives the slot back.
func (s *Static) Done(time.Time, any, time.Duration, bool) { s.B.Release() }

// Waited does nothing.
func (s *Static) Waited(time.Time, time.Duration) {}

// Limit returns the fixed limit.
func (s *Static) Limit() int { return s.max }

// Adaptive is what core's adaptive bulkhead is: a core/bulkhead Bulkhead
// without a queue whose limit an adaptive.Limiter sets (bulkhead.SetLimit).
// Each completion is recorded: its RTT, the requests in flight, and
// whether it missed its deadline. (A guard records one call in four, picked
// at random; the simulation records every call, so that it needs no
// randomness of its own.)
type Adaptive struct {
	B        *bulkhead.Bulkhead
	L        *adaptive.Limiter
	inflight int
}

// NewAdaptive returns an Adaptive limiter over alg, with w's windows.
func NewAdaptive(alg adaptive.Algorithm, w adaptive.Window) (*Adaptive, error) {
	l, err := adaptive.NewLimiter(alg, w)
	if err != nil {
		return nil, err
	}
	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: l.Limit()})
	if err != nil {
		return nil, err
	}
	return &Adaptive{B: b, L: l}, nil
}

// Admit takes a slot if one is free under the current limit.
func (a *Adaptive) Admit(time.Time, shed.Criticality) (any, bool) {
	if !a.B.TryAcquire() {
		return nil, false
	}
	a.inflight++
	return nil, true
}

// Done records the completion, applies a new limit, and gives the slot
// back.
func (a *Adaptive) Done(now time.Time, _ any, rtt time.Duration, dropped bool) {
	if limit, changed := a.L.Record(now, rtt, a.inflight, dropped); changed {
		_ = a.B.SetLimit(limit) // within the algorithm's bounds, which bulkhead accepts
	}
	a.inflight--
	a.B.Release()
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
