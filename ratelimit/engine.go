package ratelimit

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/internal/stripe"
)

// This file is the heart of the package: every limiter is an engine, a
// pointer to a cell holding one atomic int64 of state and the immutable rate
// that gives it meaning. Calls change the state with compare-and-swap; no
// lock, no allocation. A limit change freezes the old cell and publishes a
// new one carrying the converted state.
//
// meterKind (token bucket, GCRA). The state z is the theoretical arrival
// time of GCRA: the time at which the bucket will be full again (z <= now:
// full). With interval I and capacity B = burst*I, the bucket holds
// (B - max(0, z-now)) / I tokens at now, and n calls fit iff
// max(z, now) + n*I - now <= B; taking them sets z = max(z, now) + n*I. The
// wait for n calls is z + n*I - B - now, exactly.
//
// windowKind (sliding window). The state packs the low bits of a window
// number and the counts of that window (cur) and of the window before (prev).
// At elapsed e into the current window of length W, n calls fit iff
// prev*(W-e)/W + cur + n <= limit, compared exactly in 128-bit integers.

// never is the retry-after of calls that can never be admitted.
const never = math.MaxInt64

// frozen marks the state of a cell that a limit change has retired: readers
// reload the engine's cell. No live state takes this value (meter times stay
// within ±2^62; a window state with both counts zero is stored as 0).
// It sits far below minNanos, with room on both sides, so that an
// optimistic add racing with the freeze (and its undo) moves it neither
// into the live range nor past the int64 bounds (see allowOptimistic).
const frozen = -1 << 62

// A cell has a cache line of its own. It counts the calls it admits next to
// the state, in the line that the admitting compare-and-swap has just
// written, so counting them costs no further contended write.
type cell struct {
	state   atomic.Int64
	allowed atomic.Uint64
	r       *rate
	_       [40]byte
}

type engine struct {
	// stripes, when set, counts the calls admitted on the optimistic path
	// (see allowOptimistic) in per-goroutine stripes instead of the cell,
	// so that admitting touches the contended state line once.
	stripes *counters
	cur     atomic.Pointer[cell]
	retired *cell  // the cell before cur, whose count may still move
	base    uint64 // the counts of the cells before retired
}

func (e *engine) init(r *rate) { e.initCell(&cell{r: r}) }

// initCell starts e at rest on c, whose rate is set.
func (e *engine) initCell(c *cell) {
	if c.r.kind == meterKind {
		c.state.Store(minNanos) // full
	}
	e.cur.Store(c)
}

// load returns the engine's cell and its live state, waiting out a limit
// change in progress (a few instructions in the changing goroutine).
func (e *engine) load() (*cell, int64) {
	for {
		c := e.cur.Load()
		if s := c.state.Load(); !c.isFrozen(s) {
			return c, s
		}
		runtime.Gosched()
	}
}

// isFrozen reports whether s is a retired cell's state: frozen, or for a
// meter frozen moved a little by an optimistic add that is being undone
// (see allowOptimistic); live meter states never go below minNanos. Window
// states can be any int64 but frozen (their zero counts are stored as 0).
func (c *cell) isFrozen(s int64) bool {
	if c.r.kind == meterKind {
		return s < minNanos
	}
	return s == frozen
}

// allow takes n calls at now if they fit. If coarse, now is a reading of
// the coarse clock, which may lag the precise clock by any amount when its
// goroutine is not scheduled: a call that does not fit at now is decided
// again at a fresh reading before it is refused, and a full bucket or a gap
// of windows is started from a fresh reading too. So the limiter refuses a
// call only if it does not fit at the precise time, whatever the lag, and
// only admissions are decided at the coarse time (as if the calls had come
// that much earlier; see the package documentation for what that costs).
func (e *engine) allow(now, n int64, coarse bool) bool {
	if n <= 0 {
		e.cur.Load().allowed.Add(1)
		return true
	}
	for {
		c := e.cur.Load()
		r := c.r
		if r.kind == meterKind && !r.precise && n <= r.burst {
			if ok, done := c.allowOptimistic(now, n); done {
				if ok {
					if e.stripes != nil {
						e.stripes.add(true)
					} else {
						c.allowed.Add(1)
					}
					return true
				}
				if !coarse {
					return false
				}
				now, coarse = r.fresh(), false
				continue
			}
		}
		s := c.state.Load()
		if c.isFrozen(s) { // a limit change in progress (e.load, inlined)
			runtime.Gosched()
			continue
		}
		var next int64
		if r.kind == meterKind {
			if n > r.burst {
				return false
			}
			if coarse && s < now { // a full bucket: start from a fresh reading
				now, coarse = r.fresh(), false
			}
			next = max(s, now) + n*r.interval
			if next-now > r.capacity {
				if !coarse {
					return false
				}
				now, coarse = r.fresh(), false
				continue
			}
		} else {
			if n > r.limit {
				return false
			}
			at, prev, cur, el := r.roll(s, now)
			if coarse && s != 0 && prev == 0 && cur == 0 {
				// A gap of windows, or a coarse reading so far behind
				// the stored window that it reads as one: decide on a
				// fresh reading.
				now, coarse = r.fresh(), false
				continue
			}
			if !r.fits(prev, cur+n, el) {
				if !coarse {
					return false
				}
				now, coarse = r.fresh(), false
				continue
			}
			next = r.pack(at, prev, cur+n)
		}
		if c.state.CompareAndSwap(s, next) {
			c.allowed.Add(1)
			return true
		}
	}
}

// take takes n tokens of a meter at now if they fit, without counting a
// call: limiter.Allow takes batches for its stripes with it. If coarse (now
// is a coarse reading), a full bucket is started from a fresh reading; a
// refusal is not checked again, since the caller then falls back to allow.
func (e *engine) take(now, n int64, coarse bool) bool {
	for {
		c := e.cur.Load()
		r := c.r
		if r.kind != meterKind || n > r.burst {
			return false
		}
		if ok, done := c.allowOptimistic(now, n); done {
			return ok
		}
		s := c.state.Load()
		if c.isFrozen(s) {
			runtime.Gosched()
			continue
		}
		if coarse && s < now {
			now, coarse = r.fresh(), false
		}
		next := max(s, now) + n*r.interval
		if next-now > r.capacity {
			return false
		}
		if c.state.CompareAndSwap(s, next) {
			return true
		}
	}
}

// allowOptimistic is the meter's admission with one atomic add instead of
// a compare-and-swap loop: two cores admitting calls at full speed pass the
// state's cache line back and forth once per call, with no failed
// compare-and-swap to retry. A call that does not fit at the state as
// loaded is refused without a write, so that cores hammering an empty
// bucket only read its line. Otherwise the add takes the calls' time
// optimistically. When the state was not behind now (the usual case for a
// busy limiter, and always within one tick of the coarse clock after the
// first call), the result is exactly max(z, now) + n*I, so the decision is
// exact; an over-capacity add (another call came between the load and the
// add) is undone. When the bucket was idle (z < now) the add is undone and
// the caller takes the compare-and-swap path, which sets z = now + n*I. done
// is false when the caller must take that path (also when the cell is being
// retired by a limit change).
//
// In sequential use the result is the same as the compare-and-swap path's
// (the fuzz tests hold both against the textbook models). Under races an
// add that is about to be undone can make another caller, at the exact
// limit, see the bucket fuller than it is for a few nanoseconds: a call
// may then be refused that would have fit.
func (c *cell) allowOptimistic(now, n int64) (ok, done bool) {
	d := n * c.r.interval
	if c.state.Load()+d-now > c.r.capacity {
		return false, true
	}
	v := c.state.Add(d)
	s := v - d
	switch {
	case s < now: // idle bucket, or a frozen cell (below minNanos)
		c.state.Add(-d)
		return false, false
	case v-now <= c.r.capacity:
		return true, true // the caller counts it
	default:
		c.state.Add(-d)
		return false, true
	}
}

// retryAfter returns how long after now n calls would fit, assuming no other
// calls: 0 if now, never if they never fit. If coarse (now is a coarse
// reading), a wait is computed again from a fresh reading, as is any answer
// after a gap of windows (see allow).
func (e *engine) retryAfter(now, n int64, coarse bool) int64 {
	d := e.wait1(now, n)
	if coarse && (d > 0 || e.gapAt(now)) {
		d = e.wait1(e.cur.Load().r.fresh(), n)
	}
	return d
}

// gapAt reports whether a sliding window's counts all lie in windows that
// read as long past at now (see allow).
func (e *engine) gapAt(now int64) bool {
	c, s := e.load()
	if c.r.kind != windowKind || s == 0 {
		return false
	}
	_, prev, cur, _ := c.r.roll(s, now)
	return prev == 0 && cur == 0
}

// wait1 is retryAfter at now, exactly.
func (e *engine) wait1(now, n int64) int64 {
	c, s := e.load()
	r := c.r
	if n <= 0 {
		return 0
	}
	if r.kind == meterKind {
		if n > r.burst {
			return never
		}
		return max(0, s+n*r.interval-r.capacity-now)
	}
	if n > r.limit {
		return never
	}
	_, prev, cur, el := r.roll(s, now)
	if r.fits(prev, cur+n, el) {
		return 0
	}
	// Later in this window, as prev's weight decays: the smallest e with
	// prev*(W-e) <= (limit-cur-n)*W.
	if room := r.limit - cur - n; room >= 0 {
		// prev > 0 here, else the calls would fit.
		hi, lo := bits.Mul64(uint64(room), uint64(r.window))
		if hi < uint64(prev) {
			q, _ := bits.Div64(hi, lo, uint64(prev))
			if e := r.window - int64(min(q, uint64(r.window))); e < r.window {
				return e - el
			}
		}
	}
	// In the next window, where prev is this window's cur and cur is 0.
	wait := r.window - el
	if room := r.limit - n; cur > room {
		hi, lo := bits.Mul64(uint64(room), uint64(r.window))
		q, _ := bits.Div64(hi, lo, uint64(cur)) // hi < cur: room < cur
		wait += r.window - int64(q)
	}
	return wait
}

// available returns how many calls fit at once at now (negative for a bucket
// in debt to Wait reservations).
func (e *engine) available(now int64) float64 {
	c, s := e.load()
	r := c.r
	if r.kind == meterKind {
		return float64(r.capacity-max(0, s-now)) / float64(r.interval)
	}
	_, prev, cur, el := r.roll(s, now)
	used := float64(prev)*float64(r.window-el)/float64(r.window) + float64(cur)
	return float64(r.limit) - used
}

// atRest reports whether the limiter is as if new: a full bucket, or no
// call counted in the current or previous window.
func (e *engine) atRest(now int64) bool {
	c, s := e.load()
	r := c.r
	if r.kind == meterKind {
		return s <= now
	}
	_, prev, cur, _ := r.roll(s, now)
	return prev == 0 && cur == 0
}

// reserve takes n calls at now, in debt if need be (token bucket Wait), and
// returns the time at which they are due. It fails only for n > burst or a
// reservation more than maxSpan ahead.
func (e *engine) reserve(now, n int64) (due int64, ok bool) {
	for {
		c, s := e.load()
		r := c.r
		if n > r.burst {
			return 0, false
		}
		next := max(s, now) + n*r.interval
		due = next - r.capacity
		if due-now > maxSpan {
			return 0, false
		}
		if c.state.CompareAndSwap(s, next) {
			c.allowed.Add(1)
			return due, true
		}
	}
}

// unreserve gives back n calls reserved by reserve and not used, at the
// current rate: later callers may use them, earlier reservations keep their
// times.
func (e *engine) unreserve(n int64) {
	for {
		c, s := e.load()
		if c.state.CompareAndSwap(s, max(s-n*c.r.interval, minNanos)) {
			c.allowed.Add(^uint64(0)) // the reservation was counted
			return
		}
	}
}

// migrate moves the engine to rate r at now, keeping what was spent: the
// tokens (capped at the new burst; debt is kept) or the window counts (capped
// at the new limit). The caller serializes migrations of one engine.
func (e *engine) migrate(r *rate, now int64) {
	old := e.cur.Load()
	s := old.state.Load()
	for !old.state.CompareAndSwap(s, frozen) {
		s = old.state.Load()
	}
	c := &cell{r: r}
	c.state.Store(convert(old.r, s, r, now))
	e.cur.Store(c)
	if e.retired != nil {
		e.base += e.retired.allowed.Load()
	}
	e.retired = old
}

// allowed returns the calls admitted so far. The caller serializes it with
// migrate.
func (e *engine) allowed() uint64 {
	n := e.base + e.cur.Load().allowed.Load()
	if e.stripes != nil {
		a, _ := e.stripes.load()
		n += a
	}
	if e.retired != nil {
		n += e.retired.allowed.Load()
	}
	return n
}

func convert(from *rate, s int64, to *rate, now int64) int64 {
	if from.kind == meterKind {
		if s <= now {
			return s // full stays full
		}
		tokens := float64(from.capacity-(s-now)) / float64(from.interval)
		if tokens >= float64(to.burst) {
			return now
		}
		debt := float64(to.capacity) - tokens*float64(to.interval)
		return now + int64(math.Min(math.Round(debt), maxSpan))
	}
	_, prev, cur, _ := from.roll(s, now)
	idx, _ := to.windowOf(now)
	return to.pack(uint64(idx), min(prev, to.limit), min(cur, to.limit))
}

// windowOf returns the number of the window holding now and how far into it
// now is. Windows are aligned on the Unix epoch: one-second windows start on
// the second.
func (r *rate) windowOf(now int64) (idx, elapsed int64) {
	now += unixOffset
	idx, elapsed = now/r.window, now%r.window
	if elapsed < 0 {
		idx, elapsed = idx-1, elapsed+r.window
	}
	return idx, elapsed
}

// roll reads state s at now and returns the window to store with, the counts
// of the window before it and of that window, and the elapsed time to weigh
// them with. Window numbers are kept modulo 2^(64-2*bits), at least 2^22, so
// a few gaps are misread: a gap of a multiple of 2^22 windows (give or take
// two) reads as a small one, which can only make the limiter stricter, for
// at most four windows. A time at most two windows before the stored window
// counts as the start of the stored window; times further back read as
// later ones (explicit times should not go back).
func (r *rate) roll(s, now int64) (uint64, int64, int64, int64) {
	idx, el := r.windowOf(now)
	u := uint64(s)
	cur, prev := int64(u&r.mask), int64(u>>r.bits&r.mask)
	shift := 2 * r.bits
	at := uint64(idx) << shift >> shift
	if cur == 0 && prev == 0 {
		return at, 0, 0, el
	}
	stored := u >> shift
	switch d := (at - stored) << shift >> shift; {
	case d == 0:
		return at, prev, cur, el
	case d == 1:
		return at, cur, 0, el
	case d >= (1<<(64-shift))-2: // one or two windows back
		return stored, prev, cur, 0
	default:
		return at, 0, 0, el
	}
}

func (r *rate) pack(idx uint64, prev, cur int64) int64 {
	if prev == 0 && cur == 0 {
		return 0
	}
	return int64(idx<<(2*r.bits) | uint64(prev)<<r.bits | uint64(cur))
}

// fits reports whether prev*(W-el)/W + cur <= limit, exactly.
func (r *rate) fits(prev, cur, el int64) bool {
	room := r.limit - cur
	if room < 0 {
		return false
	}
	if prev == 0 {
		return true
	}
	h1, l1 := bits.Mul64(uint64(prev), uint64(r.window-el))
	h2, l2 := bits.Mul64(uint64(room), uint64(r.window))
	return h1 < h2 || h1 == h2 && l1 <= l2
}

// wait blocks until n calls are taken or ctx ends. A token bucket reserves
// its calls at once and sleeps until they are due, giving them back if ctx
// ends first; the other algorithms sleep until the calls would fit and try
// again. It reads the precise clock: it sleeps anyway.
func (e *engine) wait(ctx context.Context, n int64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if n <= 0 {
		return nil
	}
	r := e.cur.Load().r
	now := r.fresh()
	if r.reserve {
		due, ok := e.reserve(now, n)
		if !ok {
			return fmt.Errorf("%w: %d calls can never be reserved with burst %d", ErrLimited, n, r.burst)
		}
		if due <= now {
			return nil
		}
		t := time.NewTimer(time.Duration(due - now))
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			t.Stop()
			e.unreserve(n)
			return ctx.Err()
		}
	}
	var t *time.Timer
	for {
		if e.allow(now, n, false) {
			return nil
		}
		d := e.retryAfter(now, n, false)
		if d == never {
			return fmt.Errorf("%w: %d calls exceed the limit of %s", ErrLimited, n, e.cur.Load().r.cfg.describe())
		}
		if t == nil {
			t = time.NewTimer(time.Duration(max(d, 1)))
			defer t.Stop()
		} else {
			t.Reset(time.Duration(max(d, 1)))
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		now = r.fresh()
	}
}

func (c Config) describe() string {
	if c.Algorithm == AlgorithmSlidingWindow {
		return fmt.Sprintf("%v per %v", c.Limit, c.Per)
	}
	return fmt.Sprintf("burst %d", c.Burst)
}

// counters count calls in stripes, each on its own cache lines, picked by the
// calling goroutine's stack address: goroutines on different CPUs mostly
// write different lines, so counting adds no contended write. Limiters count
// only rejections here (a rejection reads the state and writes nothing
// else); Keyed counts both.
type counters struct {
	_ stripe.Lead
	s [stripes]counterStripe
}

const (
	stripeBits = 4
	stripes    = 1 << stripeBits
)

// counterStripe is one stripe of counters, stripe.Pad bytes long.
type counterStripe struct {
	allowed, rejected atomic.Uint64
	// cached holds tokens this stripe took from a large bucket in a batch
	// and has not handed out yet (see limiter.Allow); never used by Keyed.
	cached atomic.Int64
	_      [stripe.Pad - 3*8]byte
}

// stripe returns the calling goroutine's stripe (see internal/stripe).
func (c *counters) stripe() *counterStripe {
	return &c.s[stripe.Index(stripeBits)]
}

// cached returns the tokens held by the stripes (see limiter.Allow).
func (c *counters) cached() int64 {
	var n int64
	for i := range c.s {
		n += max(c.s[i].cached.Load(), 0)
	}
	return n
}

func (c *counters) add(ok bool) {
	s := c.stripe()
	if ok {
		s.allowed.Add(1)
	} else {
		s.rejected.Add(1)
	}
}

func (c *counters) load() (allowed, rejected uint64) {
	for i := range c.s {
		allowed += c.s[i].allowed.Load()
		rejected += c.s[i].rejected.Load()
	}
	return allowed, rejected
}
