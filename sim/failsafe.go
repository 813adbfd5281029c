package sim

import (
	"time"

	"github.com/failsafe-go/failsafe-go/adaptivelimiter"

	"github.com/breakerbox/breakerbox/shed"
)

// Failsafe is failsafe-go's adaptivelimiter (without queueing: a request
// that finds the limit reached is rejected, as with the other limiters).
//
// failsafe-go reads the wall clock (time.Now) itself, so Failsafe follows
// the simulation's virtual time by sleeping up to each event: use it only
// inside a testing/synctest bubble, where time.Sleep moves a fake clock
// at once, and create it at the bubble's start.
type Failsafe struct {
	L     adaptivelimiter.AdaptiveLimiter[any]
	epoch time.Time // the bubble's clock at Start
}

// NewFailsafe returns failsafe-go's adaptive limiter with its defaults
// (limits 1 to 200, starting at 20). Call it inside a synctest bubble.
func NewFailsafe() *Failsafe {
	return &Failsafe{L: adaptivelimiter.NewWithDefaults[any](), epoch: time.Now()}
}

// advance sleeps until the bubble's clock shows now.
func (f *Failsafe) advance(now time.Time) {
	if d := f.epoch.Add(now.Sub(Start)).Sub(time.Now()); d > 0 {
		time.Sleep(d)
	}
}

// Admit tries to take a permit.
func (f *Failsafe) Admit(now time.Time, _ shed.Criticality) (any, bool) {
	f.advance(now)
	p, ok := f.L.TryAcquirePermit()
	return p, ok
}

// Done records the completion (or drops it when it missed its deadline).
func (f *Failsafe) Done(now time.Time, token any, _ time.Duration, dropped bool) {
	f.advance(now)
	p := token.(adaptivelimiter.Permit)
	if dropped {
		p.Drop()
		return
	}
	p.Record()
}

// Waited does nothing.
func (f *Failsafe) Waited(time.Time, time.Duration) {}

// Limit returns the current limit.
func (f *Failsafe) Limit() int { return f.L.Limit() }
