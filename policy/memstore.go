package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryStore is a Store that keeps the history in memory: for tests, and
// for a process that needs versions and rollback but not their survival
// across a restart. The zero value is not usable; call NewMemoryStore. It
// is safe for concurrent use.
type MemoryStore struct {
	mu     sync.Mutex
	recs   []Record // ascending by Version
	closed bool
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{} }

// errClosed is returned by a closed store.
var errClosed = errors.New("policy: store is closed")

// Append stores rec as the next version.
func (s *MemoryStore) Append(ctx context.Context, rec Record) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	if err := checkRecord(rec); err != nil {
		return Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Record{}, errClosed
	}
	rec = cloneRecord(rec)
	rec.Version = 1
	if n := len(s.recs); n > 0 {
		rec.Version = s.recs[n-1].Version + 1
	}
	if rec.At.IsZero() {
		rec.At = time.Now().UTC()
	}
	s.recs = append(s.recs, rec)
	return cloneRecord(rec), nil
}

// Get returns version v.
func (s *MemoryStore) Get(ctx context.Context, v uint64) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Record{}, errClosed
	}
	i, ok := slices.BinarySearchFunc(s.recs, v, func(r Record, v uint64) int { return cmpUint(r.Version, v) })
	if !ok {
		return Record{}, fmt.Errorf("%w: %d", ErrNoVersion, v)
	}
	return cloneRecord(s.recs[i]), nil
}

// List returns up to limit records, newest first.
func (s *MemoryStore) List(ctx context.Context, limit int) ([]Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	n := len(s.recs)
	if limit > 0 && limit < n {
		n = limit
	}
	out := make([]Record, 0, n)
	for i := len(s.recs) - 1; i >= 0 && len(out) < n; i-- {
		out = append(out, cloneRecord(s.recs[i]))
	}
	return out, nil
}

// Latest returns the newest record.
func (s *MemoryStore) Latest(ctx context.Context) (Record, bool, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Record{}, false, errClosed
	}
	if len(s.recs) == 0 {
		return Record{}, false, nil
	}
	return cloneRecord(s.recs[len(s.recs)-1]), true, nil
}

// Close makes every later call fail; the history is dropped.
func (s *MemoryStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed, s.recs = true, nil
	return nil
}

// checkRecord refuses a record a store must not keep: one without a
// document or a hash.
func checkRecord(rec Record) error {
	if len(rec.Document) == 0 {
		return errors.New("policy: record: document: must not be empty")
	}
	if rec.Hash == "" {
		return errors.New("policy: record: hash: must not be empty")
	}
	return nil
}

func cloneRecord(r Record) Record {
	r.Document = slices.Clone(r.Document)
	return r
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
