package admin

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// memStore is a HistoryStore in memory, keyed as a real store is.
type memStore struct {
	mu      sync.Mutex
	rs      map[string]HistoryRollup // by guard, step, start
	appends int
	loadErr error
}

func newMemStore() *memStore { return &memStore{rs: map[string]HistoryRollup{}} }

func (m *memStore) AppendRollups(ctx context.Context, rs []HistoryRollup) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.appends++
	for _, r := range rs {
		m.rs[r.Guard+"|"+r.Step.String()+"|"+r.Start.String()] = r
	}
	return nil
}

func (m *memStore) LoadRollups(ctx context.Context, since time.Time) ([]HistoryRollup, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loadErr != nil {
		return nil, m.loadErr
	}
	var out []HistoryRollup
	for _, r := range m.rs {
		if !r.Start.Before(since) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memStore) get(guard string, step time.Duration, start time.Time) (HistoryRollup, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rs[guard+"|"+step.String()+"|"+start.UTC().String()]
	return r, ok
}

// callN makes n calls of the guard name, failed ones first.
func callN(t testing.TB, reg *core.Registry, name string, n, failed int) {
	t.Helper()
	g := reg.MustGuard(name)
	for i := range n {
		p, err := g.Allow(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if i < failed {
			p.Done(errors.New("boom"))
		} else {
			p.Done(nil)
		}
	}
}

// index is the position of the rollup starting at t in h.
func index(h History, t time.Time) int {
	return int(t.Sub(h.Start) / time.Duration(h.Step))
}

func TestHistoryContinuesAcrossRestart(t *testing.T) {
	store := newMemStore()
	// Near the real time: the served history ends at the last observation,
	// which the sampler makes at the real time once a request starts it.
	base := time.Now().Truncate(time.Minute).Add(-30 * time.Minute)

	// Server 1 observes two spans of calls and closes.
	reg1 := testRegistry(t)
	s1, err := New(reg1, WithHistoryStore(store), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	s1.SampleAt(base)
	callN(t, reg1, "search", 3, 1)
	s1.SampleAt(base.Add(10 * time.Second))
	callN(t, reg1, "search", 2, 0)
	s1.SampleAt(base.Add(2 * time.Minute))
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if r, ok := store.get("search", LongRollup, base); !ok || r.Calls != 5 || r.Failed != 1 {
		t.Fatalf("stored minute rollup %+v %v", r, ok)
	}

	// Server 2, a new registry (a new process) on the same store, serves
	// them through GET /v1/history.
	a := newTestAPI(t, WithHistoryStore(store))
	a.srv.SampleAt(base.Add(3 * time.Minute))
	var h History
	a.do(http.MethodGet, "/v1/history?guard=search", readSecret, nil).ok(t, &h)
	i := index(h, base)
	if i < 0 || i+1 >= len(h.Guards[0].Calls) {
		t.Fatalf("history from %v, %d rollups: the stored ones are missing: %+v", h.Start, len(h.Guards[0].Calls), h.Guards[0])
	}
	g := h.Guards[0]
	if g.Calls[i] != 3 || g.Failed[i] != 1 || g.Calls[i+1] != 2 {
		t.Fatalf("short rollups at %d: calls %v failed %v", i, g.Calls[i:i+2], g.Failed[i:i+2])
	}
	a.do(http.MethodGet, "/v1/history?guard=search&range=24h", readSecret, nil).ok(t, &h)
	if i := index(h, base); h.Guards[0].Calls == nil || h.Guards[0].Calls[i] != 5 {
		t.Fatalf("long history %+v", h.Guards[0])
	}
	if st := h.Stats.Store; st == nil || st.Loaded != 3 || st.Failed != 0 {
		t.Fatalf("store stats %+v", st)
	}
}

func TestHistoryRestartWithinARollupContinuesIt(t *testing.T) {
	store := newMemStore()
	base := time.Now().Truncate(time.Minute).Add(-30 * time.Minute)
	reg1 := testRegistry(t)
	s1, err := New(reg1, WithHistoryStore(store))
	if err != nil {
		t.Fatal(err)
	}
	s1.SampleAt(base)
	callN(t, reg1, "search", 3, 0)
	s1.SampleAt(base.Add(5 * time.Second)) // the span is under way at Close
	s1.Close()
	if r, ok := store.get("search", ShortRollup, base); !ok || r.Calls != 3 {
		t.Fatalf("the rollup under way was not written at Close: %+v %v", r, ok)
	}

	reg2 := testRegistry(t)
	s2, err := New(reg2, WithHistoryStore(store))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.SampleAt(base.Add(6 * time.Second))
	callN(t, reg2, "search", 2, 0)
	s2.SampleAt(base.Add(10 * time.Second))
	h := s2.hist.read([]string{"search"}, false, false)
	if i := index(h, base); h.Guards[0].Calls[i] != 5 {
		t.Fatalf("the restarted span holds %d calls, want 3+2", h.Guards[0].Calls[i])
	}
	s2.Close()
	if r, _ := store.get("search", ShortRollup, base); r.Calls != 5 {
		t.Fatalf("the completed rollup was not rewritten: %+v", r)
	}
}

func TestHistoryRestoredGuardNotYetCreatedIsKept(t *testing.T) {
	store := newMemStore()
	base := time.Now().Truncate(time.Minute).Add(-30 * time.Minute)
	reg1 := testRegistry(t)
	s1, _ := New(reg1, WithHistoryStore(store))
	s1.SampleAt(base)
	callN(t, reg1, "lazy", 4, 0)
	s1.SampleAt(base.Add(time.Minute))
	s1.Close()

	// The new process creates "lazy" only on its first call: its history
	// must survive the observations made before.
	reg2 := testRegistry(t)
	s2, _ := New(reg2, WithHistoryStore(store))
	defer s2.Close()
	s2.SampleAt(base.Add(2 * time.Minute))
	s2.SampleAt(base.Add(3 * time.Minute))
	callN(t, reg2, "lazy", 1, 0)
	s2.SampleAt(base.Add(4 * time.Minute))
	h := s2.hist.read([]string{"lazy"}, true, false)
	g := h.Guards[0]
	if g.Calls == nil || g.Calls[index(h, base)] != 4 || g.Calls[index(h, base.Add(3*time.Minute))] != 1 {
		t.Fatalf("lazy guard's history %+v", g)
	}
}

func TestHistoryStoreLoadFailureIsNotFatal(t *testing.T) {
	store := newMemStore()
	store.loadErr = errors.New("disk on fire")
	var logs bytes.Buffer
	s, err := New(testRegistry(t), WithHistoryStore(store), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err != nil {
		t.Fatalf("New failed on a store that cannot load: %v", err)
	}
	defer s.Close()
	st := s.hist.read(nil, false, false).Stats.Store
	if st == nil || st.Failed != 1 || !strings.Contains(st.LastError, "disk on fire") || !strings.Contains(logs.String(), "disk on fire") {
		t.Fatalf("stats %+v, log %q", st, logs.String())
	}
}

// stuckStore never completes a write before its context ends.
type stuckStore struct{ memStore }

func (s *stuckStore) AppendRollups(ctx context.Context, rs []HistoryRollup) error {
	<-ctx.Done()
	return ctx.Err()
}

// failingStore fails every write.
type failingStore struct{ memStore }

func (s *failingStore) AppendRollups(ctx context.Context, rs []HistoryRollup) error {
	return errors.New("read-only file system")
}

func TestHistoryStoreStuckNeverBlocksObservationsOrReads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := testRegistry(t)
		store := &stuckStore{memStore: *newMemStore()}
		s, err := New(reg, WithHistoryStore(store), WithHistoryStoreTimeout(time.Minute), WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		// Far more complete rollups than the queue holds; time does not
		// move while this goroutine runs, so the store never returns: a
		// blocking observation would deadlock the bubble.
		for i := range 3 * historyQueue {
			callN(t, reg, "search", 1, 0)
			s.SampleAt(start.Add(time.Duration(i) * ShortRollup))
		}
		h := s.hist.read([]string{"search"}, false, false)
		if st := h.Stats.Store; st.Dropped == 0 || st.Written != 0 {
			t.Fatalf("stats while stuck %+v", st)
		}
		if h.Guards[0].Calls == nil {
			t.Fatal("the history stopped while the store was stuck")
		}
		s.Close() // gives up after the timeout
		if d := time.Since(start); d > 2*time.Minute {
			t.Fatalf("Close waited %v", d)
		}
		st := s.hist.read(nil, false, false).Stats.Store
		if st.Failed == 0 || st.Written != 0 || !strings.Contains(st.LastError, "context") {
			t.Fatalf("stats after Close %+v", st)
		}
	})
}

func TestHistoryStoreFailuresAreCountedAndLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := testRegistry(t)
		var logs syncBuffer
		s, err := New(reg, WithHistoryStore(&failingStore{memStore: *newMemStore()}), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		for i := range 5 {
			callN(t, reg, "search", 1, 0)
			s.SampleAt(start.Add(time.Duration(i) * ShortRollup))
			synctest.Wait()
		}
		s.Close()
		st := s.hist.read(nil, false, false).Stats.Store
		if st.Failed == 0 || st.Written != 0 || st.LastError != "read-only file system" {
			t.Fatalf("stats %+v", st)
		}
		if !strings.Contains(logs.String(), "read-only file system") {
			t.Fatalf("log %q", logs.String())
		}
	})
}

func TestWithHistoryStoreRefusesBadValues(t *testing.T) {
	if _, err := New(testRegistry(t), WithHistoryStore(nil)); err == nil || !strings.Contains(err.Error(), "historyStore") {
		t.Fatalf("nil store: %v", err)
	}
	_, err := New(testRegistry(t), WithHistoryStore(newMemStore()), WithHistoryStoreTimeout(-time.Second))
	if err == nil || !strings.Contains(err.Error(), "historyStoreTimeout: -1s") {
		t.Fatalf("negative timeout: %v", err)
	}
}

func TestHistoryWithoutStoreHasNoStoreStats(t *testing.T) {
	s, _ := New(testRegistry(t))
	defer s.Close()
	if st := s.hist.read(nil, false, false).Stats; st.Store != nil {
		t.Fatalf("stats %+v", st)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
