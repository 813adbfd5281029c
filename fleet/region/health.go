package region

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// errStoreOpen is what a store call returns while its breaker rejects
// calls.
var errStoreOpen = errors.New("region: store breaker open")

// StoreHealth is one store's health as an Agent or a Relay sees it. A
// store being down degrades the multi-region view; it never fails a guard.
type StoreHealth struct {
	// Region is the region whose store this is.
	Region string `json:"region"`
	// Up is false while calls to the store fail or its breaker is open.
	Up bool `json:"up"`
	// LastError is the last error, empty when none.
	LastError string `json:"lastError,omitempty"`
	// Since is when Up last changed.
	Since time.Time `json:"since"`
	// Errors counts failed calls, Timeouts among them those that ran out
	// of their timeout; Skipped counts calls not made because the store's
	// breaker was open.
	Errors   uint64 `json:"errors"`
	Timeouts uint64 `json:"timeouts"`
	Skipped  uint64 `json:"skipped"`
}

// Health is a region agent's health: its region's store and, with
// WithRelay, the relay running in the same process.
type Health struct {
	// Store is the region's own store, as the agent reaches it.
	Store StoreHealth `json:"store"`
	// Relay is the relay's health, nil without WithRelay.
	Relay *RelayHealth `json:"relay,omitempty"`
	// Malformed counts summaries that could not be read.
	Malformed uint64 `json:"malformed"`
	// GlobalOpens counts the global opens this replica made.
	GlobalOpens uint64 `json:"globalOpens"`
	// Held counts the guards this replica holds open now because enough
	// regions report them open.
	Held int `json:"held"`
}

// Up reports whether the region store and every relay link are up.
func (h Health) Up() bool {
	if !h.Store.Up {
		return false
	}
	return h.Relay == nil || h.Relay.Up()
}

// RelayHealth is a relay's health: one link per region store it reaches,
// and its counters.
type RelayHealth struct {
	// Links are the regions' stores, by region.
	Links []StoreHealth `json:"links"`
	RelayStats
}

// Up reports whether every link is up.
func (h RelayHealth) Up() bool {
	for _, l := range h.Links {
		if !l.Up {
			return false
		}
	}
	return true
}

// link runs the calls to one store: each with a timeout, behind a breaker
// of its own (as the fleet agent's store calls), recording the store's
// health. It is safe for concurrent use.
type link struct {
	region  string
	timeout time.Duration
	sb      *breaker.Breaker

	// Atomic.
	up       atomic.Bool
	errs     atomic.Uint64
	timeouts atomic.Uint64
	skipped  atomic.Uint64

	// Guarded by mu.
	mu      sync.Mutex
	lastErr string
	since   time.Time
}

func newLink(region string, timeout time.Duration) (*link, error) {
	sb, err := breaker.New(breaker.Config{
		ConsecutiveFailures: 3,
		DisableFailureRate:  true,
		OpenDuration:        max(10*timeout, time.Second),
		OpenBackoff:         1,
		ProbeTimeout:        2 * timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("region: store breaker of %q: %w", region, err)
	}
	l := &link{region: region, timeout: timeout, sb: sb, since: time.Now()}
	l.up.Store(true)
	return l, nil
}

// call runs fn with the timeout, behind the breaker.
func (l *link) call(ctx context.Context, fn func(context.Context) error) error {
	p, err := l.sb.Allow(ctx)
	if err != nil {
		l.skipped.Add(1)
		l.record(errStoreOpen)
		return errStoreOpen
	}
	c, cancel := context.WithTimeout(ctx, l.timeout)
	err = fn(c)
	cancel()
	if err != nil && ctx.Err() != nil {
		p.Done(context.Canceled) // closing: not the store's fault
		return err
	}
	p.Done(err)
	if err != nil {
		l.errs.Add(1)
		if errors.Is(err, context.DeadlineExceeded) {
			l.timeouts.Add(1)
		}
	}
	l.record(err)
	return err
}

func (l *link) record(err error) {
	ok := err == nil
	if ok && l.up.Load() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok != l.up.Load() {
		l.since = time.Now()
		l.up.Store(ok)
	}
	if err != nil {
		l.lastErr = err.Error()
	}
}

func (l *link) health() StoreHealth {
	l.mu.Lock()
	h := StoreHealth{Region: l.region, Up: l.up.Load(), LastError: l.lastErr, Since: l.since}
	l.mu.Unlock()
	if h.Up && l.sb.State() != breaker.Closed {
		h.Up = false
	}
	h.Errors, h.Timeouts, h.Skipped = l.errs.Load(), l.timeouts.Load(), l.skipped.Load()
	return h
}
