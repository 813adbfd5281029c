package rivermw

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// QueueController is the part of *river.Client a Pauser uses; a
// *river.Client has it whatever its driver.
type QueueController interface {
	QueueGet(ctx context.Context, name string) (*rivertype.Queue, error)
	QueuePause(ctx context.Context, name string, opts *river.QueuePauseOpts) error
	QueueResume(ctx context.Context, name string, opts *river.QueuePauseOpts) error
}

const (
	// DefaultPauseRetry is how long a Pauser waits before trying again
	// after the database refused a pause or a resume (or the queue did not
	// exist yet).
	DefaultPauseRetry = time.Second
	// DefaultCallTimeout bounds each call a Pauser makes to the database.
	DefaultCallTimeout = 10 * time.Second
)

// Pauser pauses River queues while their guards reject calls, so that
// clients stop fetching jobs that would only be snoozed, and resumes them
// when the guards probe again.
//
// A queue is paused while any of its guards is open or forced open, and
// resumed when they all are half-open, closed, disabled or metrics-only.
// Half-open resumes on purpose: the probes that can close the breaker are
// the queue's own jobs (Middleware snoozes the ones the probe limit turns
// away), so a queue kept paused through half-open would never recover.
//
// The pauser subscribes to the registry's state changes; its hook only
// wakes Run, which reads the guards' present states and applies them to
// the database on its own goroutine, retrying failed calls, so that state
// changes never wait for the database. Run also applies the present states
// when it starts: a queue whose guards admit calls, found paused (left so
// by a process that stopped while a guard was open), is resumed. Queues
// are the Pauser's alone to pause and resume; an operator's own pause of
// one of them lasts only until its guard next changes state.
//
// A pause is River's: it is stored in the database and holds for every
// client working the queue. The client the Pauser is given stops fetching
// at once; other clients learn of it from their notifier (Postgres's
// LISTEN/NOTIFY, the notification table of River's SQLite driver) or, in
// poll-only mode (Config.PollOnly, or a driver without a listener), at their
// next poll of the queue's settings (every few seconds). Jobs fetched in
// between are snoozed by Middleware. Since guards are local to a process, run one
// Pauser per queue, in one process, or accept that a process starting with
// its guards closed resumes a queue another process paused.
type Pauser struct {
	removeHooks func() // detaches from the registry on Close
	reg         *core.Registry
	client      QueueController
	queues      map[string][]string // guard → queues
	names       []string            // every queue, sorted
	retry       time.Duration
	callTimeout time.Duration

	wake chan struct{} // a state change of one of the guards (buffered, 1)

	// Owned by Run.
	applied map[string]bool // queue → paused, as last applied

	pauses, resumes, failures atomic.Uint64
	lastErr                   atomic.Pointer[error]
}

// PauserStats counts a Pauser's work.
type PauserStats struct {
	// Pauses and Resumes count the calls that succeeded.
	Pauses, Resumes uint64
	// Failures counts calls the database refused (they are retried).
	Failures uint64
	// LastError is the last refusal, nil if none.
	LastError error
}

// NewPauser returns a Pauser for the River queues of each guard in
// guardQueues (guard name → queue names; with Middleware's default names a
// guard is named after a job kind) and subscribes it to reg's state
// changes. Call Run to apply them. River's special queue name "*" (every
// queue) is refused: name the queues.
func NewPauser(reg *core.Registry, client QueueController, guardQueues map[string][]string) (*Pauser, error) {
	if reg == nil {
		return nil, errors.New("rivermw: NewPauser: reg is nil")
	}
	if client == nil {
		return nil, errors.New("rivermw: NewPauser: client is nil")
	}
	p := &Pauser{
		reg: reg, client: client, queues: make(map[string][]string),
		retry: DefaultPauseRetry, callTimeout: DefaultCallTimeout,
		wake: make(chan struct{}, 1), applied: make(map[string]bool),
	}
	for g, qs := range guardQueues {
		if g == "" {
			return nil, errors.New("rivermw: NewPauser: guardQueues: a guard name is empty")
		}
		for _, q := range qs {
			switch q {
			case "":
				return nil, fmt.Errorf("rivermw: NewPauser: guardQueues[%q]: a queue name is empty", g)
			case "*":
				return nil, fmt.Errorf("rivermw: NewPauser: guardQueues[%q]: queue name %q (every queue) is not supported; name the queues", g, q)
			}
			if !slices.Contains(p.names, q) {
				p.names = append(p.names, q)
			}
		}
		p.queues[g] = slices.Clone(qs)
	}
	slices.Sort(p.names)
	p.removeHooks = reg.AddHooks(core.Hooks{OnStateChange: p.onStateChange})
	return p, nil
}

// Close detaches the Pauser from the registry's state changes. Call it
// after Run has returned, when the Pauser is no longer needed.
func (p *Pauser) Close() { p.removeHooks() }

func (p *Pauser) onStateChange(_ context.Context, e core.StateChange) {
	if _, ok := p.queues[e.Guard]; !ok {
		return
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// stops reports whether the guard named g, if it exists, rejects every
// call.
func (p *Pauser) stops(g string) bool {
	guard, ok := p.reg.Lookup(g)
	if !ok {
		return false
	}
	s := guard.Breaker().State()
	return s == breaker.Open || s == breaker.ForcedOpen
}

// want returns each queue's wanted state: paused if any guard of it stops.
// It reads the guards' present states, so a late or lost wake-up never
// leaves a stale state behind.
func (p *Pauser) want() map[string]bool {
	w := make(map[string]bool, len(p.names))
	for g, qs := range p.queues {
		stop := p.stops(g)
		for _, q := range qs {
			w[q] = w[q] || stop
		}
	}
	return w
}

// Run applies the wanted states until ctx ends, then returns ctx.Err().
// Call it once.
func (p *Pauser) Run(ctx context.Context) error {
	timer := time.NewTimer(0) // apply the present states at once
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.wake:
		case <-timer.C:
		}
		if !p.apply(ctx) {
			timer.Reset(p.retry)
		}
	}
}

// apply brings every queue to its wanted state; it reports whether every
// call succeeded.
func (p *Pauser) apply(ctx context.Context) bool {
	ok := true
	w := p.want()
	for _, q := range p.names {
		paused := w[q]
		if have, known := p.applied[q]; known && have == paused {
			continue
		}
		if err := p.set(ctx, q, paused); err != nil {
			if ctx.Err() != nil {
				return false
			}
			ok = false
			p.failures.Add(1)
			err = fmt.Errorf("rivermw: pauser: queue %q: %w", q, err)
			p.lastErr.Store(&err)
			continue
		}
		p.applied[q] = paused
	}
	return ok
}

// set pauses or resumes q. A queue met for the first time with its guards
// admitting is resumed only if it is paused, so a queue never paused is
// left alone; a queue River does not know yet (no client has worked it)
// cannot be paused, which is an error retried later, and needs no resume.
func (p *Pauser) set(ctx context.Context, q string, paused bool) error {
	ctx, cancel := context.WithTimeout(ctx, p.callTimeout)
	defer cancel()
	if !paused {
		if _, known := p.applied[q]; !known {
			info, err := p.client.QueueGet(ctx, q)
			if errors.Is(err, rivertype.ErrNotFound) || (err == nil && info.PausedAt == nil) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		if err := p.client.QueueResume(ctx, q, nil); err != nil {
			if errors.Is(err, rivertype.ErrNotFound) {
				return nil // gone (River deletes unused queues): nothing is paused
			}
			return err
		}
		p.resumes.Add(1)
		return nil
	}
	if err := p.client.QueuePause(ctx, q, nil); err != nil {
		return err
	}
	p.pauses.Add(1)
	return nil
}

// Stats returns the pauser's counters.
func (p *Pauser) Stats() PauserStats {
	s := PauserStats{Pauses: p.pauses.Load(), Resumes: p.resumes.Load(), Failures: p.failures.Load()}
	if e := p.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}
