package fleet

import (
	"context"
	"errors"

	"github.com/breakerbox/breakerbox/core"
)

// Agent is a registry's membership in a fleet, made by Join. It heartbeats,
// publishes the verdicts of the registry's guards, adopts the fleet's
// verdicts by each guard's rule, coordinates half-open probes with a lease,
// applies fleet-wide operator actions and serves global rate limits. Every
// store call runs in the agent's own goroutines, behind a timeout and a
// breaker of its own: no call of a guard ever waits for the store.
//
// An Agent is safe for concurrent use. Close detaches it.
type Agent struct {
	reg   *core.Registry
	store Store
	cfg   config
}

// Join attaches reg to the fleet that shares store and returns its agent.
// It installs hooks on reg (through AddHooks) and a probe gate on each of
// its guards, starts the agent's goroutines and returns at once: the first
// reconcile happens in the background, so Join never waits for the store.
// It fails only on bad arguments (a nil registry or store).
//
// The agent never closes store; close it after Agent.Close.
func Join(reg *core.Registry, store Store, opts ...Option) (*Agent, error) {
	if reg == nil {
		return nil, errors.New("fleet: Join: nil registry")
	}
	if store == nil {
		return nil, errors.New("fleet: Join: nil store")
	}
	return &Agent{reg: reg, store: store, cfg: newConfig(opts)}, nil
}

// Snapshot returns what the replica knows of its fleet now: itself, the
// live members, the fleet's view of each guard with votes, a lease or an
// override, the overrides in force and the store's health. It reads only
// the agent's memory, never the store.
func (a *Agent) Snapshot() Snapshot { return Snapshot{} }

// Act takes a fleet-wide operator action: it takes a version from the
// store (NextVersion), stores the override under its target, applies it
// to this replica's guards with o.Actor and o.Reason, and returns it with
// its Version and By set. Every other replica applies it (with actor
// "fleet:" + o.Actor) on the store's hint or at its next reconcile, those
// that join later included. ActionRelease ends the manual state the
// target's previous action set, on every replica.
//
// Act calls the store, so it waits (up to the store timeout for each call);
// it fails when the store cannot be reached, without applying anything, or
// when o is invalid (an empty Actor, an unknown Action, a Target that
// core.ParseSelector refuses). Audit the action once, where Act is called.
func (a *Agent) Act(ctx context.Context, o Override) (Override, error) {
	return Override{}, errors.New("fleet: not implemented")
}

// Health returns the store's health as this replica sees it, with the
// agent's counters.
func (a *Agent) Health() StoreHealth { return StoreHealth{} }

// Close detaches the agent: it removes its hooks and probe gates, stops
// its goroutines and deletes this replica's member record and votes (with
// the store timeout; a store that cannot be reached lets them expire). The
// registry's guards keep their states. Close is idempotent.
func (a *Agent) Close() error { return nil }
