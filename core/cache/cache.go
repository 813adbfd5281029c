package cache

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of [Config].
const (
	// DefaultMaxBytes bounds a cache whose Config.MaxBytes is 0: 64 MiB.
	DefaultMaxBytes = 64 << 20
	// EntryOverhead is the bytes each entry counts on top of its key and
	// the Size of its value: the entry, its map slot and its list links.
	EntryOverhead = 160
)

// Store is an optional second level behind a Cache, such as a Redis or
// fleet store shared by instances. Ages, not timestamps, cross the
// interface, so that no two hosts' clocks are ever compared. A Cache calls
// Set after every successful fill and Get when its own entry is missing, on
// the call's path: an implementation that talks to a network should answer
// Get from a local copy or with a short deadline, and queue its Sets.
type Store interface {
	// Get returns the value stored for key and its age, ok false when
	// there is none.
	Get(ctx context.Context, key string) (v any, age time.Duration, ok bool, err error)
	// Set stores v for key, age old.
	Set(ctx context.Context, key string, v any, age time.Duration) error
}

// Config configures a [Cache].
type Config struct {
	// MaxStaleness is the oldest a value may be and still answer a failed
	// call; required (above 0).
	MaxStaleness time.Duration
	// TTL, if set, lets a value younger than TTL answer a call without
	// calling the dependency (a fresh hit). 0 means every call fills, and
	// values answer only failed calls. At most MaxStaleness.
	TTL time.Duration
	// MaxEntries bounds the keys kept; required (at least 1). The least
	// recently used entry is evicted first.
	MaxEntries int
	// MaxBytes bounds the bytes the entries count (see EntryOverhead and
	// Size). 0 means DefaultMaxBytes.
	MaxBytes int64
	// Size returns the bytes a value counts; nil means DefaultSize. It must
	// not be negative.
	Size func(v any) int
	// Store, if set, backs the cache (see Store).
	Store Store
}

// Validate reports every invalid field of c, each named as its JSON name
// would be, joined with [errors.Join].
func (c Config) Validate() error {
	var errs []error
	if c.MaxStaleness <= 0 {
		errs = append(errs, fmt.Errorf("cache: maxStaleness: %v must be above 0", c.MaxStaleness))
	}
	if c.TTL < 0 || c.MaxStaleness > 0 && c.TTL > c.MaxStaleness {
		errs = append(errs, fmt.Errorf("cache: ttl: %v must be between 0 and maxStaleness (%v)", c.TTL, c.MaxStaleness))
	}
	if c.MaxEntries <= 0 {
		errs = append(errs, fmt.Errorf("cache: maxEntries: %d must be at least 1", c.MaxEntries))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("cache: maxBytes: %d must not be negative", c.MaxBytes))
	}
	return errors.Join(errs...)
}

// DefaultSize is the size of a value when Config.Size is nil: the length
// of a string or []byte plus its header, else the size of the value's type
// (what it points to is not counted).
func DefaultSize(v any) int {
	switch v := v.(type) {
	case string:
		return len(v) + 16
	case []byte:
		return cap(v) + 24
	case nil:
		return 0
	}
	return int(reflect.TypeOf(v).Size())
}

// ErrFillAbandoned is returned to callers that waited for a fill whose
// function panicked or exited its goroutine without returning.
var ErrFillAbandoned = errors.New("cache: the fill this call waited for was abandoned")

// ErrPass, returned by a fill (wrapped or not), answers the call with the
// fill's value and error as they are: nothing is kept and no stale value
// answers. Calls that shared the fill get the error. An adapter uses it for
// an answer it cannot keep (a response too long to buffer, a 404).
var ErrPass = errors.New("cache: answer passed through, not kept")

// Source says where an answer came from.
type Source uint8

const (
	// Called: the dependency answered this call.
	Called Source = iota
	// Shared: a concurrent fill of the same key answered it.
	Shared
	// Fresh: a value younger than the TTL answered it without a call.
	Fresh
	// Stale: the call failed and a value no older than MaxStaleness
	// answered it.
	Stale
)

// String returns "called", "shared", "fresh" or "stale".
func (s Source) String() string {
	switch s {
	case Called:
		return "called"
	case Shared:
		return "shared"
	case Fresh:
		return "fresh"
	case Stale:
		return "stale"
	}
	return fmt.Sprintf("Source(%d)", uint8(s))
}

// Answer describes how [Do] answered.
type Answer struct {
	Source Source
	// Age is the age of a cached answer (Fresh or Stale).
	Age time.Duration
	// Err is, for a Stale answer, the error it replaced.
	Err error
}

// IsStale reports whether the answer is a stale value.
func (a Answer) IsStale() bool { return a.Source == Stale }

// Stats are a Cache's counters and size.
type Stats struct {
	// Hits counts calls a fresh value answered.
	Hits uint64
	// Fills counts calls that ran the dependency.
	Fills uint64
	// Shared counts calls answered by a concurrent fill of their key.
	Shared uint64
	// StaleServed counts failed calls a stale value answered.
	StaleServed uint64
	// StaleMissing counts failed calls no usable value could answer.
	StaleMissing uint64
	// Evictions counts entries dropped to respect MaxEntries or MaxBytes.
	Evictions uint64
	// StoreErrors counts errors of the Store.
	StoreErrors uint64
	// Entries and Bytes are the cache's current size.
	Entries int
	Bytes   int64
}

// Cache keeps the last good value of each key, to answer calls that fail
// (stale-if-error) and, with a TTL, calls that come soon after a fill. It
// is bounded in entries and in bytes, evicting the least recently used
// entry; a value older than MaxStaleness never answers. Concurrent calls
// for one key that find no fresh value share one fill: the dependency runs
// once and every caller gets its answer.
//
// The At methods take the time explicitly, for tests and simulations.
// A Cache is safe for concurrent use (one mutex, held for map and list
// updates only, never while a dependency runs). Create it with New; the
// zero value is not usable.
type Cache struct {
	cfg Config

	mu      sync.Mutex // guards the fields below
	entries map[string]*entry
	head    entry // sentinel of the LRU list: head.next is the most recent
	bytes   int64
	flights map[string]*flight

	hits, fills, shared, staleServed, staleMissing, evictions, storeErrors atomic.Uint64
}

type entry struct {
	key        string
	v          any
	at         time.Time
	size       int64
	prev, next *entry
}

type flight struct {
	done chan struct{}
	v    any
	ans  Answer
	err  error
}

// New returns a Cache for cfg with defaults applied, or the error of
// [Config.Validate].
func New(cfg Config) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Size == nil {
		cfg.Size = DefaultSize
	}
	c := &Cache{cfg: cfg, entries: make(map[string]*entry), flights: make(map[string]*flight)}
	c.head.prev, c.head.next = &c.head, &c.head
	return c, nil
}

// Config returns the configuration with defaults applied.
func (c *Cache) Config() Config { return c.cfg }

// Stats returns the counters and the current size.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	n, b := len(c.entries), c.bytes
	c.mu.Unlock()
	return Stats{
		Hits: c.hits.Load(), Fills: c.fills.Load(), Shared: c.shared.Load(),
		StaleServed: c.staleServed.Load(), StaleMissing: c.staleMissing.Load(),
		Evictions: c.evictions.Load(), StoreErrors: c.storeErrors.Load(),
		Entries: n, Bytes: b,
	}
}

// GetAt returns the value kept for key and its age at now, if it is no
// older than MaxStaleness. A value found older is dropped. It does not
// consult the Store.
func (c *Cache) GetAt(key string, now time.Time) (v any, age time.Duration, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entries[key]
	if e == nil {
		return nil, 0, false
	}
	age = max(now.Sub(e.at), 0)
	if age > c.cfg.MaxStaleness {
		c.remove(e)
		return nil, 0, false
	}
	c.touch(e)
	return e.v, age, true
}

// SetAt keeps v as the value of key, stored at now (age 0 then). It does
// not write to the Store. A value too big for MaxBytes on its own is not
// kept.
func (c *Cache) SetAt(key string, v any, now time.Time) {
	size := int64(len(key)) + EntryOverhead + int64(max(c.cfg.Size(v), 0))
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil {
		c.remove(e)
	}
	if size > c.cfg.MaxBytes {
		return
	}
	e := &entry{key: key, v: v, at: now, size: size}
	c.entries[key] = e
	c.bytes += size
	e.prev, e.next = &c.head, c.head.next
	e.prev.next, e.next.prev = e, e
	for len(c.entries) > c.cfg.MaxEntries || c.bytes > c.cfg.MaxBytes {
		c.remove(c.head.prev)
		c.evictions.Add(1)
	}
}

// touch moves e to the front of the list. Called with mu held.
func (c *Cache) touch(e *entry) {
	if c.head.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = &c.head, c.head.next
	e.prev.next, e.next.prev = e, e
}

// remove drops e. Called with mu held.
func (c *Cache) remove(e *entry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(c.entries, e.key)
	c.bytes -= e.size
}

// lookup returns the value of key no older than limit at now, from the
// cache or else the Store.
func (c *Cache) lookup(ctx context.Context, key string, now time.Time, limit time.Duration) (any, time.Duration, bool) {
	if v, age, ok := c.GetAt(key, now); ok {
		if age <= limit {
			return v, age, true
		}
		return nil, 0, false
	}
	if c.cfg.Store == nil {
		return nil, 0, false
	}
	v, age, ok, err := c.cfg.Store.Get(ctx, key)
	if err != nil {
		c.storeErrors.Add(1)
		return nil, 0, false
	}
	if !ok || age < 0 || age > limit {
		return nil, 0, false
	}
	c.SetAt(key, v, now.Add(-age))
	return v, age, true
}

// Do answers a call for key: from a fresh value when the TTL allows, else
// by running fn, sharing a fill already running for key, and, when the
// fill fails, from a value no older than MaxStaleness (a Stale answer,
// whose Answer.Err is the failure). A successful fill is kept (and written
// to the Store). The fill runs with the context of the call that started
// it; a caller waiting for another's fill stops waiting when its own ctx
// ends.
func Do[T any](ctx context.Context, c *Cache, key string, fn func(context.Context) (T, error)) (T, Answer, error) {
	now := time.Now()
	if c.cfg.TTL > 0 {
		if v, age, ok := c.lookup(ctx, key, now, c.cfg.TTL); ok {
			if tv, ok := v.(T); ok {
				c.hits.Add(1)
				return tv, Answer{Source: Fresh, Age: age}, nil
			}
		}
	}
	c.mu.Lock()
	if f := c.flights[key]; f != nil {
		c.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			var zero T
			return zero, Answer{}, ctx.Err()
		}
		c.shared.Add(1)
		tv, _ := f.v.(T)
		ans := f.ans
		if ans.Source == Called {
			ans.Source = Shared
		}
		return tv, ans, f.err
	}
	f := &flight{done: make(chan struct{}), err: ErrFillAbandoned}
	c.flights[key] = f
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.flights, key)
		c.mu.Unlock()
		close(f.done)
	}()
	c.fills.Add(1)
	v, err := fn(ctx)
	if err == nil {
		now := time.Now()
		c.SetAt(key, v, now)
		if s := c.cfg.Store; s != nil {
			if serr := s.Set(ctx, key, v, 0); serr != nil {
				c.storeErrors.Add(1)
			}
		}
		f.v, f.ans, f.err = v, Answer{Source: Called}, nil
		return v, f.ans, nil
	}
	if errors.Is(err, ErrPass) {
		f.err = err
		return v, Answer{Source: Called}, err
	}
	if sv, age, ok := c.lookup(ctx, key, time.Now(), c.cfg.MaxStaleness); ok {
		if tv, ok := sv.(T); ok {
			c.staleServed.Add(1)
			f.v, f.ans, f.err = tv, Answer{Source: Stale, Age: age, Err: err}, nil
			return tv, f.ans, nil
		}
	}
	c.staleMissing.Add(1)
	f.err = err
	return v, Answer{Source: Called}, err
}
