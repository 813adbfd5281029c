package fleet

import (
	"context"
	"errors"
	"time"
)

// Kind names a family of keys in a Store. A backend keeps each kind apart
// (a key prefix, a bucket) so that List of one kind never sees another's.
type Kind string

// The kinds Join uses.
const (
	// KindMember holds one entry per replica: its Member record, written
	// with a TTL and refreshed by the replica's heartbeat.
	KindMember Kind = "member"
	// KindVerdict holds one entry per (guard, replica): the replica's
	// verdict on the guard (its local state, its window counts), written
	// with a TTL and refreshed while it holds.
	KindVerdict Kind = "verdict"
	// KindLease holds one entry per guard: the half-open probe lease.
	KindLease Kind = "lease"
	// KindOverride holds one entry per operator target: the latest
	// fleet-wide operator action, versioned.
	KindOverride Kind = "override"
)

// Entry is a key and its value as a Store holds them. Revision is the
// backend's version of the value (a NATS KV revision, a Redis counter); it
// only orders writes of one key and is never compared across keys.
type Entry struct {
	Key      string
	Value    []byte
	Revision uint64
}

// Hint tells a watcher that something changed. Hints are only hints: a
// backend may lose, merge or repeat them, and a watcher must re-read the
// store (List) rather than trust a hint's content. Resync asks for a full
// reconcile: a backend sends it whenever it (re)subscribes, because hints
// sent while it was not subscribed are lost.
type Hint struct {
	Kind   Kind
	Key    string
	Resync bool
}

// Store is the contract a fleet backend implements: a small key-value store
// with server-side expiry, create-if-absent and compare-and-swap, a version
// counter and change hints. Join puts every call behind its own timeout and
// breaker, so a Store only has to honour ctx; it must never block past ctx's
// deadline.
//
// Expiry is the server's: a TTL is a duration handed to the server, never a
// wall-clock time compared across hosts. A ttl of zero means no expiry.
//
// Values are opaque to the backend: Join encodes and decodes them (see
// Verdict, Lease, Override, Member) and counts the ones it cannot read, so a
// foreign or malformed value in the store is Join's problem, not the
// backend's.
type Store interface {
	// Put sets key to value with the given TTL, whatever it held before.
	Put(ctx context.Context, kind Kind, key string, value []byte, ttl time.Duration) error
	// Create sets key to value with the given TTL only if key is absent
	// (or expired). It reports whether it did; when it did not, cur is the
	// entry present.
	Create(ctx context.Context, kind Kind, key string, value []byte, ttl time.Duration) (created bool, cur Entry, err error)
	// CompareAndPut sets key to value with the given TTL only if key still
	// holds old (byte for byte). It reports whether it did.
	CompareAndPut(ctx context.Context, kind Kind, key string, old, value []byte, ttl time.Duration) (bool, error)
	// CompareAndDelete deletes key only if it still holds old. It reports
	// whether it did.
	CompareAndDelete(ctx context.Context, kind Kind, key string, old []byte) (bool, error)
	// Delete deletes key; deleting an absent key is not an error.
	Delete(ctx context.Context, kind Kind, key string) error
	// Get returns key's entry; ok is false when it is absent or expired.
	Get(ctx context.Context, kind Kind, key string) (e Entry, ok bool, err error)
	// List returns every unexpired entry of kind, in no particular order.
	List(ctx context.Context, kind Kind) ([]Entry, error)
	// NextVersion returns the next value of a fleet-wide counter that
	// never goes back (1, 2, 3...), for versioning operator actions.
	NextVersion(ctx context.Context) (uint64, error)
	// Watch sends hints to fn until ctx ends or the subscription is lost,
	// and returns the reason (ctx.Err() when ctx ended). It sends a Resync
	// hint first, once subscribed. fn must not block; Join calls Watch again
	// after it returns, with backoff.
	Watch(ctx context.Context, fn func(Hint)) error
	// Close releases the backend's connections. Join never closes a Store
	// it was given.
	Close() error
}

// Rate is a global rate limit: Limit calls per Period, with bursts of up to
// Burst calls (Burst 0 means Limit).
type Rate struct {
	Limit  int
	Period time.Duration
	Burst  int
}

// RateStore is implemented by backends that can run a global rate limit on
// the server's clock (Redis: GCRA in one Lua script). A backend that cannot
// (NATS KV has no server clock to compute with) does not implement it, and
// Join's global limits then run at their local share.
type RateStore interface {
	// Take asks for up to n calls of key under rate, on the server's clock,
	// and returns how many were granted (0..n) and, when fewer than n were,
	// how long until one more would be.
	Take(ctx context.Context, key string, rate Rate, n int) (granted int, retryAfter time.Duration, err error)
}

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("fleet: store closed")
