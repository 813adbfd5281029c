package shed

import (
	"context"
	"time"
)

// waiter is a request queued in Acquire.
type waiter struct {
	ready   chan struct{} // closed when the waiter is given a slot
	since   time.Time     // when it queued
	granted bool          // guarded by Shedder.mu
}

// Ticket is a request's admission by Acquire. Call Done exactly once when
// the request ends, to give its slot back. The zero Ticket's Done does
// nothing.
type Ticket struct {
	s *Shedder
}

// Done gives the ticket's slot to the most critical request waiting for
// one (the longest waiting of them), or frees it.
func (t Ticket) Done() {
	if t.s == nil {
		return
	}
	t.s.release()
}

// Acquire admits a request of criticality c or sheds it, at the time of
// the clock. It first makes the shedding decision of AllowAt; then, with
// MaxInFlight set, it takes a slot, waiting in the queue for one when all
// are busy: critical requests are served first, then default, then
// sheddable ones, each in arrival order. The time a request waited is the
// queue delay the shedder watches (0 for one that found a free slot). It
// returns a *Rejection (ReasonOverload, ReasonQueueFull, ReasonQueueTimeout)
// for a shed request, or ctx.Err() when ctx ends while the request waits.
// Only a request that waits takes the lock's slow path, allocates its queue
// entry and starts a timer.
func (s *Shedder) Acquire(ctx context.Context, c Criticality) (Ticket, error) {
	now := time.Now()
	if err := s.AllowAt(now, c); err != nil {
		return Ticket{}, err
	}
	if s.cfg.MaxInFlight == 0 {
		return Ticket{}, nil
	}
	r := c.rank()
	s.mu.Lock()
	if s.inFlight < s.cfg.MaxInFlight {
		s.inFlight++
		s.closeIntervalsLocked(now)
		s.observeLocked(0)
		s.mu.Unlock()
		return Ticket{s: s}, nil
	}
	if s.queued >= s.cfg.MaxQueue {
		s.mu.Unlock()
		s.shedAfterAdmit(r)
		return Ticket{}, s.rejections[r][1]
	}
	w := &waiter{ready: make(chan struct{}), since: now}
	s.queues[r] = append(s.queues[r], w)
	s.queued++
	s.mu.Unlock()

	timer := time.NewTimer(s.cfg.MaxWait)
	defer timer.Stop()
	var err error
	select {
	case <-w.ready:
	case <-ctx.Done():
		err = ctx.Err()
	case <-timer.C:
		err = s.rejections[r][2]
	}
	s.mu.Lock()
	if !w.granted {
		s.removeLocked(r, w)
		s.mu.Unlock()
		if _, shed := err.(*Rejection); shed {
			s.shedAfterAdmit(r)
		}
		return Ticket{}, err
	}
	// Granted, possibly just as ctx ended or the timer fired: the slot is
	// ours, so the request goes ahead.
	end := time.Now()
	s.closeIntervalsLocked(end)
	s.observeLocked(end.Sub(w.since))
	s.mu.Unlock()
	return Ticket{s: s}, nil
}

// shedAfterAdmit moves a request that AllowAt admitted to the shed count.
func (s *Shedder) shedAfterAdmit(r int) {
	s.admitted[r].Add(^uint64(0))
	s.shed[r].Add(1)
}

// observeLocked records a queue delay in the current interval.
func (s *Shedder) observeLocked(delay time.Duration) {
	delay = max(delay, 0)
	s.served++
	if !s.haveDelay || delay < s.minDelay {
		s.minDelay, s.haveDelay = delay, true
	}
}

// removeLocked takes w out of the queue of rank r.
func (s *Shedder) removeLocked(r int, w *waiter) {
	q := s.queues[r]
	for i, x := range q {
		if x == w {
			copy(q[i:], q[i+1:])
			q[len(q)-1] = nil
			s.queues[r] = q[:len(q)-1]
			s.queued--
			return
		}
	}
}

// release hands a slot to the first waiter of the highest rank, or frees it.
func (s *Shedder) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for r := numRanks - 1; r >= 0; r-- {
		q := s.queues[r]
		if len(q) == 0 {
			continue
		}
		w := q[0]
		copy(q, q[1:])
		q[len(q)-1] = nil
		s.queues[r] = q[:len(q)-1]
		s.queued--
		w.granted = true
		close(w.ready)
		return
	}
	if s.inFlight > 0 {
		s.inFlight--
	}
}
