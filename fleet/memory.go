package fleet

import (
	"bytes"
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// MemoryStore is a Store (and a RateStore) held in the process's memory,
// for tests, examples and single-process demos: several registries of one
// process joined to one MemoryStore behave as replicas of a fleet. Entries
// expire on the store's clock (time.Now unless MemoryClock says otherwise,
// so that tests under testing/synctest see fake time). Every change sends a
// hint to every watcher; expiry sends none (as with Redis, whose keyspace
// notifications Join does not use).
//
// Client returns another client of the same data, closed independently, as
// a second process would hold. A MemoryStore is safe for concurrent use.
type MemoryStore struct {
	m      *memory
	closed atomic.Bool
	// Down, when set, makes every call fail with ErrUnavailable (as an
	// unreachable server would), for tests of the failure modes.
	down atomic.Bool
}

// ErrUnavailable is returned by a MemoryStore set down with SetDown.
var ErrUnavailable = errorString("fleet: memory store unavailable")

type errorString string

func (e errorString) Error() string { return string(e) }

// MemoryOption configures NewMemoryStore.
type MemoryOption func(*memory)

// MemoryClock sets the clock the store expires entries and runs rate
// limits on (default time.Now).
func MemoryClock(now func() time.Time) MemoryOption {
	return func(m *memory) {
		if now != nil {
			m.now = now
		}
	}
}

// memory is the data a MemoryStore's clients share.
type memory struct {
	now func() time.Time

	mu       sync.Mutex
	kinds    map[Kind]map[string]memEntry
	rev      uint64
	version  uint64
	watchers map[*memWatcher]struct{}
	rates    map[string]time.Time // GCRA theoretical arrival time per key
}

type memEntry struct {
	value   []byte
	rev     uint64
	expires time.Time // zero: never
}

type memWatcher struct {
	fn func(Hint)
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(opts ...MemoryOption) *MemoryStore {
	m := &memory{now: time.Now, kinds: map[Kind]map[string]memEntry{}, watchers: map[*memWatcher]struct{}{}, rates: map[string]time.Time{}}
	for _, o := range opts {
		if o != nil {
			o(m)
		}
	}
	return &MemoryStore{m: m}
}

// Client returns a new client of the same data: what one client writes,
// the others read, and Close closes only this one.
func (s *MemoryStore) Client() *MemoryStore { return &MemoryStore{m: s.m} }

// SetDown makes this client fail every call with ErrUnavailable (down
// true) or work again (false); a Watch in progress returns
// ErrUnavailable. Tests use it to take a replica's store away.
func (s *MemoryStore) SetDown(down bool) { s.down.Store(down) }

func (s *MemoryStore) check(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.down.Load() {
		return ErrUnavailable
	}
	return ctx.Err()
}

// live returns key's entry if present and unexpired, deleting it if
// expired. m.mu is held.
func (m *memory) live(kind Kind, key string, now time.Time) (memEntry, bool) {
	e, ok := m.kinds[kind][key]
	if !ok {
		return memEntry{}, false
	}
	if !e.expires.IsZero() && !now.Before(e.expires) {
		delete(m.kinds[kind], key)
		return memEntry{}, false
	}
	return e, true
}

// setLocked writes key and returns the watchers to hint. m.mu is held.
func (m *memory) setLocked(kind Kind, key string, value []byte, ttl time.Duration, now time.Time) []*memWatcher {
	if m.kinds[kind] == nil {
		m.kinds[kind] = map[string]memEntry{}
	}
	m.rev++
	e := memEntry{value: bytes.Clone(value), rev: m.rev}
	if ttl > 0 {
		e.expires = now.Add(ttl)
	}
	m.kinds[kind][key] = e
	return m.watchersLocked()
}

func (m *memory) watchersLocked() []*memWatcher {
	ws := make([]*memWatcher, 0, len(m.watchers))
	for w := range m.watchers {
		ws = append(ws, w)
	}
	return ws
}

// hint sends h to ws, outside the lock.
func hint(ws []*memWatcher, h Hint) {
	for _, w := range ws {
		func() {
			defer func() { _ = recover() }()
			w.fn(h)
		}()
	}
}

// Put implements Store.
func (s *MemoryStore) Put(ctx context.Context, kind Kind, key string, value []byte, ttl time.Duration) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	m := s.m
	m.mu.Lock()
	ws := m.setLocked(kind, key, value, ttl, m.now())
	m.mu.Unlock()
	hint(ws, Hint{Kind: kind, Key: key})
	return nil
}

// Create implements Store.
func (s *MemoryStore) Create(ctx context.Context, kind Kind, key string, value []byte, ttl time.Duration) (bool, Entry, error) {
	if err := s.check(ctx); err != nil {
		return false, Entry{}, err
	}
	m := s.m
	m.mu.Lock()
	now := m.now()
	if e, ok := m.live(kind, key, now); ok {
		m.mu.Unlock()
		return false, Entry{Key: key, Value: bytes.Clone(e.value), Revision: e.rev}, nil
	}
	ws := m.setLocked(kind, key, value, ttl, now)
	m.mu.Unlock()
	hint(ws, Hint{Kind: kind, Key: key})
	return true, Entry{}, nil
}

// CompareAndPut implements Store.
func (s *MemoryStore) CompareAndPut(ctx context.Context, kind Kind, key string, old, value []byte, ttl time.Duration) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	m := s.m
	m.mu.Lock()
	now := m.now()
	if e, ok := m.live(kind, key, now); !ok || !bytes.Equal(e.value, old) {
		m.mu.Unlock()
		return false, nil
	}
	ws := m.setLocked(kind, key, value, ttl, now)
	m.mu.Unlock()
	hint(ws, Hint{Kind: kind, Key: key})
	return true, nil
}

// CompareAndDelete implements Store.
func (s *MemoryStore) CompareAndDelete(ctx context.Context, kind Kind, key string, old []byte) (bool, error) {
	if err := s.check(ctx); err != nil {
		return false, err
	}
	m := s.m
	m.mu.Lock()
	if e, ok := m.live(kind, key, m.now()); !ok || !bytes.Equal(e.value, old) {
		m.mu.Unlock()
		return false, nil
	}
	delete(m.kinds[kind], key)
	ws := m.watchersLocked()
	m.mu.Unlock()
	hint(ws, Hint{Kind: kind, Key: key})
	return true, nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(ctx context.Context, kind Kind, key string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	m := s.m
	m.mu.Lock()
	_, ok := m.live(kind, key, m.now())
	delete(m.kinds[kind], key)
	var ws []*memWatcher
	if ok {
		ws = m.watchersLocked()
	}
	m.mu.Unlock()
	hint(ws, Hint{Kind: kind, Key: key})
	return nil
}

// Get implements Store.
func (s *MemoryStore) Get(ctx context.Context, kind Kind, key string) (Entry, bool, error) {
	if err := s.check(ctx); err != nil {
		return Entry{}, false, err
	}
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.live(kind, key, m.now())
	if !ok {
		return Entry{}, false, nil
	}
	return Entry{Key: key, Value: bytes.Clone(e.value), Revision: e.rev}, true, nil
}

// List implements Store.
func (s *MemoryStore) List(ctx context.Context, kind Kind) ([]Entry, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	out := make([]Entry, 0, len(m.kinds[kind]))
	for k := range m.kinds[kind] {
		if e, ok := m.live(kind, k, now); ok {
			out = append(out, Entry{Key: k, Value: bytes.Clone(e.value), Revision: e.rev})
		}
	}
	return out, nil
}

// NextVersion implements Store.
func (s *MemoryStore) NextVersion(ctx context.Context) (uint64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	m.version++
	return m.version, nil
}

// Watch implements Store. It returns ErrClosed when the client is closed
// and ErrUnavailable when it is set down.
func (s *MemoryStore) Watch(ctx context.Context, fn func(Hint)) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	m := s.m
	w := &memWatcher{fn: func(h Hint) {
		if !s.closed.Load() && !s.down.Load() {
			fn(h)
		}
	}}
	m.mu.Lock()
	m.watchers[w] = struct{}{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.watchers, w)
		m.mu.Unlock()
	}()
	hint([]*memWatcher{w}, Hint{Resync: true})
	// Poll the client's flags: a closed or downed client ends its watch.
	// The ticker is coarse; under testing/synctest it costs nothing.
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			if err := s.check(ctx); err != nil {
				return err
			}
		}
	}
}

// Close implements Store: this client's later calls return ErrClosed.
func (s *MemoryStore) Close() error {
	s.closed.Store(true)
	return nil
}

// Take implements RateStore with GCRA on the store's clock: the key's
// theoretical arrival time advances by Period/Limit per call granted, and
// a call is granted while it stays within Burst emissions of now.
func (s *MemoryStore) Take(ctx context.Context, key string, rate Rate, n int) (int, time.Duration, error) {
	if err := s.check(ctx); err != nil {
		return 0, 0, err
	}
	if rate.Limit <= 0 || rate.Period <= 0 || n <= 0 {
		return 0, 0, nil
	}
	burst := rate.Burst
	if burst <= 0 {
		burst = rate.Limit
	}
	emission := float64(rate.Period) / float64(rate.Limit)
	tolerance := time.Duration(math.Min(emission*float64(burst), math.MaxInt64/2))
	step := time.Duration(emission)
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	tat := m.rates[key]
	if tat.Before(now) {
		tat = now
	}
	granted := 0
	for granted < n {
		next := tat.Add(step)
		if next.Sub(now) > tolerance {
			break
		}
		tat = next
		granted++
	}
	m.rates[key] = tat
	if granted == n {
		return granted, 0, nil
	}
	return granted, max(tat.Add(step).Sub(now)-tolerance, 0), nil
}

var (
	_ Store     = (*MemoryStore)(nil)
	_ RateStore = (*MemoryStore)(nil)
)
