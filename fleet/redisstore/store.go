package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/fleet"
)

// Store is a fleet.Store and a fleet.RateStore on Redis. Make one with
// New; it is safe for concurrent use. Its zero value is not usable.
//
// Every method honours its ctx: go-redis puts ctx's deadline on every
// dial, write and read, so a call to a stopped or unreachable server
// returns when ctx ends, with an error.
type Store struct {
	client redis.UniversalClient
	cfg    config

	// Derived from the prefix once, in New.
	tag     string // "{prefix}" — the hash tag every key carries
	rev     string // the revision counter
	version string // NextVersion's counter
	channel string // where hints are published

	// cluster is client when it is a Cluster client, for after's reloads
	// of the slot map; lastReload is when after last asked for one
	// (UnixNano).
	cluster    *redis.ClusterClient
	lastReload atomic.Int64

	// ctxBound is true when the client puts ctx's deadline on its sockets
	// (ContextTimeoutEnabled); otherwise every call runs on a goroutine of
	// its own and the Store returns when ctx ends (see run).
	ctxBound bool

	// Guarded by mu.
	mu      sync.Mutex
	closed  bool
	watches map[*redis.PubSub]struct{}
}

var (
	_ fleet.Store     = (*Store)(nil)
	_ fleet.RateStore = (*Store)(nil)
)

// New returns a Store on client, which may be a *redis.Client (standalone,
// or one made by redis.NewFailoverClient for Sentinel) or a
// *redis.ClusterClient, or a redis.NewUniversalClient of either. New does
// not talk to the server; the first call does.
//
// The Store does not own client: Close ends the Store's watches and
// refuses further calls, but leaves client open for its owner to close.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: client is nil")
	}
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	tag := "{" + cfg.prefix + "}"
	cluster, _ := client.(*redis.ClusterClient)
	return &Store{
		cluster:  cluster,
		client:   client,
		ctxBound: contextTimeoutEnabled(client),
		cfg:      cfg,
		tag:      tag,
		rev:      tag + ":rev",
		version:  tag + ":version",
		channel:  tag + ":hints",
		watches:  make(map[*redis.PubSub]struct{}),
	}, nil
}

// contextTimeoutEnabled reports whether client's options put ctx's
// deadline on its sockets.
func contextTimeoutEnabled(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// run calls f and returns its error, or ctx's as soon as ctx ends. A
// client made with ContextTimeoutEnabled ends its own calls with ctx, and
// f runs inline; any other client waits for its own timeouts (3 s reads,
// 5 s dials by default), so f runs on a goroutine the Store stops waiting
// for when ctx ends (it finishes in the background, bounded by the
// client's timeouts). The caller must not read what f writes unless run
// returned nil.
func (s *Store) run(ctx context.Context, f func(ctx context.Context) error) error {
	if s.ctxBound || ctx.Done() == nil {
		return s.after(f(ctx))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- f(ctx) }()
	select {
	case err := <-done:
		return s.after(err)
	case <-ctx.Done():
		return s.after(ctx.Err())
	}
}

// after looks at a call's error. On a Cluster, a call that failed on the
// network or ran out of time may be going to a master that died: go-redis
// reloads its slot map on MOVED replies, which a dead node never sends,
// and a short deadline ends each call before go-redis's own recovery, so
// the Store reloads the map itself, in the background, at most once a
// second.
func (s *Store) after(err error) error {
	if err == nil || s.cluster == nil || errors.Is(err, redis.Nil) {
		return err
	}
	var rerr redis.Error
	if errors.As(err, &rerr) {
		return err // the server answered
	}
	now := time.Now().UnixNano()
	last := s.lastReload.Load()
	if now-last < int64(time.Second) || !s.lastReload.CompareAndSwap(last, now) {
		return err
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s.cluster.ReloadState(ctx)
	}()
	return err
}

// Prefix is the fleet's key prefix; every key the Store writes starts with
// "{" + Prefix() + "}".
func (s *Store) Prefix() string { return s.cfg.prefix }

// Key returns the Redis key that holds kind's key, for operators and
// tests ("{breakerbox}:verdict:payments/replica-1").
func (s *Store) Key(kind fleet.Kind, key string) string {
	return s.tag + ":" + string(kind) + ":" + key
}

// index is the sorted set of kind's live keys, scored by expiry (ms of the
// server's clock; +inf for none).
func (s *Store) index(kind fleet.Kind) string {
	return s.tag + ":index:" + string(kind)
}

// hint is what the scripts publish for a change of kind's key.
func hintFor(kind fleet.Kind, key string) string {
	return string(kind) + ":" + key
}

// check refuses calls after Close and names a bad kind or key.
func (s *Store) check(kind fleet.Kind, key string) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return fleet.ErrClosed
	}
	if kind == "" || strings.ContainsAny(string(kind), ":{}") {
		return fmt.Errorf("redisstore: kind %q must be non-empty and hold no ':', '{' or '}'", kind)
	}
	if key == "" {
		return fmt.Errorf("redisstore: %s key is empty", kind)
	}
	return nil
}

// ttlMillis turns a fleet TTL into the milliseconds PX takes: zero means
// no expiry; anything positive is at least 1 ms.
func ttlMillis(field string, ttl time.Duration) (int64, error) {
	if ttl < 0 {
		return 0, fmt.Errorf("redisstore: %s %v is negative", field, ttl)
	}
	ms := ttl.Milliseconds()
	if ttl > 0 && ms == 0 {
		ms = 1
	}
	return ms, nil
}

// wrap prefixes an error with the operation and key; redis.Nil never
// reaches it.
func wrap(op string, kind fleet.Kind, key string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("redisstore: %s %s %q: %w", op, kind, key, err)
}

// Put sets key to value with ttl, whatever it held before, and publishes
// a hint.
func (s *Store) Put(ctx context.Context, kind fleet.Kind, key string, value []byte, ttl time.Duration) error {
	if err := s.check(kind, key); err != nil {
		return err
	}
	ms, err := ttlMillis("ttl", ttl)
	if err != nil {
		return err
	}
	err = s.run(ctx, func(ctx context.Context) error {
		return putScript.Run(ctx, s.client, []string{s.Key(kind, key), s.index(kind), s.rev},
			value, ms, key, s.channel, hintFor(kind, key)).Err()
	})
	return wrap("put", kind, key, err)
}

// Create sets key to value with ttl only if it is absent (or expired).
// When it is not, cur is the entry present.
func (s *Store) Create(ctx context.Context, kind fleet.Kind, key string, value []byte, ttl time.Duration) (bool, fleet.Entry, error) {
	if err := s.check(kind, key); err != nil {
		return false, fleet.Entry{}, err
	}
	ms, err := ttlMillis("ttl", ttl)
	if err != nil {
		return false, fleet.Entry{}, err
	}
	var res []any
	err = s.run(ctx, func(ctx context.Context) (err error) {
		res, err = createScript.Run(ctx, s.client, []string{s.Key(kind, key), s.index(kind), s.rev},
			value, ms, key, s.channel, hintFor(kind, key)).Slice()
		return err
	})
	if err != nil {
		return false, fleet.Entry{}, wrap("create", kind, key, err)
	}
	if len(res) != 2 {
		return false, fleet.Entry{}, wrap("create", kind, key, fmt.Errorf("unexpected reply %v", res))
	}
	if created, _ := res[0].(int64); created == 1 {
		return true, fleet.Entry{}, nil
	}
	raw, _ := res[1].(string)
	return false, decodeEntry(key, raw), nil
}

// CompareAndPut sets key to value with ttl only if it still holds old,
// byte for byte.
func (s *Store) CompareAndPut(ctx context.Context, kind fleet.Kind, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if err := s.check(kind, key); err != nil {
		return false, err
	}
	ms, err := ttlMillis("ttl", ttl)
	if err != nil {
		return false, err
	}
	var rev int64
	err = s.run(ctx, func(ctx context.Context) (err error) {
		rev, err = compareAndPutScript.Run(ctx, s.client, []string{s.Key(kind, key), s.index(kind), s.rev},
			old, value, ms, key, s.channel, hintFor(kind, key)).Int64()
		return err
	})
	if err != nil {
		return false, wrap("compare-and-put", kind, key, err)
	}
	return rev > 0, nil
}

// CompareAndDelete deletes key only if it still holds old.
func (s *Store) CompareAndDelete(ctx context.Context, kind fleet.Kind, key string, old []byte) (bool, error) {
	if err := s.check(kind, key); err != nil {
		return false, err
	}
	var n int64
	err := s.run(ctx, func(ctx context.Context) (err error) {
		n, err = compareAndDeleteScript.Run(ctx, s.client, []string{s.Key(kind, key), s.index(kind)},
			old, key, s.channel, hintFor(kind, key)).Int64()
		return err
	})
	if err != nil {
		return false, wrap("compare-and-delete", kind, key, err)
	}
	return n == 1, nil
}

// Delete deletes key; an absent key is not an error.
func (s *Store) Delete(ctx context.Context, kind fleet.Kind, key string) error {
	if err := s.check(kind, key); err != nil {
		return err
	}
	err := s.run(ctx, func(ctx context.Context) error {
		return deleteScript.Run(ctx, s.client, []string{s.Key(kind, key), s.index(kind)},
			key, s.channel, hintFor(kind, key)).Err()
	})
	return wrap("delete", kind, key, err)
}

// Get returns key's entry; ok is false when it is absent or expired.
func (s *Store) Get(ctx context.Context, kind fleet.Kind, key string) (fleet.Entry, bool, error) {
	if err := s.check(kind, key); err != nil {
		return fleet.Entry{}, false, err
	}
	var raw string
	err := s.run(ctx, func(ctx context.Context) (err error) {
		raw, err = s.client.Get(ctx, s.Key(kind, key)).Result()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return fleet.Entry{}, false, nil
	}
	if err != nil {
		return fleet.Entry{}, false, wrap("get", kind, key, err)
	}
	return decodeEntry(key, raw), true, nil
}

// listBatch bounds the keys one MGET asks for.
const listBatch = 512

// List returns every unexpired entry of kind: the members of kind's index,
// read with MGET in batches. Members whose key has expired are skipped and
// pruned from the index.
func (s *Store) List(ctx context.Context, kind fleet.Kind) ([]fleet.Entry, error) {
	if err := s.check(kind, "*"); err != nil {
		return nil, err
	}
	var entries []fleet.Entry
	err := s.run(ctx, func(ctx context.Context) (err error) {
		entries, err = s.list(ctx, kind)
		return err
	})
	if err != nil {
		return nil, err
	}
	return entries, nil
}

// list is List's work, on run's goroutine.
func (s *Store) list(ctx context.Context, kind fleet.Kind) ([]fleet.Entry, error) {
	members, err := s.client.ZRange(ctx, s.index(kind), 0, -1).Result()
	if err != nil {
		return nil, wrap("list", kind, "", err)
	}
	entries := make([]fleet.Entry, 0, len(members))
	var gone []string
	keys := make([]string, 0, min(len(members), listBatch))
	for start := 0; start < len(members); start += listBatch {
		batch := members[start:min(start+listBatch, len(members))]
		keys = keys[:0]
		for _, m := range batch {
			keys = append(keys, s.Key(kind, m))
		}
		vals, err := s.client.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, wrap("list", kind, "", err)
		}
		for i, v := range vals {
			raw, ok := v.(string)
			if !ok {
				gone = append(gone, batch[i])
				continue
			}
			entries = append(entries, decodeEntry(batch[i], raw))
		}
	}
	if len(gone) > 0 {
		// Best effort: a failure here leaves members a later List prunes.
		_ = s.prune(ctx, kind, gone)
	}
	return entries, nil
}

// prune drops index members whose expiry passed and those of gone whose
// key no longer exists.
func (s *Store) prune(ctx context.Context, kind fleet.Kind, gone []string) error {
	for start := 0; start < len(gone); start += listBatch {
		batch := gone[start:min(start+listBatch, len(gone))]
		keys := make([]string, 0, len(batch)+1)
		args := make([]any, 0, len(batch))
		keys = append(keys, s.index(kind))
		for _, m := range batch {
			keys = append(keys, s.Key(kind, m))
			args = append(args, m)
		}
		if err := pruneScript.Run(ctx, s.client, keys, args...).Err(); err != nil {
			return err
		}
	}
	return nil
}

// NextVersion returns the next value of the fleet's version counter
// (INCR), which never goes back while the server keeps its data.
func (s *Store) NextVersion(ctx context.Context) (uint64, error) {
	if err := s.check("version", "version"); err != nil {
		return 0, err
	}
	var v uint64
	err := s.run(ctx, func(ctx context.Context) (err error) {
		v, err = s.client.Incr(ctx, s.version).Uint64()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("redisstore: next version: %w", err)
	}
	return v, nil
}

// Close ends the Store's watches and makes every later call return
// fleet.ErrClosed. It does not close the client, which its owner does.
func (s *Store) Close() error {
	s.mu.Lock()
	s.closed = true
	watches := s.watches
	s.watches = make(map[*redis.PubSub]struct{})
	s.mu.Unlock()
	for ps := range watches {
		_ = ps.Close()
	}
	return nil
}

// revHeader starts every value the Store writes: "bbrev=<revision>;".
const revHeader = "bbrev="

// decodeEntry splits a stored value into revision and bytes. A value
// without the header (written by hand, by another program) is returned
// whole with revision 0: the fleet counts what it cannot decode.
func decodeEntry(key, raw string) fleet.Entry {
	if rest, ok := strings.CutPrefix(raw, revHeader); ok {
		if i := strings.IndexByte(rest, ';'); i > 0 {
			if rev, err := strconv.ParseUint(rest[:i], 10, 64); err == nil {
				return fleet.Entry{Key: key, Value: []byte(rest[i+1:]), Revision: rev}
			}
		}
	}
	return fleet.Entry{Key: key, Value: []byte(raw)}
}
