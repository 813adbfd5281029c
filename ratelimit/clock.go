package ratelimit

import (
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/internal/stripe"
)

// The limiters keep time as int64 nanoseconds since epoch. Times that carry
// a monotonic reading (those from time.Now outside a testing/synctest bubble)
// are measured on the monotonic clock; others on the wall clock, as
// time.Time.Sub does.
var epoch = time.Now()

// unixOffset turns a time since epoch into a Unix time, to align windows.
var unixOffset = epoch.UnixNano()

// Times are clamped to ±2^61 ns (about 73 years) around epoch, so that sums of
// a time, a bucket capacity (at most maxSpan) and a reservation horizon
// (at most maxSpan) never overflow an int64.
const (
	minNanos = -1 << 61
	maxNanos = 1 << 61
	maxSpan  = 1 << 60 // longest interval, capacity or window: about 36 years
)

func clamp(ns int64) int64 {
	return min(max(ns, minNanos), maxNanos)
}

// nanos converts an explicit time to the limiters' time scale, exactly.
func nanos(t time.Time) int64 { return clamp(int64(t.Sub(epoch))) }

// preciseNow reads the clock: about 30 ns here (the monotonic clock only).
// Inside a testing/synctest bubble it reads the bubble's fake clock, where it
// is negative (the fake clock starts in 2000).
func preciseNow() int64 { return clamp(int64(time.Since(epoch))) }

// ClockResolution is the period of the shared coarse clock that limiters read
// unless Config.Precise is set. See the package documentation for what it
// costs in precision.
const ClockResolution = time.Millisecond

// clockIdleTicks is how many ticks without a reader stop the coarse clock.
const clockIdleTicks = 1000 // one second

// coarseClock is a clock that one goroutine advances every ClockResolution,
// so that reading it costs one atomic load instead of a clock read. It starts
// on first use and stops by itself after a second without readers; the next
// reader starts it again. It never runs inside a testing/synctest bubble.
// Limiters that read the precise clock bring it up to date when the
// goroutine falls behind (catchUp); it never moves back.
//
// The word holds the reading shifted left by one, and in its low bit whether
// a reader has read it since the last tick; 0 means stopped.
type coarseClock struct {
	_    [stripe.Pad]byte // keep the word on lines of its own
	word atomic.Int64
	_    [stripe.Pad - 8]byte
}

var clock coarseClock

// coarseClockFor returns the coarse clock that a limiter built now reads, or
// nil if it must read the precise clock on every call: inside a
// testing/synctest bubble, where the shared clock never runs. Tests replace
// it to give limiters a clock whose goroutine is never scheduled.
var coarseClockFor = func() *coarseClock {
	if preciseNow() < 0 {
		return nil
	}
	return &clock
}

// coarseNow returns the coarse time: never ahead of the precise clock, and
// at most one ClockResolution behind it while the goroutine keeps up.
func coarseNow() int64 {
	w := clock.word.Load()
	if w&1 == 0 {
		return clock.slow()
	}
	return w >> 1
}

// slow is coarseNow's first read since a tick: it marks the clock used, or
// starts it.
func (c *coarseClock) slow() int64 {
	w := c.word.Load()
	if w == 0 {
		return c.start()
	}
	c.word.CompareAndSwap(w, w|1) // else another reader marked it, or a tick came
	return w >> 1
}

// start reads the precise clock and starts the ticking goroutine if no other
// reader did first. Inside a synctest bubble (negative time) it starts
// nothing: a goroutine started there would belong to the bubble.
func (c *coarseClock) start() int64 {
	v := preciseNow()
	if v < 1 {
		return v
	}
	if c.word.CompareAndSwap(0, v<<1|1) {
		go c.run()
	}
	return v
}

// run is the clock's goroutine. goleak users can ignore it by its name,
// github.com/breakerbox/breakerbox/ratelimit.(*coarseClock).run.
func (c *coarseClock) run() {
	t := time.NewTicker(ClockResolution)
	defer t.Stop()
	idle := 0
	for range t.C {
		if !c.tick(preciseNow(), &idle) {
			return
		}
	}
}

// tick publishes the reading v, unless a reader has published a later one
// (see catchUp), and reports whether the clock keeps running. After
// clockIdleTicks ticks without a reader it stores 0 (stopped).
func (c *coarseClock) tick(v int64, idle *int) bool {
	w := c.word.Load()
	if w&1 != 0 {
		*idle = 0
	} else if *idle++; *idle >= clockIdleTicks {
		if c.word.CompareAndSwap(w, 0) {
			return false
		}
		*idle = 0 // a reader came meanwhile
		w = c.word.Load()
	}
	for !c.word.CompareAndSwap(w, max(v, w>>1, 1)<<1) {
		w = c.word.Load()
	}
	return true
}

// catchUp publishes t, a reading of the precise clock, if the clock has
// fallen a resolution or more behind it: its goroutine has not been
// scheduled on time. Readers that had to read the precise clock call it, so
// that the coarse clock keeps up while they are busy. A stopped clock stays
// stopped: its next reader starts it.
func (c *coarseClock) catchUp(t int64) {
	for {
		w := c.word.Load()
		if w == 0 || t-w>>1 < int64(ClockResolution) {
			return
		}
		if c.word.CompareAndSwap(w, t<<1|1) {
			return
		}
	}
}
