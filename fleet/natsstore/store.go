package natsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/breakerbox/breakerbox/fleet"
)

// DefaultBucket is the KV bucket New uses without WithBucket.
const DefaultBucket = "breakerbox_fleet"

// DefaultMarkerTTL is how long the bucket keeps the marker of a key that
// expired or was deleted, without WithMarkerTTL.
const DefaultMarkerTTL = time.Minute

// Option configures New.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is what the options set; newConfig fills the defaults.
type config struct {
	bucket    string
	storage   jetstream.StorageType
	replicas  int
	markerTTL time.Duration
	maxBytes  int64
}

func newConfig(opts []Option) config {
	c := config{
		bucket:    DefaultBucket,
		storage:   jetstream.FileStorage,
		replicas:  1,
		markerTTL: DefaultMarkerTTL,
		maxBytes:  -1,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// WithBucket names the KV bucket that holds one fleet (default
// DefaultBucket). Two fleets on one NATS account need two buckets. A bucket
// name holds letters, digits, "-" and "_".
func WithBucket(name string) Option {
	return optionFunc(func(c *config) { c.bucket = name })
}

// WithStorage sets where New creates the bucket: jetstream.FileStorage (the
// default: operator actions and the version counter survive a server
// restart) or jetstream.MemoryStorage. It has no effect on a bucket that
// exists.
func WithStorage(t jetstream.StorageType) Option {
	return optionFunc(func(c *config) { c.storage = t })
}

// WithReplicas sets how many JetStream replicas New creates the bucket with
// (default 1; at most 5, and no more than the cluster has). It has no effect
// on a bucket that exists.
func WithReplicas(n int) Option {
	return optionFunc(func(c *config) { c.replicas = n })
}

// WithMarkerTTL sets how long New creates the bucket to keep the marker a
// key leaves when it expires or is deleted (default DefaultMarkerTTL, at
// least one second). Markers let a watcher see expiries; they cost one small
// message each while they last. It has no effect on a bucket that exists.
func WithMarkerTTL(d time.Duration) Option {
	return optionFunc(func(c *config) { c.markerTTL = d })
}

// WithMaxBytes caps the bucket's size in bytes (default -1, no cap). A full
// bucket refuses writes, which Join counts as store errors; see the README
// for what a fleet stores. It has no effect on a bucket that exists.
func WithMaxBytes(n int64) Option {
	return optionFunc(func(c *config) { c.maxBytes = n })
}

var validBucket = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

// Store is a fleet.Store on a NATS JetStream key-value bucket. It is safe
// for concurrent use. It does not implement fleet.RateStore (see the
// package doc).
//
// A Store does not own the NATS connection: Close stops its watches and
// makes later calls fail with fleet.ErrClosed, and the caller closes the
// connection.
type Store struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	prefix string        // subject prefix of the bucket's keys: "$KV.<bucket>."
	marker time.Duration // the bucket's LimitMarkerTTL: a delete's marker lasts as long

	// kvcfg is the bucket's configuration, to create it again when a
	// server restart lost it (memory storage).
	kvcfg jetstream.KeyValueConfig

	remu     sync.Mutex // guards lastMade
	lastMade time.Time  // when again last created the bucket

	closeOnce sync.Once
	done      chan struct{}
}

var _ fleet.Store = (*Store)(nil)

// New binds the bucket (WithBucket, default DefaultBucket) on js, creating
// it when it does not exist, with per-key TTL enabled (LimitMarkerTTL),
// history 1, and the storage, replicas and size the options set.
//
// Per-key TTL needs nats-server 2.11 or later; New fails on an older server,
// and on an existing bucket created without per-key TTL (recreate it, or
// name another bucket).
func New(ctx context.Context, js jetstream.JetStream, opts ...Option) (*Store, error) {
	if js == nil {
		return nil, errors.New("natsstore: New: js is nil")
	}
	c := newConfig(opts)
	if !validBucket.MatchString(c.bucket) {
		return nil, fmt.Errorf("natsstore: bucket %q: a bucket name holds only letters, digits, '-' and '_'", c.bucket)
	}
	if c.markerTTL < time.Second {
		return nil, fmt.Errorf("natsstore: marker TTL %v: must be at least 1s", c.markerTTL)
	}
	if c.replicas < 1 || c.replicas > 5 {
		return nil, fmt.Errorf("natsstore: replicas %d: must be 1 to 5", c.replicas)
	}
	kvcfg := jetstream.KeyValueConfig{
		Bucket:         c.bucket,
		Description:    "breakerbox fleet: members, verdicts, probe leases, operator actions",
		History:        1,
		Storage:        c.storage,
		Replicas:       c.replicas,
		MaxBytes:       c.maxBytes,
		LimitMarkerTTL: c.markerTTL,
	}
	kv, err := js.KeyValue(ctx, c.bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, kvcfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			// Another replica created it first, with other options.
			kv, err = js.KeyValue(ctx, c.bucket)
		}
		if errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported) {
			return nil, fmt.Errorf("natsstore: bucket %q: per-key TTL needs nats-server 2.11 or later: %w", c.bucket, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("natsstore: bucket %q: %w", c.bucket, err)
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("natsstore: bucket %q: status: %w", c.bucket, err)
	}
	if st.LimitMarkerTTL() <= 0 {
		return nil, fmt.Errorf("natsstore: bucket %q exists without per-key TTL (LimitMarkerTTL 0); recreate it or name another bucket with WithBucket", c.bucket)
	}
	return &Store{
		js:     js,
		kv:     kv,
		prefix: "$KV." + c.bucket + ".",
		marker: max(wholeSeconds(st.LimitMarkerTTL()), time.Second),
		kvcfg:  kvcfg,
		done:   make(chan struct{}),
	}, nil
}

// Bucket returns the name of the store's KV bucket.
func (s *Store) Bucket() string { return s.kv.Bucket() }

// closed returns fleet.ErrClosed after Close.
func (s *Store) closed() error {
	select {
	case <-s.done:
		return fleet.ErrClosed
	default:
		return nil
	}
}

// wholeSeconds rounds a TTL up to whole seconds: nats-server counts message
// TTLs in seconds, refuses one under a second and truncates fractions.
// Zero or less means no expiry.
func wholeSeconds(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return 0
	}
	return (ttl + time.Second - 1) / time.Second * time.Second
}

// isConflict reports whether err is JetStream refusing a write because the
// key's last revision is not the one expected.
func isConflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

// isGone reports whether err says the bucket's stream is not there: a
// server that restarted without it (memory storage, a lost volume) or a
// bucket someone deleted.
func isGone(err error) bool {
	return errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, nats.ErrStreamNotFound) ||
		errors.Is(err, jetstream.ErrBucketNotFound)
}

// again reports whether a call that failed with err is worth one more try:
// when the bucket is gone, it creates it again (at most once a second, so
// that a store whose JetStream is down is not hammered) with the
// configuration New used. The fleet's data comes back with the replicas'
// next heartbeats and votes; the version counter starts again at 1.
func (s *Store) again(ctx context.Context, err error) bool {
	if !isGone(err) || ctx.Err() != nil {
		return false
	}
	s.remu.Lock()
	defer s.remu.Unlock()
	if !s.lastMade.IsZero() && time.Since(s.lastMade) < time.Second {
		return false
	}
	s.lastMade = time.Now()
	_, err = s.js.CreateKeyValue(ctx, s.kvcfg)
	return err == nil || errors.Is(err, jetstream.ErrBucketExists)
}

// kvGet is KeyValue.Get, again once if the bucket was gone.
func (s *Store) kvGet(ctx context.Context, k string) (jetstream.KeyValueEntry, error) {
	e, err := s.kv.Get(ctx, k)
	if err != nil && s.again(ctx, err) {
		e, err = s.kv.Get(ctx, k)
	}
	return e, err
}

// kvCreate is KeyValue.Create, again once if the bucket was gone.
func (s *Store) kvCreate(ctx context.Context, k string, value []byte, opts ...jetstream.KVCreateOpt) error {
	_, err := s.kv.Create(ctx, k, value, opts...)
	if err != nil && s.again(ctx, err) {
		_, err = s.kv.Create(ctx, k, value, opts...)
	}
	return err
}

// publish writes value to bucket key k with a per-message TTL (none when
// ttl is 0) and, when expect is not nil, only if k's last revision is
// *expect. KeyValue.Put and Update take no TTL, hence a publish of our own,
// as they do it.
func (s *Store) publish(ctx context.Context, k string, value []byte, ttl time.Duration, expect *uint64) (uint64, error) {
	m := &nats.Msg{Subject: s.prefix + k, Data: value, Header: nats.Header{}}
	var opts []jetstream.PublishOpt
	if expect != nil {
		opts = append(opts, jetstream.WithExpectLastSequencePerSubject(*expect))
	}
	if ttl = wholeSeconds(ttl); ttl > 0 {
		opts = append(opts, jetstream.WithMsgTTL(ttl))
	}
	ack, err := s.js.PublishMsg(ctx, m, opts...)
	if err != nil && s.again(ctx, err) {
		ack, err = s.js.PublishMsg(ctx, m, opts...)
	}
	if err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// opErr names the operation and key of a failed call.
func opErr(op string, kind fleet.Kind, key string, err error) error {
	return fmt.Errorf("natsstore: %s %s %q: %w", op, kind, key, err)
}

// Put sets key to value with the given TTL (rounded up to whole seconds;
// zero means no expiry), whatever it held before.
func (s *Store) Put(ctx context.Context, kind fleet.Kind, key string, value []byte, ttl time.Duration) error {
	if err := s.closed(); err != nil {
		return err
	}
	if _, err := s.publish(ctx, kvKey(kind, key), value, ttl, nil); err != nil {
		return opErr("put", kind, key, err)
	}
	return nil
}

// Create sets key to value with the given TTL only if key is absent,
// expired or deleted (KeyValue.Create with a per-key TTL). When it did not,
// cur is the entry present.
func (s *Store) Create(ctx context.Context, kind fleet.Kind, key string, value []byte, ttl time.Duration) (bool, fleet.Entry, error) {
	if err := s.closed(); err != nil {
		return false, fleet.Entry{}, err
	}
	k := kvKey(kind, key)
	var opts []jetstream.KVCreateOpt
	if ttl = wholeSeconds(ttl); ttl > 0 {
		opts = append(opts, jetstream.KeyTTL(ttl))
	}
	for {
		err := s.kvCreate(ctx, k, value, opts...)
		if err == nil {
			return true, fleet.Entry{}, nil
		}
		if !isConflict(err) {
			return false, fleet.Entry{}, opErr("create", kind, key, err)
		}
		cur, ok, err := s.get(ctx, kind, key, k)
		if err != nil {
			return false, fleet.Entry{}, err
		}
		if ok {
			return false, cur, nil
		}
		// It expired or was deleted between the two calls: try again.
		if err := ctx.Err(); err != nil {
			return false, fleet.Entry{}, opErr("create", kind, key, err)
		}
	}
}

// CompareAndPut sets key to value with the given TTL only if key still
// holds old, byte for byte: it reads the key, compares, and writes with
// the revision it read as the expected last revision, so a write in between
// makes it read again. The new value's TTL replaces the old one's (each
// revision is a message with its own TTL).
func (s *Store) CompareAndPut(ctx context.Context, kind fleet.Kind, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if err := s.closed(); err != nil {
		return false, err
	}
	k := kvKey(kind, key)
	for {
		cur, ok, err := s.get(ctx, kind, key, k)
		if err != nil || !ok || !bytes.Equal(cur.Value, old) {
			return false, err
		}
		rev := cur.Revision
		_, err = s.publish(ctx, k, value, ttl, &rev)
		if err == nil {
			return true, nil
		}
		if !isConflict(err) {
			return false, opErr("compare-and-put", kind, key, err)
		}
		if err := ctx.Err(); err != nil {
			return false, opErr("compare-and-put", kind, key, err)
		}
	}
}

// CompareAndDelete deletes key only if it still holds old, with the
// revision it read as the expected last revision.
func (s *Store) CompareAndDelete(ctx context.Context, kind fleet.Kind, key string, old []byte) (bool, error) {
	if err := s.closed(); err != nil {
		return false, err
	}
	k := kvKey(kind, key)
	for {
		cur, ok, err := s.get(ctx, kind, key, k)
		if err != nil || !ok || !bytes.Equal(cur.Value, old) {
			return false, err
		}
		err = s.purge(ctx, k, cur.Revision)
		if err == nil {
			return true, nil
		}
		if !isConflict(err) {
			return false, opErr("compare-and-delete", kind, key, err)
		}
		if err := ctx.Err(); err != nil {
			return false, opErr("compare-and-delete", kind, key, err)
		}
	}
}

// purge deletes bucket key k, only if its last revision is rev when rev is
// not 0. A purge, not a delete: it leaves a marker that expires after the
// bucket's marker TTL, where a delete marker would stay for ever.
func (s *Store) purge(ctx context.Context, k string, rev uint64) error {
	opts := []jetstream.KVDeleteOpt{jetstream.PurgeTTL(s.marker)}
	if rev != 0 {
		opts = append(opts, jetstream.LastRevision(rev))
	}
	err := s.kv.Purge(ctx, k, opts...)
	if err != nil && s.again(ctx, err) {
		err = s.kv.Purge(ctx, k, opts...)
	}
	return err
}

// Delete deletes key; deleting an absent key is not an error.
func (s *Store) Delete(ctx context.Context, kind fleet.Kind, key string) error {
	if err := s.closed(); err != nil {
		return err
	}
	if err := s.purge(ctx, kvKey(kind, key), 0); err != nil {
		return opErr("delete", kind, key, err)
	}
	return nil
}

// Get returns key's entry; ok is false when it is absent, expired or
// deleted.
func (s *Store) Get(ctx context.Context, kind fleet.Kind, key string) (fleet.Entry, bool, error) {
	if err := s.closed(); err != nil {
		return fleet.Entry{}, false, err
	}
	return s.get(ctx, kind, key, kvKey(kind, key))
}

func (s *Store) get(ctx context.Context, kind fleet.Kind, key, k string) (fleet.Entry, bool, error) {
	e, err := s.kvGet(ctx, k)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return fleet.Entry{}, false, nil
	}
	if err != nil {
		return fleet.Entry{}, false, opErr("get", kind, key, err)
	}
	return fleet.Entry{Key: key, Value: e.Value(), Revision: e.Revision()}, true, nil
}

// List returns every unexpired entry of kind, reading the latest value of
// each of the kind's keys through one ordered consumer (a KV watch that
// stops after the initial values). Expired and deleted keys are skipped:
// the server replaces an expired value by a marker, which the watch drops.
// A key of the kind natsstore could not have written (another program's)
// is skipped too.
func (s *Store) List(ctx context.Context, kind fleet.Kind) ([]fleet.Entry, error) {
	if err := s.closed(); err != nil {
		return nil, err
	}
	w, err := s.kv.WatchFiltered(ctx, []string{kindFilter(kind)}, jetstream.IgnoreDeletes())
	if err != nil && s.again(ctx, err) {
		w, err = s.kv.WatchFiltered(ctx, []string{kindFilter(kind)}, jetstream.IgnoreDeletes())
	}
	if err != nil {
		return nil, fmt.Errorf("natsstore: list %s: %w", kind, err)
	}
	defer w.Stop()
	var out []fleet.Entry
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("natsstore: list %s: %w", kind, ctx.Err())
		case <-s.done:
			return nil, fleet.ErrClosed
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("natsstore: list %s: watch closed", kind)
			}
			if e == nil {
				return out, nil
			}
			kd, key, ok := splitKey(e.Key())
			if !ok || kd != kind {
				continue
			}
			out = append(out, fleet.Entry{Key: key, Value: e.Value(), Revision: e.Revision()})
		}
	}
}

// NextVersion returns the next value of the fleet's version counter (a key
// of the bucket, "_version"): it reads the counter and writes it plus one
// with the revision it read as the expected last revision, again until no
// other writer came in between.
//
// The counter lives as long as the bucket: deleting the bucket, or losing a
// memory-stored one in a server restart, starts it again at 1.
func (s *Store) NextVersion(ctx context.Context) (uint64, error) {
	if err := s.closed(); err != nil {
		return 0, err
	}
	for {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("natsstore: next version: %w", err)
		}
		e, err := s.kvGet(ctx, versionKey)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			err := s.kvCreate(ctx, versionKey, []byte("1"))
			if err == nil {
				return 1, nil
			}
			if isConflict(err) {
				continue
			}
			return 0, fmt.Errorf("natsstore: next version: %w", err)
		}
		if err != nil {
			return 0, fmt.Errorf("natsstore: next version: %w", err)
		}
		n, perr := strconv.ParseUint(string(e.Value()), 10, 64)
		if perr != nil {
			return 0, fmt.Errorf("natsstore: next version: key %q holds %q, not a number", versionKey, e.Value())
		}
		rev := e.Revision()
		_, err = s.publish(ctx, versionKey, []byte(strconv.FormatUint(n+1, 10)), 0, &rev)
		if err == nil {
			return n + 1, nil
		}
		if !isConflict(err) {
			return 0, fmt.Errorf("natsstore: next version: %w", err)
		}
	}
}

// Watch sends a hint for every change of the bucket (a put, a delete, an
// expiry) until ctx ends, the store is closed, the watch's subscription
// closes or the NATS connection is lost, and returns the reason. It sends a
// Resync hint first, once subscribed; Join's next Watch after a lost
// connection subscribes again and sends Resync again, so hints lost while
// disconnected are made up by a full reconcile.
//
// The watch reads no values (headers only) and starts at the bucket's
// present, not its history.
func (s *Store) Watch(ctx context.Context, fn func(fleet.Hint)) error {
	if err := s.closed(); err != nil {
		return err
	}
	nc := s.js.Conn()
	// Listen before checking the status, so that no change falls between.
	status := nc.StatusChanged(nats.RECONNECTING, nats.DISCONNECTED, nats.CLOSED)
	defer nc.RemoveStatusListener(status)
	if st := nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("natsstore: watch: connection %v", st)
	}
	w, err := s.kv.WatchAll(ctx, jetstream.UpdatesOnly(), jetstream.MetaOnly())
	if err != nil && s.again(ctx, err) {
		w, err = s.kv.WatchAll(ctx, jetstream.UpdatesOnly(), jetstream.MetaOnly())
	}
	if err != nil {
		return fmt.Errorf("natsstore: watch: %w", err)
	}
	defer w.Stop()
	fn(fleet.Hint{Resync: true})
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return fleet.ErrClosed
		case st := <-status:
			return fmt.Errorf("natsstore: watch: connection %v", st)
		case e, ok := <-w.Updates():
			if !ok {
				return errors.New("natsstore: watch: subscription closed")
			}
			if e == nil {
				continue
			}
			kind, key, ok := splitKey(e.Key())
			if !ok {
				continue
			}
			fn(fleet.Hint{Kind: kind, Key: key})
		}
	}
}

// Close stops the store's watches and makes later calls return
// fleet.ErrClosed. It does not close the NATS connection, which the caller
// owns. Closing twice is not an error.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { close(s.done) })
	return nil
}
