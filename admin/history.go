package admin

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// The rollup history behind the dashboard's sparklines and charts. Every
// observation of the registry (see Server.SampleAt) adds each guard's
// counter increments since the previous observation to two rollups: one of
// ShortRollup, kept for ShortHistory, and one of LongRollup, kept for
// LongHistory.
const (
	// ShortRollup is the span of one rollup of the recent history.
	ShortRollup = 10 * time.Second
	// ShortHistory is how far back the ShortRollup rollups go.
	ShortHistory = time.Hour
	// LongRollup is the span of one rollup of the day's history.
	LongRollup = time.Minute
	// LongHistory is how far back the LongRollup rollups go.
	LongHistory = 24 * time.Hour
)

// DefaultHistoryLimit is the memory the rollup history may hold unless
// WithHistoryLimit says otherwise: 64 MiB, the full day of about 900
// busy guards.
const DefaultHistoryLimit = 64 << 20

const (
	shortLen = int(ShortHistory / ShortRollup) // 360
	longLen  = int(LongHistory / LongRollup)   // 1440
	// guardTransitions is how many recent transitions the history keeps
	// per guard, for the dashboard's detail view.
	guardTransitions = 32

	// What the history's memory is counted in: a rollup (see rollup), a
	// transition without its strings, and what a guard's series costs
	// besides its rollups and transitions (the series, its map entry).
	rollupBytes     = 36
	transitionBytes = 80 // unsafe.Sizeof(Transition{}), checked by a test
	seriesBytes     = 256
	// idleDrop is how long a guard must have been without calls (or
	// rejections) for its history to be dropped to make room for a busy
	// guard's whose was dropped.
	idleDrop = ShortHistory
)

// WithHistoryLimit bounds the memory of the rollup history behind the
// dashboard's charts to n bytes (default DefaultHistoryLimit; see the
// package doc). When an observation leaves the history above n, the
// histories of the guards idle longest are dropped first. A negative n is
// an error.
func WithHistoryLimit(n int64) Option {
	return optionFunc(func(c *config) error {
		if n < 0 {
			return fmt.Errorf("admin: historyLimit: %d must not be negative", n)
		}
		c.historyLimit = n
		return nil
	})
}

// tally is a guard's cumulative counters, as far as the history uses them.
type tally struct {
	calls, succeeded, failed, slow uint64
	rejOpen, rejHalfOpen, rejFull  uint64
	rejLimited                     uint64
	hedges, stale                  uint64 // hedges started, stale answers
}

func tallyOf(g *core.GuardSnapshot) tally {
	b := &g.Breaker
	t := tally{
		calls: b.Admitted, succeeded: b.Succeeded, failed: b.Failed, slow: b.Slow,
		rejOpen: g.Rejected.Open, rejHalfOpen: g.Rejected.HalfOpen, rejFull: g.Rejected.Full, rejLimited: g.Rejected.Limited,
	}
	if g.Hedge != nil {
		t.hedges = g.Hedge.Started
	}
	if g.Cache != nil {
		t.stale = g.Cache.StaleServed
	}
	return t
}

// below reports whether any counter of t is lower than in u: the guard was
// created afresh (pruned and used again) since u was taken.
func (t tally) below(u tally) bool {
	return t.calls < u.calls || t.succeeded < u.succeeded || t.failed < u.failed || t.slow < u.slow ||
		t.rejOpen < u.rejOpen || t.rejHalfOpen < u.rejHalfOpen || t.rejFull < u.rejFull || t.rejLimited < u.rejLimited ||
		t.hedges < u.hedges || t.stale < u.stale
}

// rollup is one guard's counter increments over one rollup span: 36 bytes,
// so a guard's full history (1,802 rollups) takes at most about 64 KiB.
type rollup struct {
	// bucket is the rollup's start as a number of spans since the Unix
	// epoch.
	bucket                          uint32
	calls, succeeded, failed, slow  uint32
	rejBreaker, rejFull, rejLimited uint32
	// worst is the severity of the most severe state seen (see severity).
	worst uint8
}

func (r *rollup) empty() bool {
	return r.calls|r.succeeded|r.failed|r.slow|r.rejBreaker|r.rejFull|r.rejLimited == 0 && r.worst == 0
}

// rejected is the rollup's rejections of every reason.
func (r *rollup) rejected() uint32 { return sat(r.rejBreaker, uint64(r.rejFull)+uint64(r.rejLimited)) }

func (r *rollup) merge(o *rollup) {
	r.calls = sat(r.calls, uint64(o.calls))
	r.succeeded = sat(r.succeeded, uint64(o.succeeded))
	r.failed = sat(r.failed, uint64(o.failed))
	r.slow = sat(r.slow, uint64(o.slow))
	r.rejBreaker = sat(r.rejBreaker, uint64(o.rejBreaker))
	r.rejFull = sat(r.rejFull, uint64(o.rejFull))
	r.rejLimited = sat(r.rejLimited, uint64(o.rejLimited))
	r.worst = max(r.worst, o.worst)
}

// sat adds d to a, saturating at the largest uint32.
func sat(a uint32, d uint64) uint32 {
	if s := uint64(a) + d; s < 1<<32 {
		return uint32(s)
	}
	return 1<<32 - 1
}

// severity orders states for the history: 0 for the states that admit
// calls (closed, disabled, metrics-only), 1 half-open, 2 open, 3 forced
// open.
func severity(s breaker.State) uint8 {
	switch s {
	case breaker.HalfOpen:
		return 1
	case breaker.Open:
		return 2
	case breaker.ForcedOpen:
		return 3
	}
	return 0
}

// ring holds up to max rollups in bucket order, oldest first. It grows as
// rollups come, so that a guard with little traffic takes little memory:
// rollups with nothing in them are not stored at all.
type ring struct {
	buf  []rollup
	head int // index of the oldest rollup once buf is full
	max  int
}

func (r *ring) last() *rollup {
	if len(r.buf) == 0 {
		return nil
	}
	if len(r.buf) < r.max || r.head == 0 {
		return &r.buf[len(r.buf)-1]
	}
	return &r.buf[r.head-1]
}

// add merges x into the newest rollup if it is of the same bucket, and
// otherwise appends it, dropping the oldest when the ring is full. Buckets
// come in order (observations are), so x is never older than the newest.
func (r *ring) add(x rollup) {
	if l := r.last(); l != nil && l.bucket >= x.bucket {
		l.merge(&x)
		return
	}
	if len(r.buf) < r.max {
		if len(r.buf) == cap(r.buf) {
			nb := make([]rollup, len(r.buf), min(r.max, 2*cap(r.buf)+8))
			copy(nb, r.buf)
			r.buf = nb
		}
		r.buf = append(r.buf, x)
		return
	}
	r.buf[r.head] = x
	r.head = (r.head + 1) % r.max
}

// reset empties r and lets its memory go.
func (r *ring) reset() { r.buf, r.head = nil, 0 }

// each calls fn on every rollup, oldest first.
func (r *ring) each(fn func(*rollup)) {
	for i := range r.buf {
		fn(&r.buf[(r.head+i)%len(r.buf)])
	}
}

// series is one guard's history.
type series struct {
	prev        tally
	short, long ring
	// worst is the severity of the most severe state since the last
	// observation, raised by transitions in between.
	worst uint8
	// dropped is set while the series records nothing, its rollups and
	// transitions dropped to keep the history under its limit.
	dropped bool
	trans   []Transition // oldest first, at most guardTransitions
	gen     uint64       // the observation that last saw the guard
	// active is the LongRollup bucket of the last observation that found
	// calls or rejections; 0 if none did.
	active uint32
	// bytes is what the series holds, as counted in history.bytes;
	// transText is the length of its transitions' strings.
	bytes, transText int64
	// restored (persist, historystore.go) is set while the series holds
	// only rollups loaded from the HistoryStore, its guard not observed
	// yet.
	restored bool
}

// size counts the memory s holds (see rollupBytes), rounded up as the
// allocator does.
func (s *series) size(name string) int64 {
	return seriesBytes + int64(len(name)) +
		allocBytes(int64(cap(s.short.buf))*rollupBytes) + allocBytes(int64(cap(s.long.buf))*rollupBytes) +
		allocBytes(int64(cap(s.trans))*transitionBytes) + s.transText
}

// allocBytes is at least what the allocator takes for an object of n
// bytes: a large one (over 32 KiB) takes whole 8 KiB pages, a small one a
// size class at most an eighth larger.
func allocBytes(n int64) int64 {
	if n > 32<<10 {
		return (n + 8<<10 - 1) &^ (8<<10 - 1)
	}
	return n + n/8
}

// drop lets go of s's rollups and transitions, and returns how many
// rollups it held.
func (s *series) drop() int {
	n := len(s.short.buf) + len(s.long.buf)
	s.short.reset()
	s.long.reset()
	s.trans, s.transText = nil, 0
	s.dropped = true
	return n
}

// newSeries returns an empty series. Each ring holds one more rollup than
// the history shows: the one under way.
func newSeries() *series {
	return &series{short: ring{max: shortLen + 1}, long: ring{max: longLen + 1}}
}

// history is the rollup history of every guard of a registry. Its memory
// is bounded per guard (at most shortLen+longLen rollups and
// guardTransitions transitions; guards the registry no longer has are
// dropped at the next observation; rollups older than both windows are
// let go) and in all (limit: see trim).
type history struct {
	mu     sync.Mutex
	last   time.Time // the last observation; zero before the first
	gen    uint64
	series map[string]*series

	limit   int64               // the most bytes to hold
	bytes   int64               // the bytes held: the sum of every series' bytes
	pmu     sync.Mutex          // guards pending; the hook takes it alone, applyPending inside mu
	pending []pendingTransition // transitions waiting for mu

	// droppedSeries counts the series dropped to stay under limit;
	// droppedPoints the rollups they held, and the observations with
	// activity a dropped series did not record.
	droppedSeries, droppedPoints uint64

	// persist (historystore.go), when set, takes the rollups each
	// observation completes, under mu, without blocking.
	persist *persister
}

// newHistory returns an empty history that holds at most limit bytes (0
// for DefaultHistoryLimit).
func newHistory(limit int64) *history {
	if limit == 0 {
		limit = DefaultHistoryLimit
	}
	return &history{series: map[string]*series{}, limit: limit}
}

// account updates h.bytes for a change of s (called name).
func (h *history) account(s *series, name string) {
	n := s.size(name)
	h.bytes += n - s.bytes
	s.bytes = n
}

// resumeAt is how low the history must be for a dropped series to record
// again, and trimTo how low a trim takes it: far enough below the limit
// that series are not dropped and resumed at every observation.
func (h *history) resumeAt() int64 { return h.limit / 4 * 3 }
func (h *history) trimTo() int64   { return h.limit / 8 * 7 }

// trim drops series until the history holds at most target bytes: the
// series of the guards idle longest first (by the last observation with
// calls or rejections), the largest first among equally idle ones. With
// idleBefore > 0 it drops only series idle since before that LongRollup
// bucket.
func (h *history) trim(target int64, idleBefore uint32) {
	type cand struct {
		name string
		s    *series
	}
	var cs []cand
	for name, s := range h.series {
		if s.dropped || cap(s.short.buf)+cap(s.long.buf)+cap(s.trans) == 0 {
			continue
		}
		if idleBefore > 0 && s.active >= idleBefore {
			continue
		}
		cs = append(cs, cand{name, s})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if c := cmp.Compare(a.s.active, b.s.active); c != 0 {
			return c
		}
		if c := cmp.Compare(b.s.bytes, a.s.bytes); c != 0 {
			return c
		}
		return cmp.Compare(a.name, b.name)
	})
	for _, c := range cs {
		if h.bytes <= target {
			return
		}
		h.droppedPoints += uint64(c.s.drop())
		h.droppedSeries++
		h.account(c.s, c.name)
	}
}

func bucketOf(t time.Time, span time.Duration) uint32 {
	return uint32(t.Unix() / int64(span/time.Second))
}

// observe records the guards' counters as observed at now. The increments
// since the previous observation go to the rollups holding the previous
// observation's time: observations are made at (or just after) rollup
// boundaries, so that the increments of a span land in its own rollup. The
// first observation only sets the baseline, and one that is not after the
// previous one is ignored. It reports the ShortRollup bucket the
// observation completed, if it completed one.
func (h *history) observe(now time.Time, snaps []core.GuardSnapshot) (closed uint32, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.applyPending()
	if !h.last.IsZero() && !now.After(h.last) {
		return 0, false
	}
	first := h.last.IsZero()
	sb, lb := bucketOf(h.last, ShortRollup), bucketOf(h.last, LongRollup)
	// Rollups older than these are outside both windows for good.
	oldShort := int64(bucketOf(now, ShortRollup)) - int64(shortLen)
	oldLong := int64(bucketOf(now, LongRollup)) - int64(longLen)
	waiting := false // a dropped series had something to record
	h.gen++
	for i := range snaps {
		g := &snaps[i]
		cur := tallyOf(g)
		s := h.series[g.Name]
		if s == nil {
			s = newSeries()
			h.series[g.Name] = s
			h.account(s, g.Name)
		}
		s.gen = h.gen
		s.restored = false // persist: observed
		if first {
			s.prev = cur
		} else if cur.below(s.prev) {
			s.prev = tally{}
		}
		r := rollup{
			calls:      sat(0, cur.calls-s.prev.calls),
			succeeded:  sat(0, cur.succeeded-s.prev.succeeded),
			failed:     sat(0, cur.failed-s.prev.failed),
			slow:       sat(0, cur.slow-s.prev.slow),
			rejBreaker: sat(0, cur.rejOpen+cur.rejHalfOpen-s.prev.rejOpen-s.prev.rejHalfOpen),
			rejFull:    sat(0, cur.rejFull-s.prev.rejFull),
			rejLimited: sat(0, cur.rejLimited-s.prev.rejLimited),
			worst:      max(s.worst, severity(g.Breaker.State)),
		}
		s.prev = cur
		s.worst = severity(g.Breaker.State)
		if first {
			continue
		}
		busy := r.calls|r.rejBreaker|r.rejFull|r.rejLimited != 0
		if busy {
			s.active = lb
		}
		if s.dropped && !r.empty() {
			if h.bytes > h.resumeAt() {
				waiting = waiting || busy
				h.droppedPoints++
				continue
			}
			s.dropped = false
		}
		grown := false
		if l := s.short.last(); l != nil && int64(l.bucket) < oldShort {
			s.short.reset()
			grown = true
		}
		if l := s.long.last(); l != nil && int64(l.bucket) < oldLong {
			s.long.reset()
			grown = true
		}
		if !r.empty() {
			r.bucket = sb
			s.short.add(r)
			r.bucket = lb
			s.long.add(r)
			grown = true
		}
		if grown {
			h.account(s, g.Name)
		}
	}
	for name, s := range h.series {
		if s.gen != h.gen && !s.keepRestored(oldLong) { // persist: keepRestored
			h.bytes -= s.bytes
			delete(h.series, name)
		}
	}
	switch {
	case h.bytes > h.limit:
		h.trim(h.trimTo(), 0)
	case waiting && h.bytes > h.resumeAt():
		// Busy guards wait to record: make room from the idle ones.
		h.trim(h.resumeAt(), bucketOf(now.Add(-idleDrop), LongRollup))
	}
	// persist: hand the rollups this observation completed to the store.
	if h.persist != nil && !first {
		h.persist.enqueue(h.completed(sb, lb, now))
	}
	h.last = now
	return sb, !first && bucketOf(now, ShortRollup) > sb
}

// maxPendingTransitions is how many transitions may wait for the history
// between two of its uses; more are not kept for the detail view.
const maxPendingTransitions = 4096

// pendingTransition is a transition waiting for the history's lock.
type pendingTransition struct {
	guard string
	t     Transition
}

// noteTransition records a transition of a guard, for its detail view and
// the severity of its current rollup. It runs in the registry's hook, on
// the path of the call that caused the transition, so it never waits for
// the history's lock (held through an observation of every guard): it
// queues the transition, which the next observation or read applies.
func (h *history) noteTransition(guard string, t Transition) {
	h.pmu.Lock()
	if len(h.pending) < maxPendingTransitions {
		h.pending = append(h.pending, pendingTransition{guard, t})
	}
	h.pmu.Unlock()
}

// applyPending applies the queued transitions; h.mu is held.
func (h *history) applyPending() {
	h.pmu.Lock()
	p := h.pending
	h.pending = nil
	h.pmu.Unlock()
	for _, e := range p {
		h.applyTransition(e.guard, e.t)
	}
}

// applyTransition records a transition; h.mu is held. A transition that
// would take the history over its limit is not kept for the detail view.
func (h *history) applyTransition(guard string, t Transition) {
	s := h.series[guard]
	if s == nil {
		// A guard created since the last observation: its counters count
		// from zero (or it is the baseline, at the first observation).
		s = newSeries()
		s.gen = h.gen
		h.series[guard] = s
		h.account(s, guard)
	}
	s.worst = max(s.worst, severity(t.To))
	if s.dropped || h.bytes+transitionBytes+int64(len(t.Reason)+len(t.Actor)+len(t.TraceID)) > h.limit {
		return
	}
	s.trans = appendRing(s.trans, t, guardTransitions)
	s.transText = 0
	for i := range s.trans {
		s.transText += int64(len(s.trans[i].Reason) + len(s.trans[i].Actor) + len(s.trans[i].TraceID))
	}
	h.account(s, guard)
}

// shortRollups returns, for the ShortRollup bucket b, the rollup of every
// guard that had one, sorted as names is.
func (h *history) shortRollups(b uint32, names []string) []RollupPoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.applyPending()
	var out []RollupPoint
	for _, n := range names {
		s := h.series[n]
		if s == nil {
			continue
		}
		if l := s.short.last(); l != nil && l.bucket == b {
			out = append(out, RollupPoint{Name: n, Calls: l.calls, Failed: l.failed, Slow: l.slow, Rejected: l.rejected()})
		}
	}
	return out
}

// read returns the history of the named guards (in that order) over the
// span of long or short rollups that ends with the last complete rollup:
// the one before the rollup holding the last observation. detail adds the
// series only the detail view draws, and the transitions.
func (h *history) read(names []string, long, detail bool) History {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.applyPending()
	span, n := ShortRollup, shortLen
	if long {
		span, n = LongRollup, longLen
	}
	out := History{Step: core.Duration(span), Guards: make([]GuardHistory, 0, len(names))}
	var start int64
	if h.last.IsZero() {
		n = 0 // nothing observed yet
	} else {
		start = int64(bucketOf(h.last, span)) - int64(n)
		out.Start = time.Unix(start*int64(span/time.Second), 0).UTC()
		out.Count = n
	}
	out.Stats = HistoryStats{Bytes: h.bytes, Limit: h.limit, Guards: len(h.series), DroppedSeries: h.droppedSeries, DroppedPoints: h.droppedPoints}
	if h.persist != nil { // persist
		out.Stats.Store = h.persist.stats()
	}
	for _, name := range names {
		gh := GuardHistory{Name: name}
		s := h.series[name]
		if s == nil {
			out.Guards = append(out.Guards, gh)
			continue
		}
		gh.Dropped = s.dropped
		rg := &s.short
		if long {
			rg = &s.long
		}
		var sev []byte
		rg.each(func(r *rollup) {
			i := int64(r.bucket) - start
			if i < 0 || i >= int64(n) {
				return
			}
			put(&gh.Calls, n, i, r.calls)
			put(&gh.Failed, n, i, r.failed)
			put(&gh.Slow, n, i, r.slow)
			put(&gh.Rejected, n, i, r.rejected())
			if detail {
				put(&gh.Succeeded, n, i, r.succeeded)
				put(&gh.RejectedOpen, n, i, r.rejBreaker)
				put(&gh.RejectedFull, n, i, r.rejFull)
				put(&gh.RejectedLimited, n, i, r.rejLimited)
				if r.worst > 0 {
					if sev == nil {
						sev = make([]byte, n)
						for j := range sev {
							sev[j] = '0'
						}
					}
					sev[i] = '0' + r.worst
				}
			}
		})
		gh.Severity = string(sev)
		if detail {
			gh.Transitions = make([]Transition, len(s.trans))
			for i, t := range s.trans {
				gh.Transitions[len(s.trans)-1-i] = t
			}
		}
		out.Guards = append(out.Guards, gh)
	}
	return out
}

// put sets (*a)[i] = v, allocating *a (n zeros) on the first non-zero
// value, so that a series with nothing in it stays nil and is left out of
// the JSON.
func put(a *[]uint32, n int, i int64, v uint32) {
	if v == 0 {
		return
	}
	if *a == nil {
		*a = make([]uint32, n)
	}
	(*a)[i] = v
}
