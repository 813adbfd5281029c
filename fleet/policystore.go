package fleet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/breakerbox/breakerbox/policy"
)

// KindPolicy holds a fleet's policy versions (see PolicyStore): one entry
// per version, never expiring, and a pointer to the latest.
const KindPolicy Kind = "policy"

// latestKey is the KindPolicy entry holding the latest version's number.
// It may lag behind the versions (a writer that stopped between creating a
// version and moving the pointer); readers walk forward from it.
const latestKey = "latest"

// maxAppendTries bounds Append's retries when other replicas keep taking
// the next number first.
const maxAppendTries = 256

// PolicyStore is a policy.Store kept in a fleet's Store, so that the whole
// fleet runs one policy version: every replica's policy.Manager appends to
// it, and Follow makes each replica apply the versions the others append
// (policy.Manager.Sync). Versions are numbered 1, 2, 3... with no gaps:
// a version is created only if its number is free (Store.Create), so two
// replicas appending at once never share a number — the loser takes the
// next.
//
// A version's record is kept whole in one value. Backends bound values:
// NATS's default max_payload is 1 MiB (raise it, or keep documents
// smaller); Redis takes up to 512 MB. PolicyStore never closes the Store.
type PolicyStore struct {
	s       Store
	timeout time.Duration
}

// NewPolicyStore returns a policy.Store kept in s.
func NewPolicyStore(s Store) *PolicyStore {
	return &PolicyStore{s: s, timeout: 5 * time.Second}
}

var _ policy.Store = (*PolicyStore)(nil)

func versionKey(v uint64) string { return "v" + strconv.FormatUint(v, 10) }

// ctx bounds a store call by the PolicyStore's timeout.
func (p *PolicyStore) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.timeout)
}

// latest returns the latest version's number (0 when there is none).
func (p *PolicyStore) latest(ctx context.Context) (uint64, error) {
	c, cancel := p.ctx(ctx)
	defer cancel()
	var n uint64
	e, ok, err := p.s.Get(c, KindPolicy, latestKey)
	if err != nil {
		return 0, err
	}
	if ok {
		var v uint64
		if err := decode(KindPolicy, e.Value, &v); err != nil {
			return 0, fmt.Errorf("fleet: the latest policy version pointer: %w", err)
		}
		n = v
	}
	for { // the pointer may lag: walk forward
		_, ok, err := p.s.Get(c, KindPolicy, versionKey(n+1))
		if err != nil {
			return 0, err
		}
		if !ok {
			return n, nil
		}
		n++
	}
}

// advance moves the latest pointer up to n (never down).
func (p *PolicyStore) advance(ctx context.Context, n uint64) error {
	c, cancel := p.ctx(ctx)
	defer cancel()
	val, err := encode(KindPolicy, n)
	if err != nil {
		return err
	}
	for range maxAppendTries {
		created, cur, err := p.s.Create(c, KindPolicy, latestKey, val, 0)
		if err != nil || created {
			return err
		}
		var v uint64
		if decode(KindPolicy, cur.Value, &v) == nil && v >= n {
			return nil
		}
		ok, err := p.s.CompareAndPut(c, KindPolicy, latestKey, cur.Value, val, 0)
		if err != nil || ok {
			return err
		}
	}
	return errors.New("fleet: the latest policy version pointer keeps changing")
}

// Append stores rec as the next version and returns it with Version (and
// At, when zero) filled in.
func (p *PolicyStore) Append(ctx context.Context, rec policy.Record) (policy.Record, error) {
	if len(rec.Document) == 0 {
		return policy.Record{}, errors.New("fleet: policy record: document: must not be empty")
	}
	if rec.Hash == "" {
		return policy.Record{}, errors.New("fleet: policy record: hash: must not be empty")
	}
	if rec.At.IsZero() {
		rec.At = time.Now().UTC()
	}
	n, err := p.latest(ctx)
	if err != nil {
		return policy.Record{}, fmt.Errorf("fleet: reading the latest policy version: %w", err)
	}
	for try := range maxAppendTries {
		if try > 0 {
			// Another replica took n: start again from the latest (it may
			// be well past n under contention).
			if n, err = p.latest(ctx); err != nil {
				return policy.Record{}, fmt.Errorf("fleet: reading the latest policy version: %w", err)
			}
		}
		n++
		rec.Version = n
		val, err := encode(KindPolicy, rec)
		if err != nil {
			return policy.Record{}, err
		}
		c, cancel := p.ctx(ctx)
		created, _, err := p.s.Create(c, KindPolicy, versionKey(n), val, 0)
		cancel()
		if err != nil {
			return policy.Record{}, fmt.Errorf("fleet: storing policy version %d: %w", n, err)
		}
		if created {
			// A pointer left behind is repaired by the next reader.
			_ = p.advance(ctx, n)
			return rec, nil
		}
	}
	return policy.Record{}, fmt.Errorf("fleet: storing a policy version: %d numbers in a row were taken by other replicas", maxAppendTries)
}

// Get returns the record of version v, or an error wrapping
// policy.ErrNoVersion.
func (p *PolicyStore) Get(ctx context.Context, v uint64) (policy.Record, error) {
	c, cancel := p.ctx(ctx)
	defer cancel()
	e, ok, err := p.s.Get(c, KindPolicy, versionKey(v))
	if err != nil {
		return policy.Record{}, err
	}
	if !ok {
		return policy.Record{}, fmt.Errorf("fleet: policy version %d: %w", v, policy.ErrNoVersion)
	}
	var rec policy.Record
	if err := decode(KindPolicy, e.Value, &rec); err != nil {
		return policy.Record{}, fmt.Errorf("fleet: policy version %d: %w", v, err)
	}
	if rec.Version != v {
		return policy.Record{}, fmt.Errorf("fleet: policy version %d: the stored record says version %d", v, rec.Version)
	}
	return rec, nil
}

// List returns up to limit records, newest first (limit <= 0: all).
func (p *PolicyStore) List(ctx context.Context, limit int) ([]policy.Record, error) {
	n, err := p.latest(ctx)
	if err != nil {
		return nil, err
	}
	var out []policy.Record
	for v := n; v >= 1 && (limit <= 0 || len(out) < limit); v-- {
		rec, err := p.Get(ctx, v)
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// Latest returns the newest record; ok is false for an empty store.
func (p *PolicyStore) Latest(ctx context.Context) (rec policy.Record, ok bool, err error) {
	n, err := p.latest(ctx)
	if err != nil || n == 0 {
		return policy.Record{}, false, err
	}
	rec, err = p.Get(ctx, n)
	return rec, err == nil, err
}

// Close does nothing: the fleet's Store belongs to its owner.
func (p *PolicyStore) Close() error { return nil }

// Follow keeps m on the fleet's latest policy version until ctx ends: it
// calls m.Sync when the store hints at a new version, whenever its watch
// (re)subscribes, and every period (default 10 s) in case hints were lost.
// Errors (a store down, a version this replica's registry refuses) are
// passed to onErr, if not nil, and Follow carries on; it returns ctx's
// error. m must have been made with this PolicyStore.
func (p *PolicyStore) Follow(ctx context.Context, m *policy.Manager, period time.Duration, onErr func(error)) error {
	if period <= 0 {
		period = 10 * time.Second
	}
	report := func(err error) {
		if err != nil && onErr != nil && ctx.Err() == nil {
			onErr(err)
		}
	}
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	go func() {
		backoff := 100 * time.Millisecond
		for ctx.Err() == nil {
			err := p.s.Watch(ctx, func(h Hint) {
				if h.Resync || h.Kind == KindPolicy {
					poke()
				}
			})
			if ctx.Err() != nil {
				return
			}
			report(fmt.Errorf("fleet: watching policy versions: %w", err))
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		_, _, err := m.Sync(ctx)
		report(err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wake:
		case <-t.C:
		}
	}
}
