package queue

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Inspector is the part of *asynq.Inspector a Pauser uses.
type Inspector interface {
	PauseQueue(queue string) error
	UnpauseQueue(queue string) error
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

// DefaultPauseRetry is how long a Pauser waits before trying again after
// Redis refused a pause or unpause.
const DefaultPauseRetry = time.Second

// Pauser pauses asynq queues while their guards reject calls, so that
// workers stop taking tasks that would only be deferred, and resumes them
// when the guards probe again.
//
// A queue is paused while any of its guards is open or forced open, and
// resumed when they all are half-open, closed, disabled or metrics-only.
// Half-open resumes on purpose: the probes that can close the breaker are
// the queue's own tasks (Middleware defers the ones the probe limit turns
// away), so a queue kept paused through half-open would never recover.
//
// The pauser subscribes to the registry's state changes; its hook only
// records the wanted state, and Run applies it to Redis on its own
// goroutine, retrying failed calls, so that state changes never wait for
// Redis. Run also applies the guards' present states when it starts: a
// queue of a guard that admits calls, found paused (left so by a process
// that stopped while the guard was open), is resumed. Queues are the
// Pauser's alone to pause and resume; an operator's own pause of one of them
// lasts only until its guard next changes state.
type Pauser struct {
	removeHooks func() // detaches from the registry on Close
	reg         *core.Registry
	insp        Inspector
	queues      map[string][]string // guard → queues
	retry       time.Duration

	mu      sync.Mutex
	open    map[string]bool // guard → rejecting
	applied map[string]bool // queue → paused, as last applied
	wake    chan struct{}

	pauses, unpauses, failures atomic.Uint64
	lastErr                    atomic.Pointer[error]
}

// PauserStats counts a Pauser's work.
type PauserStats struct {
	// Pauses and Unpauses count the calls that succeeded.
	Pauses, Unpauses uint64
	// Failures counts calls Redis refused (they are retried).
	Failures uint64
	// LastError is the last refusal, nil if none.
	LastError error
}

// NewPauser returns a Pauser for the queues of each guard in guardQueues
// (guard name → asynq queue names) and subscribes it to reg's state
// changes. Call Run to apply them.
func NewPauser(reg *core.Registry, insp Inspector, guardQueues map[string][]string) (*Pauser, error) {
	if reg == nil || insp == nil {
		return nil, errors.New("queue: registry and inspector are required")
	}
	p := &Pauser{
		reg: reg, insp: insp, queues: make(map[string][]string), retry: DefaultPauseRetry,
		open: make(map[string]bool), applied: make(map[string]bool), wake: make(chan struct{}, 1),
	}
	for g, qs := range guardQueues {
		if g == "" {
			return nil, errors.New("queue: guardQueues: a guard name is empty")
		}
		for _, q := range qs {
			if q == "" {
				return nil, fmt.Errorf("queue: guardQueues: %q: a queue name is empty", g)
			}
		}
		p.queues[g] = slices.Clone(qs)
	}
	p.removeHooks = reg.AddHooks(core.Hooks{OnStateChange: p.onStateChange})
	return p, nil
}

// Close detaches the Pauser from the registry's state changes. Call it
// after Run has returned, when the Pauser is no longer needed.
func (p *Pauser) Close() { p.removeHooks() }

func stops(s breaker.State) bool { return s == breaker.Open || s == breaker.ForcedOpen }

func (p *Pauser) onStateChange(_ context.Context, e core.StateChange) {
	if _, ok := p.queues[e.Guard]; !ok {
		return
	}
	p.mu.Lock()
	p.open[e.Guard] = stops(e.To)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// want returns each queue's wanted state: paused if any guard of it stops.
func (p *Pauser) want() map[string]bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := make(map[string]bool)
	for g, qs := range p.queues {
		for _, q := range qs {
			w[q] = w[q] || p.open[g]
		}
	}
	return w
}

// Run applies the wanted states until ctx ends, then returns ctx.Err().
// It first reads the present state of every guard that exists.
func (p *Pauser) Run(ctx context.Context) error {
	p.mu.Lock()
	for g := range p.queues {
		if guard, ok := p.reg.Lookup(g); ok {
			p.open[g] = stops(guard.Breaker().State())
		}
	}
	p.mu.Unlock()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.wake:
		case <-timer.C:
		}
		if !p.apply() {
			timer.Reset(p.retry)
		}
	}
}

// apply brings every queue to its wanted state; it reports whether all
// calls succeeded.
func (p *Pauser) apply() bool {
	ok := true
	w := p.want()
	names := make([]string, 0, len(w))
	for q := range w {
		names = append(names, q)
	}
	sort.Strings(names)
	for _, q := range names {
		paused := w[q]
		p.mu.Lock()
		have, known := p.applied[q]
		p.mu.Unlock()
		if known && have == paused {
			continue
		}
		if !known && !paused {
			// Never paused by us: leave it, unless it is paused from a
			// previous run of this process (a restart while open).
			if info, err := p.insp.GetQueueInfo(q); err != nil || !info.Paused {
				p.mu.Lock()
				p.applied[q] = false
				p.mu.Unlock()
				continue
			}
		}
		if err := p.set(q, paused); err != nil {
			ok = false
			p.failures.Add(1)
			p.lastErr.Store(&err)
			continue
		}
		p.mu.Lock()
		p.applied[q] = paused
		p.mu.Unlock()
	}
	return ok
}

// set pauses or resumes q; asynq refuses to pause a paused queue (or
// resume a running one), which counts as done.
func (p *Pauser) set(q string, paused bool) error {
	var err error
	if paused {
		err = p.insp.PauseQueue(q)
	} else {
		err = p.insp.UnpauseQueue(q)
	}
	if err != nil {
		if info, ierr := p.insp.GetQueueInfo(q); ierr == nil && info.Paused == paused {
			return nil
		}
		return err
	}
	if paused {
		p.pauses.Add(1)
	} else {
		p.unpauses.Add(1)
	}
	return nil
}

// Stats returns the pauser's counters.
func (p *Pauser) Stats() PauserStats {
	s := PauserStats{Pauses: p.pauses.Load(), Unpauses: p.unpauses.Load(), Failures: p.failures.Load()}
	if e := p.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}
