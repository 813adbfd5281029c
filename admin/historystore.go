package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// HistoryRollup is one guard's counter increments over one rollup span, as
// a HistoryStore keeps them: the unit the server writes when a rollup is
// complete and reads back when it starts.
type HistoryRollup struct {
	// Guard is the guard's name.
	Guard string
	// Start is the start of the rollup's span, a multiple of Step since
	// the Unix epoch; Step is ShortRollup or LongRollup.
	Start time.Time
	Step  time.Duration
	// The counts of the span (see GuardHistory): admitted calls, by
	// outcome, slow calls, and rejections by reason.
	Calls, Succeeded, Failed, Slow              uint32
	RejectedOpen, RejectedFull, RejectedLimited uint32
	// Severity is the most severe breaker state seen in the span: 0
	// closed (or disabled, metrics-only), 1 half-open, 2 open, 3 forced
	// open.
	Severity uint8
}

// HistoryStore keeps the rollup history across restarts (see
// WithHistoryStore). The module
// github.com/breakerbox/breakerbox/admin/historystore/sqlitestore is one,
// in a SQLite file.
//
// The server calls AppendRollups from one goroutine of its own, never on
// a request's path, and LoadRollups once, from New. Both must honour ctx:
// the server bounds every call with the store's timeout (see
// WithHistoryStoreTimeout). Retention (how long and how much the store
// keeps) is the store's own business; the server never reads further back
// than LongHistory.
type HistoryStore interface {
	// AppendRollups stores complete rollups, all or none. A rollup of a
	// guard, step and start the store holds already replaces it.
	AppendRollups(ctx context.Context, rs []HistoryRollup) error
	// LoadRollups returns the stored rollups that start at or after
	// since, in any order.
	LoadRollups(ctx context.Context, since time.Time) ([]HistoryRollup, error)
}

// DefaultHistoryStoreTimeout bounds each call of the server to its
// HistoryStore unless WithHistoryStoreTimeout says otherwise.
const DefaultHistoryStoreTimeout = 5 * time.Second

// historyQueue is how many batches of complete rollups (one per
// observation that completes a rollup) may wait for a slow store before
// new ones are dropped: 64 batches are at least ten minutes of history.
const historyQueue = 64

// historyStoreConfig is what WithHistoryStore and WithHistoryStoreTimeout
// set.
type historyStoreConfig struct {
	store   HistoryStore
	timeout time.Duration
}

// WithHistoryStore keeps the rollup history behind the dashboard's charts
// in st, so that its trends continue across a restart: New loads the
// rollups of the last LongHistory from st (a failure is logged and
// counted, and the server starts with an empty history), and every
// rollup, once complete, is written to st by a goroutine of the server's,
// off the path of calls and requests. A slow or failing store never
// blocks them: a failed write is logged and counted (see
// HistoryStats.Store), and while writes are slower than rollups complete,
// rollups beyond a queue of 64 observations are dropped and counted.
// Close writes what is queued, waiting at most the store's timeout.
// Without WithHistoryStore, WithHistoryStoreTimeout does nothing.
//
// Close also writes the rollups under way (after a last observation, if
// the sampler ran; fed by SampleAt, the observations are the caller's), so
// that a server restarted within their span continues them. What a
// process killed without Close had not written (at most the rollups under
// way, and the queue) is lost. See docs/history.md.
func WithHistoryStore(st HistoryStore) Option {
	return optionFunc(func(c *config) error {
		if st == nil {
			return errors.New("admin: historyStore: nil store")
		}
		if c.historyStore == nil {
			c.historyStore = &historyStoreConfig{timeout: DefaultHistoryStoreTimeout}
		}
		c.historyStore.store = st
		return nil
	})
}

// WithHistoryStoreTimeout bounds each call to the HistoryStore of
// WithHistoryStore (default DefaultHistoryStoreTimeout), and how long
// Close waits for the queued rollups to be written. It must be positive.
func WithHistoryStoreTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("admin: historyStoreTimeout: %v must be positive", d)
		}
		if c.historyStore == nil {
			c.historyStore = &historyStoreConfig{}
		}
		c.historyStore.timeout = d
		return nil
	})
}

// persister writes complete rollups to a HistoryStore from a goroutine of
// its own, started with the first batch.
type persister struct {
	store   HistoryStore
	timeout time.Duration
	log     *slog.Logger

	mu       sync.Mutex // guards the fields below
	started  bool
	closed   bool
	dropping bool // the last batch was dropped: log again only when it is not

	ch     chan []HistoryRollup
	done   chan struct{} // closed when run returns
	ctx    context.Context
	cancel context.CancelFunc

	// Counted in rollups.
	loaded, written, failed, dropped atomic.Uint64
	lastErr                          atomic.Pointer[string]
}

func newPersister(c *historyStoreConfig, log *slog.Logger) *persister {
	ctx, cancel := context.WithCancel(context.Background())
	return &persister{
		store: c.store, timeout: c.timeout, log: log,
		ch: make(chan []HistoryRollup, historyQueue), done: make(chan struct{}),
		ctx: ctx, cancel: cancel,
	}
}

// enqueue hands a batch to the writer goroutine. It never waits: when the
// queue is full, or the server closed, the batch is dropped and counted.
func (p *persister) enqueue(b []HistoryRollup) {
	if len(b) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.dropped.Add(uint64(len(b)))
		return
	}
	if !p.started {
		p.started = true
		go p.run()
	}
	select {
	case p.ch <- b:
		p.dropping = false
	default:
		p.dropped.Add(uint64(len(b)))
		if !p.dropping {
			p.dropping = true
			p.log.Warn("breakerbox admin: the history store falls behind; rollups are dropped", "rollups", len(b))
		}
	}
}

func (p *persister) run() {
	defer close(p.done)
	for b := range p.ch {
		if p.ctx.Err() != nil { // Close gave up waiting
			p.dropped.Add(uint64(len(b)))
			continue
		}
		ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
		err := p.store.AppendRollups(ctx, b)
		cancel()
		if err != nil {
			p.failed.Add(uint64(len(b)))
			msg := err.Error()
			p.lastErr.Store(&msg)
			p.log.Error("breakerbox admin: writing rollups to the history store failed", "rollups", len(b), "err", err)
			continue
		}
		p.written.Add(uint64(len(b)))
	}
}

// close stops taking batches and waits for the queued ones to be written,
// at most the store's timeout; then it cancels the write under way and
// drops the rest, waiting at most another timeout for a store that does
// not honour its context.
func (p *persister) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	started := p.started
	close(p.ch)
	p.mu.Unlock()
	if !started {
		p.cancel()
		return
	}
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		p.cancel()
		t.Reset(p.timeout)
		select {
		case <-p.done:
		case <-t.C:
		}
	}
	p.cancel()
}

// stats returns the store's counters for HistoryStats.
func (p *persister) stats() *HistoryStoreStats {
	st := &HistoryStoreStats{Loaded: p.loaded.Load(), Written: p.written.Load(), Failed: p.failed.Load(), Dropped: p.dropped.Load()}
	if e := p.lastErr.Load(); e != nil {
		st.LastError = *e
	}
	return st
}

// load reads the rollups of the last LongHistory before now from the
// store into h. A failure is logged and counted; the history starts empty.
func (p *persister) load(h *history, now time.Time) {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	rs, err := p.store.LoadRollups(ctx, now.Add(-LongHistory))
	if err != nil {
		msg := "load: " + err.Error()
		p.lastErr.Store(&msg)
		p.failed.Add(1)
		p.log.Error("breakerbox admin: loading the history store failed; the history starts empty", "err", err)
		return
	}
	p.loaded.Add(uint64(h.restore(rs, now)))
}

// completed returns the rollups an observation completed: those of the
// ShortRollup bucket sb if the observation at now completed it, and of the
// LongRollup bucket lb if it completed that; h.mu is held.
func (h *history) completed(sb, lb uint32, now time.Time) []HistoryRollup {
	shortDone := bucketOf(now, ShortRollup) > sb
	longDone := bucketOf(now, LongRollup) > lb
	if !shortDone && !longDone {
		return nil
	}
	var out []HistoryRollup
	emit := func(name string, r *rollup, span time.Duration) {
		out = append(out, HistoryRollup{
			Guard: name, Start: time.Unix(int64(r.bucket)*int64(span/time.Second), 0).UTC(), Step: span,
			Calls: r.calls, Succeeded: r.succeeded, Failed: r.failed, Slow: r.slow,
			RejectedOpen: r.rejBreaker, RejectedFull: r.rejFull, RejectedLimited: r.rejLimited,
			Severity: r.worst,
		})
	}
	for name, s := range h.series {
		if l := s.short.last(); shortDone && l != nil && l.bucket == sb {
			emit(name, l, ShortRollup)
		}
		if l := s.long.last(); longDone && l != nil && l.bucket == lb {
			emit(name, l, LongRollup)
		}
	}
	return out
}

// restore adds stored rollups to an empty history, before its first
// observation, and returns how many it kept: those of a known step within
// their window before now. A series restored for a guard the registry
// does not have (yet) is kept until it ages out of the long window.
func (h *history) restore(rs []HistoryRollup, now time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	oldShort := int64(bucketOf(now, ShortRollup)) - int64(shortLen)
	oldLong := int64(bucketOf(now, LongRollup)) - int64(longLen)
	var keep []HistoryRollup
	for _, r := range rs {
		if r.Guard == "" || r.Start.After(now) {
			continue
		}
		switch r.Step {
		case ShortRollup:
			if int64(bucketOf(r.Start, ShortRollup)) < oldShort {
				continue
			}
		case LongRollup:
			if int64(bucketOf(r.Start, LongRollup)) < oldLong {
				continue
			}
		default:
			continue
		}
		keep = append(keep, r)
	}
	// Rings take rollups in bucket order.
	slices.SortFunc(keep, func(a, b HistoryRollup) int { return a.Start.Compare(b.Start) })
	for _, r := range keep {
		s := h.series[r.Guard]
		if s == nil {
			s = newSeries()
			s.restored = true
			h.series[r.Guard] = s
		}
		x := rollup{
			calls: r.Calls, succeeded: r.Succeeded, failed: r.Failed, slow: r.Slow,
			rejBreaker: r.RejectedOpen, rejFull: r.RejectedFull, rejLimited: r.RejectedLimited,
			worst: min(r.Severity, 3),
		}
		rg := &s.short
		x.bucket = bucketOf(r.Start, ShortRollup)
		if r.Step == LongRollup {
			rg = &s.long
			x.bucket = bucketOf(r.Start, LongRollup)
		}
		rg.add(x)
		if r.Calls|r.RejectedOpen|r.RejectedFull|r.RejectedLimited != 0 {
			s.active = max(s.active, bucketOf(r.Start, LongRollup))
		}
	}
	for name, s := range h.series {
		h.account(s, name)
	}
	if h.bytes > h.limit {
		h.trim(h.trimTo(), 0)
	}
	return len(keep)
}

// keepRestored reports whether a series the last observation did not find
// in the registry is kept: a restored one, until its newest rollup leaves
// the long window (oldLong is the oldest LongRollup bucket in it); h.mu is
// held.
func (s *series) keepRestored(oldLong int64) bool {
	if !s.restored {
		return false
	}
	var newest int64 // a LongRollup bucket
	if l := s.long.last(); l != nil {
		newest = int64(l.bucket)
	}
	if l := s.short.last(); l != nil {
		newest = max(newest, int64(l.bucket)*int64(ShortRollup/time.Second)/int64(LongRollup/time.Second))
	}
	return newest > 0 && newest >= oldLong
}

// partial returns the rollups under way at the last observation, which
// no observation completed yet: written when the server closes, so that a
// restart within their span continues them (AppendRollups replaces them
// once they are complete); h.mu is held.
func (h *history) partial() []HistoryRollup {
	if h.last.IsZero() {
		return nil
	}
	return h.completed(bucketOf(h.last, ShortRollup), bucketOf(h.last, LongRollup), h.last.Add(LongRollup))
}

// closeStore writes the rollups under way, after a last observation if the
// sampler ran (otherwise the observations are the caller's, see SampleAt),
// and waits for the queue to be written (see persister.close).
func (s *Server) closeStore(observe bool) {
	p := s.hist.persist
	if p == nil {
		return
	}
	if observe {
		s.hist.observe(s.now(), s.reg.Snapshot())
	}
	s.hist.mu.Lock()
	b := s.hist.partial()
	s.hist.mu.Unlock()
	p.enqueue(b)
	p.close()
}
