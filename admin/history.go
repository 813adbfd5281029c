package admin

import (
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

const (
	shortLen = int(ShortHistory / ShortRollup) // 360
	longLen  = int(LongHistory / LongRollup)   // 1440
	// guardTransitions is how many recent transitions the history keeps
	// per guard, for the dashboard's detail view.
	guardTransitions = 32
)

// tally is a guard's cumulative counters, as far as the history uses them.
type tally struct {
	calls, succeeded, failed, slow uint64
	rejOpen, rejHalfOpen, rejFull  uint64
	rejLimited                     uint64
}

func tallyOf(g *core.GuardSnapshot) tally {
	b := &g.Breaker
	return tally{
		calls: b.Admitted, succeeded: b.Succeeded, failed: b.Failed, slow: b.Slow,
		rejOpen: g.Rejected.Open, rejHalfOpen: g.Rejected.HalfOpen, rejFull: g.Rejected.Full, rejLimited: g.Rejected.Limited,
	}
}

// below reports whether any counter of t is lower than in u: the guard was
// created afresh (pruned and used again) since u was taken.
func (t tally) below(u tally) bool {
	return t.calls < u.calls || t.succeeded < u.succeeded || t.failed < u.failed || t.slow < u.slow ||
		t.rejOpen < u.rejOpen || t.rejHalfOpen < u.rejHalfOpen || t.rejFull < u.rejFull || t.rejLimited < u.rejLimited
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
	trans []Transition // oldest first, at most guardTransitions
	gen   uint64       // the observation that last saw the guard
}

// newSeries returns an empty series. Each ring holds one more rollup than
// the history shows: the one under way.
func newSeries() *series {
	return &series{short: ring{max: shortLen + 1}, long: ring{max: longLen + 1}}
}

// history is the rollup history of every guard of a registry. Its memory
// is bounded: per guard at most shortLen+longLen rollups and
// guardTransitions transitions, and guards the registry no longer has are
// dropped at the next observation.
type history struct {
	mu     sync.Mutex
	last   time.Time // the last observation; zero before the first
	gen    uint64
	series map[string]*series
}

func newHistory() *history { return &history{series: map[string]*series{}} }

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
	if !h.last.IsZero() && !now.After(h.last) {
		return 0, false
	}
	first := h.last.IsZero()
	sb, lb := bucketOf(h.last, ShortRollup), bucketOf(h.last, LongRollup)
	h.gen++
	for i := range snaps {
		g := &snaps[i]
		cur := tallyOf(g)
		s := h.series[g.Name]
		if s == nil {
			s = newSeries()
			h.series[g.Name] = s
		}
		s.gen = h.gen
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
		if !first && !r.empty() {
			r.bucket = sb
			s.short.add(r)
			r.bucket = lb
			s.long.add(r)
		}
		s.prev = cur
		s.worst = severity(g.Breaker.State)
	}
	for name, s := range h.series {
		if s.gen != h.gen {
			delete(h.series, name)
		}
	}
	h.last = now
	return sb, !first && bucketOf(now, ShortRollup) > sb
}

// noteTransition records a transition of a guard, for its detail view and
// the severity of its current rollup.
func (h *history) noteTransition(guard string, t Transition) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.series[guard]
	if s == nil {
		// A guard created since the last observation: its counters count
		// from zero (or it is the baseline, at the first observation).
		s = newSeries()
		s.gen = h.gen
		h.series[guard] = s
	}
	s.worst = max(s.worst, severity(t.To))
	s.trans = appendRing(s.trans, t, guardTransitions)
}

// shortRollups returns, for the ShortRollup bucket b, the rollup of every
// guard that had one, sorted as names is.
func (h *history) shortRollups(b uint32, names []string) []RollupPoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []RollupPoint
	for _, n := range names {
		s := h.series[n]
		if s == nil {
			continue
		}
		if l := s.short.last(); l != nil && l.bucket == b {
			out = append(out, RollupPoint{Name: n, Calls: l.calls, Failed: l.failed, Slow: l.slow, Rejected: sat(l.rejBreaker, uint64(l.rejFull)+uint64(l.rejLimited))})
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
	for _, name := range names {
		gh := GuardHistory{Name: name}
		s := h.series[name]
		if s == nil {
			out.Guards = append(out.Guards, gh)
			continue
		}
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
			put(&gh.Rejected, n, i, sat(r.rejBreaker, uint64(r.rejFull)+uint64(r.rejLimited)))
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

// History is the answer to GET /v1/history: rollups of one guard's, or
// every guard's, counters, oldest first. Rollup i covers
// [Start + i*Step, Start + (i+1)*Step). A series whose rollups are all zero
// is left out.
type History struct {
	// Step is the span of one rollup: ShortRollup for the last hour,
	// LongRollup for the last day.
	Step core.Duration `json:"step"`
	// Start is the start of the first rollup; zero (and Count 0) before
	// the history's first observation.
	Start time.Time `json:"start"`
	// Count is the number of rollups of every series.
	Count  int            `json:"count"`
	Guards []GuardHistory `json:"guards"`
}

// GuardHistory is one guard's rollups in a History. The series marked
// "detail" are given only when one guard is asked for.
type GuardHistory struct {
	Name string `json:"name"`
	// Calls counts admitted calls.
	Calls []uint32 `json:"calls,omitempty"`
	// Succeeded (detail) and Failed count admitted calls by outcome; Slow
	// counts calls at or above the slow-call duration.
	Succeeded []uint32 `json:"succeeded,omitempty"`
	Failed    []uint32 `json:"failed,omitempty"`
	Slow      []uint32 `json:"slow,omitempty"`
	// Rejected counts rejections of every reason; RejectedOpen (breaker
	// open, forced open, or half-open with its probes taken), RejectedFull
	// (bulkhead) and RejectedLimited (rate limit) split it (detail).
	Rejected        []uint32 `json:"rejected,omitempty"`
	RejectedOpen    []uint32 `json:"rejectedOpen,omitempty"`
	RejectedFull    []uint32 `json:"rejectedFull,omitempty"`
	RejectedLimited []uint32 `json:"rejectedLimited,omitempty"`
	// Severity (detail) has one digit per rollup for the most severe state
	// the breaker was seen in: 0 closed (or disabled, metrics-only), 1
	// half-open, 2 open, 3 forced open. Empty when all are 0.
	Severity string `json:"severity,omitempty"`
	// Transitions (detail) are the guard's recent state changes, newest
	// first.
	Transitions []Transition `json:"transitions,omitempty"`
	// Operations (detail) are the recent audit records that selected the
	// guard, newest first, as far as the server keeps them in memory (see
	// WithRecent).
	Operations []AuditRecord `json:"operations,omitempty"`
}
