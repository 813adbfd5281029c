package ratelimit

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/internal/stripe"
)

// KeyedConfig describes a Keyed limiter: the limit each key gets, and the
// bound on the keys kept.
type KeyedConfig struct {
	// Config is the limit of each key.
	Config
	// MaxKeys bounds the keys kept; 0 means 10000. When a new key arrives
	// and the bound is reached, an expired key is dropped if there is one
	// near the least recently used end, else the least recently used key
	// (counted in KeyedSnapshot.Evicted). From 1024 keys up the keys are
	// spread over 16 shards of MaxKeys/16 each, and each shard drops its own
	// least recently used key.
	MaxKeys int
	// IdleTimeout is how long a key must go unused before it may expire;
	// 0 means one minute. A key expires only once its limiter is back at
	// rest (a full bucket, empty windows), so that expiring it loses
	// nothing: its next call finds the same limiter it would have found.
	IdleTimeout time.Duration
}

// Validate reports the first invalid field of c, named as in JSON.
func (c KeyedConfig) Validate() error {
	if _, err := c.Config.rate(); err != nil {
		return err
	}
	return c.validateBounds()
}

func (c KeyedConfig) validateBounds() error {
	if c.MaxKeys < 0 {
		return fmt.Errorf("ratelimit: maxKeys: %d must be >= 0", c.MaxKeys)
	}
	if c.IdleTimeout < 0 {
		return fmt.Errorf("ratelimit: idleTimeout: %v must be >= 0", c.IdleTimeout)
	}
	return nil
}

const (
	defaultMaxKeys     = 10000
	defaultIdleTimeout = time.Minute
	keyedShards        = 16
	keyedShardedFrom   = 1024
	expireScan         = 8 // entries examined from the LRU end before evicting
)

// Keyed is a set of limiters, one per key (a tenant, an API key, a client
// address), all with the same limit, in bounded memory.
//
// A key's limiter is created on its first call, at rest. Keys are ordered by
// their last use, to a resolution of IdleTimeout/64 (at most one second), so
// that a busy key moves in the LRU list at most once per period. Memory is
// bounded by
// MaxKeys: when the bound is reached, a new key first expires keys that have
// been idle for IdleTimeout and are back at rest (lossless), and failing that
// evicts the least recently used key (KeyedSnapshot.Evicted counts these: an
// evicted key that was not at rest starts afresh on its next call). Under a
// flood of distinct keys the table never grows past MaxKeys; the keys of the
// flood, used once each, are the ones that go. New keys also expire up to two
// idle keys each, and Prune expires all of them; no goroutine is started.
//
// Allow on an existing key takes the shard's mutex for the map lookup and the
// LRU update, then decides without it; it allocates nothing. A new key
// allocates its entry and a copy of the key. Keyed is safe for concurrent use;
// the zero value is not usable: build one with NewKeyed.
type Keyed struct {
	r       atomic.Pointer[rate]
	mu      sync.Mutex // serializes limit changes
	seed    maphash.Seed
	mask    uint64
	shards  []shard
	maxKeys int
	idle    int64
	touch   int64 // resolution of last use: min(idle/64, 1s)

	_                [stripe.Pad]byte // keep the read-mostly fields above apart
	evicted, expired atomic.Uint64
	stats            counters
}

// A shard is stripe.Pad bytes long (its fields take 40), so that the
// shards' mutexes never share a line.
type shard struct {
	mu         sync.Mutex
	m          map[string]*entry
	head, tail *entry // most and least recently used
	max        int
	_          [stripe.Pad - 40]byte
}

type entry struct {
	key        string
	prev, next *entry // towards head, towards tail
	last       int64  // last use
	e          engine
	first      cell // the first cell of e, allocated with the entry
}

// NewKeyed returns a Keyed limiter for cfg.
func NewKeyed(cfg KeyedConfig) (*Keyed, error) {
	r, err := cfg.Config.rate()
	if err != nil {
		return nil, err
	}
	if err := cfg.validateBounds(); err != nil {
		return nil, err
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = defaultMaxKeys
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	n := 1
	if cfg.MaxKeys >= keyedShardedFrom {
		n = keyedShards
	}
	k := &Keyed{
		seed:    maphash.MakeSeed(),
		mask:    uint64(n - 1),
		shards:  make([]shard, n),
		maxKeys: cfg.MaxKeys,
		idle:    int64(cfg.IdleTimeout),
		touch:   int64(min(cfg.IdleTimeout/64, time.Second)),
	}
	for i := range k.shards {
		s := &k.shards[i]
		s.m = make(map[string]*entry)
		s.max = cfg.MaxKeys / n
		if i < cfg.MaxKeys%n {
			s.max++
		}
	}
	k.r.Store(r)
	return k, nil
}

func (k *Keyed) shard(key string) *shard {
	if k.mask == 0 {
		return &k.shards[0]
	}
	return &k.shards[maphash.String(k.seed, key)&k.mask]
}

// get returns the entry of key, creating it if need be, and marks it used at
// now.
func (k *Keyed) get(key string, now int64) *entry {
	s := k.shard(key)
	s.mu.Lock()
	en := s.m[key]
	switch {
	case en == nil:
		en = k.add(s, key, now)
		s.pushFront(en)
	case now-en.last >= k.touch:
		// Reordered at most once per touch period: a hot key writes
		// nothing to the shard but its lock in between.
		en.last = now
		if s.head != en {
			s.unlink(en)
			s.pushFront(en)
		}
	}
	s.mu.Unlock()
	return en
}

// add creates the entry of a new key in s (locked), making room first.
func (k *Keyed) add(s *shard, key string, now int64) *entry {
	scan := 2
	if len(s.m) >= s.max {
		scan = expireScan
	}
	k.expire(s, now, scan)
	if len(s.m) >= s.max && s.tail != nil {
		s.remove(s.tail)
		k.evicted.Add(1)
	}
	en := &entry{key: strings.Clone(key), last: now}
	en.first.r = k.r.Load()
	en.e.initCell(&en.first)
	s.m[en.key] = en
	return en
}

// expire removes up to limit expired entries of s (locked), looking at most
// limit entries from its LRU end (all idle entries if limit < 0), and
// returns how many it removed.
func (k *Keyed) expire(s *shard, now int64, limit int) int {
	removed := 0
	for en := s.tail; en != nil && limit != 0 && now-en.last >= k.idle; limit-- {
		// Entries nearer the head were used later: the walk stops at the
		// first one not idle.
		prev := en.prev
		if en.e.atRest(now) {
			s.remove(en)
			removed++
		}
		en = prev
	}
	k.expired.Add(uint64(removed))
	return removed
}

func (s *shard) pushFront(en *entry) {
	en.prev, en.next = nil, s.head
	if s.head != nil {
		s.head.prev = en
	} else {
		s.tail = en
	}
	s.head = en
}

func (s *shard) unlink(en *entry) {
	if en.prev != nil {
		en.prev.next = en.next
	} else {
		s.head = en.next
	}
	if en.next != nil {
		en.next.prev = en.prev
	} else {
		s.tail = en.prev
	}
	en.prev, en.next = nil, nil
}

func (s *shard) remove(en *entry) {
	s.unlink(en)
	delete(s.m, en.key)
}

// Allow reports whether one call of key may happen now, and takes it if so.
func (k *Keyed) Allow(key string) bool {
	r := k.r.Load()
	return k.allow(key, r.now(), 1, !r.precise)
}

// AllowN reports whether n calls of key may happen at t, and takes them all
// if so (none if not). It reads no clock and is exact.
func (k *Keyed) AllowN(key string, t time.Time, n int) bool {
	return k.allow(key, nanos(t), int64(n), false)
}

func (k *Keyed) allow(key string, now, n int64, coarse bool) bool {
	ok := k.get(key, now).e.allow(now, n, coarse)
	k.stats.add(ok)
	return ok
}

// RetryAfter returns how long until one call of key would be allowed, from
// now; 0 if now (and for a key not kept). It neither creates nor touches the
// key.
func (k *Keyed) RetryAfter(key string) time.Duration {
	r := k.r.Load()
	return k.retryAfter(key, r.now(), 1, !r.precise)
}

// RetryAfterN returns how long after t n calls of key would be allowed at
// once: 0 if at t, the largest Duration if never. It reads no clock and is
// exact.
func (k *Keyed) RetryAfterN(key string, t time.Time, n int) time.Duration {
	return k.retryAfter(key, nanos(t), int64(n), false)
}

func (k *Keyed) retryAfter(key string, now, n int64, coarse bool) time.Duration {
	s := k.shard(key)
	s.mu.Lock()
	en := s.m[key]
	s.mu.Unlock()
	if en == nil { // a new key's limiter is at rest
		if n > k.r.Load().maxCalls() {
			return never
		}
		return 0
	}
	return time.Duration(en.e.retryAfter(now, n, coarse))
}

// Wait blocks until one call of key is allowed and takes it, like the
// limiter of the configured algorithm does. If ctx ends first it returns
// ctx.Err() unchanged and takes nothing. A key evicted while its caller waits
// loses that caller's place.
func (k *Keyed) Wait(ctx context.Context, key string) error {
	return k.WaitN(ctx, key, 1)
}

// WaitN is Wait for n calls at once.
func (k *Keyed) WaitN(ctx context.Context, key string, n int) error {
	if err := ctx.Err(); err != nil {
		k.stats.add(false)
		return err
	}
	err := k.get(key, k.r.Load().fresh()).e.wait(ctx, int64(n))
	k.stats.add(err == nil)
	return err
}

// Prune expires every key idle for IdleTimeout whose limiter is back at rest,
// and returns how many it removed. Keyed calls it on its own only in part
// (on new keys); call it from time to time to release memory after a burst
// of keys.
func (k *Keyed) Prune() int { return k.prune(k.r.Load().fresh()) }

// PruneAt is Prune at t.
func (k *Keyed) PruneAt(t time.Time) int { return k.prune(nanos(t)) }

func (k *Keyed) prune(now int64) int {
	n := 0
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		n += k.expire(s, now, -1)
		s.mu.Unlock()
	}
	return n
}

// Len returns the number of keys kept.
func (k *Keyed) Len() int {
	n := 0
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

// Config returns the per-key configuration, with defaults filled in.
func (k *Keyed) Config() KeyedConfig {
	return KeyedConfig{Config: k.r.Load().cfg, MaxKeys: k.maxKeys, IdleTimeout: time.Duration(k.idle)}
}

// SetLimit changes the limit of every key now, keeping what each key has
// already spent (see TokenBucket.SetLimit). cfg.Algorithm must be the
// limiter's or AlgorithmDefault. MaxKeys and IdleTimeout do not change.
func (k *Keyed) SetLimit(cfg Config) error {
	return k.setLimit(cfg, (*rate).fresh)
}

// SetLimitAt is SetLimit at t.
func (k *Keyed) SetLimitAt(t time.Time, cfg Config) error {
	return k.setLimit(cfg, func(*rate) int64 { return nanos(t) })
}

func (k *Keyed) setLimit(cfg Config, now func(*rate) int64) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	r, err := newRate(k.r.Load(), cfg)
	if err != nil {
		return err
	}
	k.r.Store(r) // keys created from now on
	t := now(r)
	for i := range k.shards {
		s := &k.shards[i]
		s.mu.Lock()
		for _, en := range s.m {
			if en.e.cur.Load().r != r {
				en.e.migrate(r, t)
			}
		}
		s.mu.Unlock()
	}
	return nil
}

// KeyedSnapshot is a Keyed limiter's state, for telemetry.
type KeyedSnapshot struct {
	// Config is the configuration, with defaults filled in.
	Config KeyedConfig
	// Keys is the number of keys kept.
	Keys int
	// Allowed and Rejected count calls over all keys.
	Allowed, Rejected uint64
	// Evicted counts keys dropped because MaxKeys was reached; Expired,
	// keys dropped idle and at rest (by new keys or Prune).
	Evicted, Expired uint64
}

// Snapshot returns the counters and the number of keys.
func (k *Keyed) Snapshot() KeyedSnapshot {
	s := KeyedSnapshot{
		Config:  k.Config(),
		Keys:    k.Len(),
		Evicted: k.evicted.Load(),
		Expired: k.expired.Load(),
	}
	s.Allowed, s.Rejected = k.stats.load()
	return s
}
