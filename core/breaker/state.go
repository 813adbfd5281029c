package breaker

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

func (b *Breaker) finishProbe(p *Permit, r Result, slow bool, c *clk) {
	b.mu.Lock()
	if b.probes[p.slot] != p.start+1 || b.probeWord[p.slot] != p.w {
		b.mu.Unlock() // timed out, and the slot freed (or reused)
		return
	}
	b.probes[p.slot] = 0
	if b.probeTimer != nil && !slices.ContainsFunc(b.probes, func(st int64) bool { return st != 0 }) {
		b.probeTimer.Stop()
		b.probeTimer = nil
	}
	if b.word.Load() != p.w {
		b.mu.Unlock() // a probe of an earlier period: it only held a slot
		return
	}
	now := b.read(c)
	switch {
	case r == Failure:
		b.reopenLocked(p.ctx, p.w, now, c.explicit, "probe failed")
	case slow && b.cfg.SlowCallRate > 0:
		b.reopenLocked(p.ctx, p.w, now, c.explicit, fmt.Sprintf("probe was slow (>= %s)", b.cfg.SlowCallDuration))
	case r == Success:
		b.probeOK++
		if b.probeOK >= b.cfg.SuccessThreshold {
			reason := "probe succeeded"
			if b.probeOK > 1 {
				reason = fmt.Sprintf("%d probes succeeded", b.probeOK)
			}
			b.toClosedLocked(p.ctx, p.w, now, reason, "")
		}
	}
	b.mu.Unlock()
	b.dispatch()
}

func (b *Breaker) finishRamp(p *Permit, r Result, c *clk) {
	if r == Ignore {
		return
	}
	b.mu.Lock()
	if b.word.Load() != p.w {
		b.mu.Unlock()
		return
	}
	b.rampCalls++
	if r == Failure {
		b.rampFails++
	}
	rate := b.cfg.FailureRate
	if rate == 0 {
		rate = 50
	}
	if b.rampCalls >= b.cfg.RampMinCalls && float64(b.rampFails)*100 >= rate*float64(b.rampCalls) {
		b.reopenLocked(p.ctx, p.w, b.read(c), c.explicit, fmt.Sprintf("ramp step %g%%: failure rate %.4g%% >= %g%% over %d calls",
			b.cfg.RampSteps[b.rampStep], float64(b.rampFails)*100/float64(b.rampCalls), rate, b.rampCalls))
	}
	b.mu.Unlock()
	b.dispatch()
}

// tripLocked opens a closed breaker, or counts a shadow trip for a
// metrics-only one.
func (b *Breaker) tripLocked(ctx context.Context, w uint64, now int64, explicit bool, reason string) {
	if stateOf(w) == MetricsOnly {
		b.shadow++
		b.resetWindowLocked()
		return
	}
	b.openLocked(ctx, w, now, explicit, b.openDuration(), true, reason, "")
}

// reopenLocked opens a half-open breaker again, for longer.
func (b *Breaker) reopenLocked(ctx context.Context, w uint64, now int64, explicit bool, reason string) {
	b.opens++
	b.openLocked(ctx, w, now, explicit, b.openDuration(), false, reason, "")
}

func (b *Breaker) openDuration() time.Duration {
	c := &b.cfg
	d := float64(c.OpenDuration) * math.Pow(c.OpenBackoff, float64(b.opens))
	d = min(d, float64(c.MaxOpenDuration))
	if c.OpenJitter > 0 {
		d *= 1 + c.OpenJitter*(2*rand.Float64()-1)
	}
	return time.Duration(min(d, float64(MaxDuration)))
}

func (b *Breaker) openLocked(ctx context.Context, w uint64, now int64, explicit bool, d time.Duration, grace bool, reason, actor string) {
	var flags uint64
	d = min(d, MaxDuration)
	if grace && (b.cfg.GraceCalls > 0 || b.cfg.GraceDuration > 0) {
		b.graceLeft.Store(int64(b.cfg.GraceCalls))
		b.graceEnd = addSat(now, int64(b.cfg.GraceDuration))
		flags |= flagGrace
	}
	if !explicit {
		flags |= flagTimer
	}
	nw := nextWord(w, Open, flags)
	b.stopTimerLocked()
	if !explicit {
		b.timer = time.AfterFunc(d, func() { b.openElapsed(nw) })
	}
	b.openUntil.Store(addSat(now, int64(d)))
	b.setLocked(ctx, w, nw, now, reason, actor)
}

// openElapsed runs on the open timer.
func (b *Breaker) openElapsed(w uint64) {
	b.mu.Lock()
	if b.word.Load() == w {
		b.toHalfOpenLocked(context.Background(), w, int64(time.Since(b.epoch)), "open duration elapsed")
	}
	b.mu.Unlock()
	b.dispatch()
}

func (b *Breaker) toHalfOpenLocked(ctx context.Context, w uint64, now int64, reason string) {
	// Probe slots are kept: probes of earlier periods still running hold
	// theirs until they report or time out.
	b.probeOK = 0
	b.rampStep, b.rampStart, b.rampCalls, b.rampFails = 0, now, 0, 0
	b.rampCtr.Store(0)
	b.stopTimerLocked()
	b.setLocked(ctx, w, nextWord(w, HalfOpen, 0), now, reason, "")
}

func (b *Breaker) toClosedLocked(ctx context.Context, w uint64, now int64, reason, actor string) {
	b.opens = 0
	b.stopTimerLocked()
	b.setLocked(ctx, w, nextWord(w, Closed, 0), now, reason, actor)
}

func (b *Breaker) stopTimerLocked() {
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
}

// windowLocked returns the current window's calls, failures and slow calls,
// and the failure and slow-call rates in percent (0 for an empty window).
func (b *Breaker) windowLocked(now int64) (calls, fails, slows int, failRate, slowRate float64) {
	if b.buckets == nil {
		calls, fails, slows = b.countWindowLocked(b.totalCalls())
	} else {
		calls, fails, slows = b.timeWindow(now)
	}
	if calls > 0 {
		failRate = float64(fails) * 100 / float64(calls)
		slowRate = float64(slows) * 100 / float64(calls)
	}
	return calls, fails, slows, failRate, slowRate
}

// setLocked installs the state word nw, clears the window and queues the
// transition for OnStateChange.
func (b *Breaker) setLocked(ctx context.Context, w, nw uint64, now int64, reason, actor string) {
	t := Transition{From: stateOf(w), To: stateOf(nw), Reason: reason, Actor: actor, At: b.timeAt(now)}
	t.WindowCalls, t.WindowFailures, t.WindowSlow, t.FailureRate, t.SlowCallRate = b.windowLocked(now)
	t.ConsecutiveFailures = int(b.consecutive.Load())
	b.manOpen = false
	b.resetWindowLocked()
	b.word.Store(nw)
	if t.From == t.To && actor == "" {
		return
	}
	b.trans++
	b.last = t
	b.since = t.At
	if b.cfg.OnStateChange != nil {
		if ctx == nil {
			ctx = context.Background()
		}
		b.events = append(b.events, event{ctx, t})
		b.pending.Store(true)
	}
}

func (b *Breaker) resetWindowLocked() {
	b.base = b.totalCalls()
	b.failRing.reset()
	b.slowRing.reset()
	for i := range b.buckets {
		bk := &b.buckets[i]
		bk.num.Store(noBucket)
		bk.calls.Store(0)
		bk.fails.Store(0)
		bk.slw.Store(0)
	}
	b.consecutive.Store(0)
	b.armed.Store(false)
}

// dispatch delivers queued transitions to OnStateChange, outside the lock
// and in order: one goroutine at a time delivers, and it keeps going until
// the queue is empty.
func (b *Breaker) dispatch() {
	if !b.pending.Load() {
		return
	}
	b.mu.Lock()
	if b.sending {
		b.mu.Unlock()
		return
	}
	b.sending = true
	for len(b.events) > 0 {
		evs := b.events
		b.events = nil
		b.pending.Store(false)
		b.mu.Unlock()
		for _, e := range evs {
			b.notify(e)
		}
		b.mu.Lock()
	}
	b.sending = false
	b.mu.Unlock()
}

func (b *Breaker) notify(e event) {
	defer func() { _ = recover() }()
	b.cfg.OnStateChange(e.ctx, e.t)
}

// ForceOpen puts the breaker in ForcedOpen: it rejects every call until
// Release (or another manual change). It returns the transition made.
func (b *Breaker) ForceOpen(m Manual) Transition {
	return b.manual(func(w uint64, now int64) uint64 { return nextWord(w, ForcedOpen, 0) }, m)
}

// Disable puts the breaker in Disabled (forced closed): it admits every call
// and never trips until Release.
func (b *Breaker) Disable(m Manual) Transition {
	return b.manual(func(w uint64, now int64) uint64 { return nextWord(w, Disabled, 0) }, m)
}

// MetricsOnly puts the breaker in MetricsOnly: it records outcomes and counts
// the trips it would have made, but admits every call, until Release.
func (b *Breaker) MetricsOnly(m Manual) Transition {
	return b.manual(func(w uint64, now int64) uint64 { return nextWord(w, MetricsOnly, 0) }, m)
}

// Release ends a manual state, or an open made by OpenFor or OpenUntil: the
// breaker returns to automatic operation, closed, with an empty window. On
// an automatic state it does nothing.
func (b *Breaker) Release(m Manual) Transition {
	return b.manual(func(w uint64, now int64) uint64 {
		if !stateOf(w).Manual() && !b.manOpen {
			return w
		}
		b.opens = 0
		return nextWord(w, Closed, 0)
	}, m)
}

// Reset clears the breaker's window and consecutive-failure count. An
// automatic breaker returns to Closed (and its open-duration backoff starts
// over); a manual state is kept. The cumulative counters of Snapshot are
// never cleared, so that exported counters stay monotonic.
func (b *Breaker) Reset(m Manual) Transition {
	return b.manual(func(w uint64, now int64) uint64 {
		if stateOf(w).Manual() {
			return nextWord(w, stateOf(w), 0)
		}
		b.opens = 0
		return nextWord(w, Closed, 0)
	}, m)
}

// OpenFor opens the breaker for d, after which it half-opens and probes as
// after an automatic trip. A d longer than MaxDuration (about 146 years)
// opens it for MaxDuration; a d of zero or less, for one nanosecond.
func (b *Breaker) OpenFor(d time.Duration, m Manual) Transition {
	d = min(max(d, 1), MaxDuration)
	return b.manualOpen(d, m)
}

// OpenUntil opens the breaker until t, after which it half-opens and probes as
// after an automatic trip. A t more than MaxDuration away (such as the
// year 9999) opens it for MaxDuration.
func (b *Breaker) OpenUntil(t time.Time, m Manual) Transition {
	return b.OpenFor(time.Until(t), m)
}

func (b *Breaker) manualOpen(d time.Duration, m Manual) Transition {
	b.mu.Lock()
	w := b.word.Load()
	now := int64(time.Since(b.epoch))
	b.openLocked(context.Background(), w, now, false, d, false, reasonOr(m.Reason, "opened for "+d.String()), actorOr(m.Actor))
	b.manOpen = true
	t := b.last
	b.mu.Unlock()
	b.dispatch()
	return t
}

func (b *Breaker) manual(next func(w uint64, now int64) uint64, m Manual) Transition {
	b.mu.Lock()
	w := b.word.Load()
	now := int64(time.Since(b.epoch))
	nw := next(w, now)
	t := Transition{From: stateOf(w), To: stateOf(w), Reason: m.Reason, Actor: m.Actor, At: b.timeAt(now)}
	if nw != w {
		b.stopTimerLocked()
		b.setLocked(context.Background(), w, nw, now, reasonOr(m.Reason, "manual change"), actorOr(m.Actor))
		t = b.last
	}
	b.mu.Unlock()
	b.dispatch()
	return t
}

func reasonOr(r, d string) string {
	if r == "" {
		return d
	}
	return r
}

func actorOr(a string) string {
	if a == "" {
		return "unknown"
	}
	return a
}

// RetryAfter returns how long until an open breaker half-opens, measured
// now; zero when the breaker is not open or the time is unknown (forced
// open).
func (b *Breaker) RetryAfter() time.Duration {
	if stateOf(b.word.Load()) != Open {
		return 0
	}
	return max(time.Duration(b.openUntil.Load()-int64(time.Since(b.epoch))), 0)
}

// Snapshot is a copy of a breaker's state and counters. Counters are
// cumulative since the breaker was created and never reset; window figures
// describe the current window.
type Snapshot struct {
	State State
	// Since is when the current state began.
	Since time.Time
	// OpenUntil is when an open breaker half-opens; zero in other states.
	OpenUntil time.Time
	// LastTransition is the most recent state change (zero if none).
	LastTransition Transition
	// Transitions counts state changes.
	Transitions uint64

	Admitted  uint64 // calls admitted
	Succeeded uint64 // admitted calls classified as successes
	Failed    uint64 // admitted calls classified as failures
	Ignored   uint64 // admitted calls classified as ignored
	Slow      uint64 // calls at or above SlowCallDuration
	// Rejected counts calls rejected because the breaker was open, forced
	// open, or ramping and the call fell outside the admitted share.
	Rejected uint64
	// RejectedProbe counts calls rejected in half-open because every probe
	// slot was taken.
	RejectedProbe uint64
	// ShadowTrips counts the trips a metrics-only breaker would have made.
	ShadowTrips uint64
	// Manual reports that an operator set the current state: a manual
	// state, or an open made by OpenFor or OpenUntil.
	Manual bool

	WindowCalls         int     // calls in the current window
	WindowFailures      int     // failures in the current window
	WindowSlow          int     // slow calls in the current window
	FailureRate         float64 // percentage of WindowCalls that failed
	SlowCallRate        float64 // percentage of WindowCalls that were slow
	ConsecutiveFailures int
	ProbesInFlight      int
	// RampShare is the percentage of calls a ramping breaker admits now;
	// zero when not ramping.
	RampShare float64
}

// Snapshot returns a copy of the breaker's state and counters. It takes the
// breaker's lock briefly and is meant for exporters, not for every call.
func (b *Breaker) Snapshot() Snapshot {
	var s Snapshot
	b.eachShard(func(sh *shard) {
		s.Admitted += sh.admitted.Load()
		s.Succeeded += sh.succeeded.Load() + sh.staleSucceeded.Load()
		s.Failed += sh.failed.Load() + sh.staleFailed.Load()
		s.Ignored += sh.ignored.Load()
		s.Slow += sh.slow.Load()
		s.Rejected += sh.rejected.Load()
		s.RejectedProbe += sh.rejectedProbe.Load()
	})
	now := int64(time.Since(b.epoch))
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.word.Load()
	s.State = stateOf(w)
	s.Since = b.since
	s.LastTransition = b.last
	s.Transitions = b.trans
	s.ShadowTrips = b.shadow
	s.Manual = s.State.Manual() || b.manOpen
	if s.State == Open {
		s.OpenUntil = b.timeAt(b.openUntil.Load())
	}
	s.WindowCalls, s.WindowFailures, s.WindowSlow, s.FailureRate, s.SlowCallRate = b.windowLocked(now)
	s.ConsecutiveFailures = int(b.consecutive.Load())
	for _, st := range b.probes {
		if st != 0 {
			s.ProbesInFlight++
		}
	}
	if s.State == HalfOpen && len(b.cfg.RampSteps) > 0 {
		s.RampShare = b.cfg.RampSteps[min(b.rampStep, len(b.cfg.RampSteps)-1)]
	}
	return s
}

// ring holds non-decreasing call indices, the newest len(buf) of them.
type ring struct {
	buf           []uint64
	size, head, n int
}

// init sets the ring's size; its buffer is made on the first push, so a
// breaker that never fails costs nothing for it.
func (r *ring) init(size int) { r.size = size }

func (r *ring) reset() { r.head, r.n = 0, 0 }

func (r *ring) push(v uint64) {
	if r.buf == nil {
		if r.size == 0 {
			return
		}
		r.buf = make([]uint64, r.size)
	}
	if r.n < len(r.buf) {
		r.buf[(r.head+r.n)%len(r.buf)] = v
		r.n++
		return
	}
	r.buf[r.head] = v
	r.head = (r.head + 1) % len(r.buf)
}

// countAbove returns how many entries are greater than v.
func (r *ring) countAbove(v uint64) int {
	lo, hi := 0, r.n // first position whose entry is > v
	for lo < hi {
		mid := (lo + hi) / 2
		if r.buf[(r.head+mid)%len(r.buf)] > v {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return r.n - lo
}

// addSat returns a+b, saturated at the int64 limits instead of wrapping.
func addSat(a, b int64) int64 {
	s := a + b
	if (s > a) != (b > 0) {
		if b > 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return s
}
