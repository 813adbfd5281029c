package breaker

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/internal/stripe"
)

// This file is the state machine: admission, outcomes, the trip rules and
// every transition, automatic and manual. The windows and counters it
// reads live in window.go.

// The state word packs the state, two flags and a generation that changes
// with every transition, so that a call admitted under one state cannot
// steer the breaker after it has moved on:
//
//	bits 0-3  the State
//	bit  4    flagTimer
//	bit  5    flagGrace
//	bits 8-   the generation
const (
	stateMask = 0x0f
	flagTimer = 0x10 // open, and a real-time timer will half-open it: reject without reading the clock
	flagGrace = 0x20 // open, with grace calls or grace time left
	genShift  = 8
	// stateBits is the state with its flags, without the generation: the
	// closed path compares it with a whole state-and-flags value at once.
	stateBits = 1<<genShift - 1
)

func stateOf(w uint64) State { return State(w & stateMask) }

func nextWord(w uint64, s State, flags uint64) uint64 {
	return (w>>genShift+1)<<genShift | flags | uint64(s)
}

// Kinds of permit.
const (
	kindClosed uint8 = iota // closed or metrics-only: the outcome feeds the window
	kindPass                // disabled or grace: counted, never judged
	kindProbe               // half-open probe
	kindRamp                // ramp share
)

// Breaker is a circuit breaker. Create one with New; the zero value is not
// usable. A Breaker is safe for concurrent use by any number of goroutines.
//
// Use Allow before a call and Permit.Done after it:
//
//	p, err := b.Allow(ctx)
//	if err != nil {
//		return err // breaker.ErrOpen
//	}
//	err = call(ctx)
//	p.Done(err)
type Breaker struct {
	// Set by New, read-only afterwards.
	epoch time.Time // times are kept as nanoseconds since epoch

	// The two configuration flags the closed path reads, written (under
	// mu, and only when they change) with the settings they derive from.
	measure atomic.Bool // calls are timed (slow-call rule or MeasureLatency)
	fast    atomic.Bool // count window, default classifier: Done(nil) takes the short path

	// Atomic, read on every call; written on transitions and failures.
	word        atomic.Uint64 // state, flags and generation: see stateMask
	consecutive atomic.Int64  // the current run of failures
	armed       atomic.Bool   // the window's rate rule holds but MinCalls is not reached yet
	pending     atomic.Bool   // state-change events wait for dispatch
	// Counters live in first until the breaker has seen stripeAfter calls
	// (or rejections); then striped holds a padded shard per stripe, so a
	// busy breaker's callers rarely write the same line, while an idle one
	// costs one shard instead of sixteen.
	striped atomic.Pointer[stripes]

	_     stripe.Lead
	first shard // a multiple of stripe.Pad long

	// The configuration: New and Reconfigure install a settings value,
	// never changed once installed. Off the hot line: the closed path reads
	// the flags above instead.
	set atomic.Pointer[settings]

	// Atomic, written only while the breaker is open or half-open.
	openUntil atomic.Int64  // when an open breaker half-opens
	graceLeft atomic.Int64  // grace calls left after a trip
	rampCtr   atomic.Uint64 // calls seen in the current ramp step
	// gate is the probe gate (see SetProbeGate); read only in half-open.
	gate atomic.Pointer[ProbeGate]

	// Guarded by mu.
	mu       sync.Mutex
	failRing ring   // count window: call indices of recent failures
	slowRing ring   // count window: call indices of recent slow calls
	base     uint64 // count window: the call index where the window starts
	opens    int    // failed probes since the breaker last closed
	timer    *time.Timer
	graceEnd int64
	// Probe slots outlive the half-open period that filled them: a probe
	// still running after a reopen keeps its slot, so the dependency never
	// sees more than HalfOpenProbes probes at once. A slot is freed when its
	// probe reports or times out.
	probes     []int64  // start time + 1 of each busy slot, 0 when free
	probeWord  []uint64 // the state word of the period that admitted each probe
	probeTimer *time.Timer
	probeOK    int
	rampStep   int
	rampStart  int64
	rampCalls  int
	rampFails  int
	trans      uint64     // transitions made
	last       Transition // the latest one
	since      time.Time
	shadow     uint64 // trips a metrics-only breaker would have made
	events     []event
	sending    bool // a goroutine is delivering events
	manOpen    bool // the current Open was made by OpenFor or OpenUntil
}

type event struct {
	ctx context.Context
	t   Transition
}

// New returns a closed breaker configured by cfg, or the error from
// cfg.Validate.
func New(cfg Config) (*Breaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	b := &Breaker{epoch: time.Now()}
	b.since = b.epoch
	b.install(cfg, nil)
	return b, nil
}

// settings is a breaker's configuration with defaults filled in, and what
// derives from it. A settings value is never changed once installed.
type settings struct {
	cfg       Config
	slowNanos int64
	buckets   []bucket // time window: the slice is fixed, its buckets are atomic
	bucketNs  int64
	learned   *learnedRule // Config.Learned; nil when off (see learned.go)
}

// conf returns the configuration installed now.
func (b *Breaker) conf() *Config { return &b.set.Load().cfg }

// sameShape reports whether two configurations (defaults filled in) have
// the same window: its kind and size, or its duration and buckets.
func sameShape(a, c *Config) bool {
	if a.Window != c.Window {
		return false
	}
	if a.Window == CountWindow {
		return a.WindowSize == c.WindowSize
	}
	return a.WindowDuration == c.WindowDuration && a.Buckets == c.Buckets
}

// install makes cfg (valid) the breaker's configuration. old is the one it
// replaces, nil for a new breaker; with a window of the same shape the
// window's contents are kept, else the window starts empty. b.mu is held,
// or the breaker is not shared yet.
func (b *Breaker) install(cfg Config, old *settings) {
	cfg = cfg.withDefaults()
	cfg.RampSteps = append([]float64(nil), cfg.RampSteps...)
	s := &settings{cfg: cfg, slowNanos: int64(cfg.SlowCallDuration)}
	if cfg.Learned != nil {
		l := *cfg.Learned
		s.cfg.Learned = &l
		if old != nil && old.learned != nil && *old.cfg.Learned == l {
			s.learned = old.learned // unchanged: the baseline carries on
		} else {
			s.learned = newLearnedRule(l)
		}
	}
	same := old != nil && sameShape(&old.cfg, &cfg)
	if cfg.Window == CountWindow {
		if !same {
			b.failRing = ring{}
			b.slowRing = ring{}
			b.failRing.init(cfg.WindowSize)
		}
		if cfg.SlowCallDuration > 0 && b.slowRing.size == 0 {
			b.slowRing.init(cfg.WindowSize)
		}
	} else if same {
		s.buckets, s.bucketNs = old.buckets, old.bucketNs
	} else {
		s.buckets = make([]bucket, cfg.Buckets)
		s.bucketNs = max(int64(cfg.WindowDuration)/int64(cfg.Buckets), 1)
		for i := range s.buckets {
			s.buckets[i].num.Store(noBucket)
		}
	}
	// Probe slots are never taken away: a probe still running keeps its
	// slot, and allowProbe counts the busy ones against the new limit.
	for len(b.probes) < cfg.HalfOpenProbes {
		b.probes = append(b.probes, 0)
		b.probeWord = append(b.probeWord, 0)
	}
	b.set.Store(s)
	if m := cfg.SlowCallDuration > 0 || cfg.MeasureLatency || (cfg.Learned != nil && cfg.Learned.LatencyFloor > 0); b.measure.Load() != m {
		b.measure.Store(m)
	}
	// With the learned rule every outcome must reach it: no fast path.
	if f := cfg.Window == CountWindow && cfg.Classifier == nil && cfg.Learned == nil; b.fast.Load() != f {
		b.fast.Store(f)
	}
	if old != nil && !same {
		b.base = b.totalCalls()
		b.armed.Store(false)
	}
}

// Reconfigure replaces the breaker's configuration at run time, as a
// reloaded policy does, keeping its state: the current state and its
// timers, the cumulative counters, the consecutive-failure run, the probes
// in flight. When the window keeps its shape (the same Window, and the same
// WindowSize, or WindowDuration and Buckets), its contents are kept and
// judged by the new thresholds from the next outcome on; a window of a new
// shape starts empty. cfg replaces the whole configuration, Classifier and
// OnStateChange included. An open breaker keeps the open duration it was
// given; the new OpenDuration applies from the next trip. Calls admitted
// before Reconfigure report as usual. It returns the error from
// cfg.Validate, and changes nothing, if cfg is invalid.
func (b *Breaker) Reconfigure(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	b.mu.Lock()
	b.install(cfg, b.set.Load())
	// The new thresholds may already hold: arm the window so that the next
	// outcome judges it.
	if st := stateOf(b.word.Load()); st == Closed || st == MetricsOnly {
		_, trip, arm := b.rules(b.windowCounts(int64(time.Since(b.epoch))))
		b.armed.Store(arm || trip)
	}
	b.mu.Unlock()
	return nil
}

// Config returns the breaker's configuration with defaults filled in.
func (b *Breaker) Config() Config {
	c := *b.conf()
	c.RampSteps = append([]float64(nil), c.RampSteps...)
	return c
}

// State returns the current state.
func (b *Breaker) State() State { return stateOf(b.word.Load()) }

// Rejecting reports, without reading the clock, whether Allow would reject a
// call now for certain: the breaker is forced open, or open with its grace
// used up and its open timer running. Callers use it to skip work (such as
// queueing in a bulkhead) before a call the breaker would refuse anyway.
func (b *Breaker) Rejecting() bool {
	w := b.word.Load()
	s := stateOf(w)
	return s == ForcedOpen || s == Open && w&(flagTimer|flagGrace) == flagTimer
}

// clk is a lazily read clock: the real one, or an explicit time.
type clk struct {
	t        int64 // nanoseconds since the breaker's epoch
	ok       bool
	explicit bool
}

func (b *Breaker) at(t time.Time) clk {
	return clk{t: int64(t.Sub(b.epoch)), ok: true, explicit: true}
}

func (b *Breaker) read(c *clk) int64 {
	if !c.ok {
		c.t = int64(time.Since(b.epoch))
		c.ok = true
	}
	return c.t
}

func (b *Breaker) timeAt(ns int64) time.Time { return b.epoch.Add(time.Duration(ns)).Round(0) }

// ---- Admission ----

// Permit is a breaker's admission of one call. Report the call's outcome
// exactly once with Done, DoneAt, Finish or FinishAt. A Permit is a small
// value; copying it is cheap, but only one copy may report. The zero Permit
// reports nothing.
type Permit struct {
	b     *Breaker
	ctx   context.Context
	w     uint64
	start int64
	slot  int32
	kind  uint8
	timed bool
	// shard is the counter shard Allow counted the call on; its outcome is
	// counted there too, so that a call touches one shard even when Allow
	// and Done run at stack depths that pick different ones.
	shard uint8
	// sampled marks one admitted call in SampleEvery (see Sampled).
	sampled bool
}

// Sampled reports whether the call is one of the admitted calls, about
// one in SampleEvery, that the breaker picks for measurement (package
// core times the gates and hooks of the next call on the same guard). The
// pick costs nothing: it reads the count the breaker keeps anyway.
func (p *Permit) Sampled() bool { return p.sampled }

// Allow asks the breaker to admit a call. It returns a Permit, or ErrOpen
// when the breaker rejects the call. ctx is handed to OnStateChange if the
// call's outcome changes the state; the breaker does not watch it.
func (b *Breaker) Allow(ctx context.Context) (Permit, error) {
	w := b.word.Load()
	if w&stateBits == uint64(Closed) && !b.measure.Load() {
		sh, sampled := b.count()
		return Permit{b: b, ctx: ctx, w: w, shard: sh, sampled: sampled}, nil
	}
	if s := w & stateBits; s == uint64(Open)|flagTimer || s == uint64(ForcedOpen) {
		b.shard().rejected.Add(1)
		return Permit{}, ErrOpen
	}
	return b.allowSlow(ctx, clk{})
}

// AllowInto is Allow writing the permit to *p instead of returning it:
// callers that keep the permit inside a struct of their own (package
// core's Permit) save copying it through the return, which on the closed
// path costs more than the admission itself. On rejection *p is the zero
// Permit.
func (b *Breaker) AllowInto(ctx context.Context, p *Permit) error {
	w := b.word.Load()
	if w&stateBits == uint64(Closed) && !b.measure.Load() {
		sh, sampled := b.count()
		// Field by field: a composite literal is built on the stack and
		// copied, and the copy stalls on the stores just made.
		p.b, p.ctx, p.w, p.start, p.slot = b, ctx, w, 0, 0
		p.kind, p.timed, p.shard, p.sampled = 0, false, sh, sampled
		return nil
	}
	var err error
	*p, err = b.Allow(ctx)
	return err
}

// AllowAt is Allow at the explicit time t, for tests and simulations.
// Use DoneAt or FinishAt on its permit.
func (b *Breaker) AllowAt(ctx context.Context, t time.Time) (Permit, error) {
	return b.allowSlow(ctx, b.at(t))
}

func (b *Breaker) admit(ctx context.Context, w uint64, kind uint8, c *clk) (Permit, error) {
	sh, sampled := b.count()
	p := Permit{b: b, ctx: ctx, w: w, kind: kind, shard: sh, sampled: sampled}
	if b.measure.Load() {
		p.start, p.timed = b.read(c), true
	}
	return p, nil
}

func (b *Breaker) reject() (Permit, error) {
	b.shard().rejected.Add(1)
	return Permit{}, ErrOpen
}

func (b *Breaker) allowSlow(ctx context.Context, c clk) (Permit, error) {
	for {
		w := b.word.Load()
		switch stateOf(w) {
		case Closed, MetricsOnly:
			return b.admit(ctx, w, kindClosed, &c)
		case Disabled:
			return b.admit(ctx, w, kindPass, &c)
		case ForcedOpen:
			return b.reject()
		case Open:
			if w&flagGrace != 0 && b.takeGrace(w, &c) {
				return b.admit(ctx, w, kindPass, &c)
			}
			if w&flagTimer != 0 && !c.explicit {
				return b.reject()
			}
			if b.read(&c) < b.openUntil.Load() {
				return b.reject()
			}
			b.mu.Lock()
			if b.word.Load() == w {
				b.toHalfOpenLocked(ctx, w, c.t, "open duration elapsed")
			}
			b.mu.Unlock()
			b.dispatch()
		case HalfOpen:
			if len(b.conf().RampSteps) > 0 {
				p, err, retry := b.allowRamp(ctx, w, &c)
				if !retry {
					return p, err
				}
				continue
			}
			p, err, retry := b.allowProbe(ctx, w, &c)
			if !retry {
				return p, err
			}
		default:
			return b.reject()
		}
	}
}

// takeGrace reports whether an open breaker in its grace period admits one
// more call, and clears the grace flag once the grace is used up.
func (b *Breaker) takeGrace(w uint64, c *clk) bool {
	cfg := b.conf()
	if cfg.GraceCalls > 0 && b.graceLeft.Add(-1) >= 0 {
		return true
	}
	if cfg.GraceDuration > 0 {
		b.mu.Lock()
		end := b.graceEnd
		b.mu.Unlock()
		if b.read(c) < end {
			return true
		}
	}
	b.word.CompareAndSwap(w, w&^flagGrace)
	return false
}

func (b *Breaker) allowProbe(ctx context.Context, w uint64, c *clk) (p Permit, err error, retry bool) {
	now := b.read(c)
	gateOK := b.probeGateAllows() // outside the lock: the gate is someone else's code
	b.mu.Lock()
	if b.word.Load() != w {
		b.mu.Unlock()
		return Permit{}, nil, true
	}
	// A lost probe of this period counts as failed: reopen. Lost probes of
	// earlier periods only give their slots back.
	if b.sweepProbesLocked(w, now) {
		b.reopenLocked(ctx, w, now, c.explicit, fmt.Sprintf("probe gave no answer within %s", b.conf().ProbeTimeout))
		b.mu.Unlock()
		b.dispatch()
		b.shard().rejectedProbe.Add(1)
		return Permit{}, ErrOpen, false
	}
	if !gateOK {
		b.mu.Unlock()
		b.shard().rejectedProbe.Add(1)
		return Permit{}, ErrOpen, false
	}
	cfg := b.conf()
	busy := 0
	for _, st := range b.probes {
		if st != 0 {
			busy++
		}
	}
	for i, st := range b.probes {
		if st == 0 && busy < cfg.HalfOpenProbes {
			b.probes[i], b.probeWord[i] = now+1, w
			if !c.explicit && b.probeTimer == nil {
				b.probeTimer = time.AfterFunc(cfg.ProbeTimeout, b.probeTimedOut)
			}
			b.mu.Unlock()
			sh, _ := b.count()
			return Permit{b: b, ctx: ctx, w: w, kind: kindProbe, slot: int32(i), start: now, timed: true, shard: sh}, nil, false
		}
	}
	b.mu.Unlock()
	b.shard().rejectedProbe.Add(1)
	return Permit{}, ErrOpen, false
}

// sweepProbesLocked frees the slots of probes that ran for ProbeTimeout
// without reporting, and reports whether one of them was admitted under
// the state word w.
func (b *Breaker) sweepProbesLocked(w uint64, now int64) (lostNow bool) {
	for i, st := range b.probes {
		if st != 0 && now-(st-1) >= int64(b.conf().ProbeTimeout) {
			lostNow = lostNow || b.probeWord[i] == w
			b.probes[i] = 0
		}
	}
	return lostNow
}

// probeTimedOut runs on the probe timer, so that a lost probe takes effect
// without any other call arriving: it frees the slots of lost probes,
// reopens a half-open breaker whose own probe was lost, and sets the timer
// again for the next probe still running.
func (b *Breaker) probeTimedOut() {
	b.mu.Lock()
	b.probeTimer = nil
	now := int64(time.Since(b.epoch))
	w := b.word.Load()
	if b.sweepProbesLocked(w, now) && stateOf(w) == HalfOpen {
		b.reopenLocked(context.Background(), w, now, false, fmt.Sprintf("probe gave no answer within %s", b.conf().ProbeTimeout))
	}
	next := int64(-1)
	for _, st := range b.probes {
		if st != 0 {
			if d := st - 1 + int64(b.conf().ProbeTimeout) - now; next < 0 || d < next {
				next = d
			}
		}
	}
	if next >= 0 {
		b.probeTimer = time.AfterFunc(time.Duration(max(next, 1)), b.probeTimedOut)
	}
	b.mu.Unlock()
	b.dispatch()
}

func (b *Breaker) allowRamp(ctx context.Context, w uint64, c *clk) (p Permit, err error, retry bool) {
	now := b.read(c)
	b.mu.Lock()
	if b.word.Load() != w {
		b.mu.Unlock()
		return Permit{}, nil, true
	}
	cfg := b.conf()
	if b.rampStep >= len(cfg.RampSteps) || now-b.rampStart >= int64(cfg.RampStepDuration) {
		b.rampStep++
		if b.rampStep >= len(cfg.RampSteps) {
			b.toClosedLocked(ctx, w, now, "ramp completed", "")
			b.mu.Unlock()
			b.dispatch()
			return Permit{}, nil, true
		}
		b.rampStart, b.rampCalls, b.rampFails = now, 0, 0
	}
	share := cfg.RampSteps[b.rampStep]
	b.mu.Unlock()
	if !b.probeGateAllows() {
		p, err = b.reject()
		return p, err, false
	}
	n := float64(b.rampCtr.Add(1))
	if math.Floor(n*share/100) > math.Floor((n-1)*share/100) {
		sh, _ := b.count()
		return Permit{b: b, ctx: ctx, w: w, kind: kindRamp, start: now, timed: true, shard: sh}, nil, false
	}
	p, err = b.reject()
	return p, err, false
}

// ---- Outcomes and the rules ----

// Done reports the outcome of the permitted call: err is classified by the
// breaker's Classifier (by default nil is a success, context.Canceled is
// ignored and anything else is a failure).
func (p *Permit) Done(err error) {
	if err == nil && p.fastSuccess() {
		return
	}
	p.finish(Outcome{Err: err}, clk{}, 0, false)
}

// fastSuccess records a success on a closed count window, the common case,
// kept small; it reports false when the permit needs the general path.
func (p *Permit) fastSuccess() bool {
	b := p.b
	if p.kind == kindClosed && !p.timed && b != nil && b.fast.Load() {
		sh := b.shardAt(p.shard)
		if b.word.Load() != p.w {
			sh.staleSucceeded.Add(1)
			return true
		}
		sh.succeeded.Add(1)
		if b.consecutive.Load() != 0 {
			b.consecutive.Store(0)
		}
		if b.armed.Load() {
			b.judge(p, &clk{}, false, false)
		}
		return true
	}
	return false
}

// DoneAt is Done at the explicit time t.
func (p *Permit) DoneAt(t time.Time, err error) {
	if p.b != nil {
		p.finish(Outcome{Err: err}, p.b.at(t), 0, false)
	}
}

// Finish reports the outcome of the permitted call with an adapter's label
// (such as an HTTP status) for the Classifier. The breaker fills in Latency
// when it measures it.
func (p *Permit) Finish(o Outcome) { p.finish(o, clk{}, 0, false) }

// FinishAt is Finish at the explicit time t.
func (p *Permit) FinishAt(t time.Time, o Outcome) {
	if p.b != nil {
		p.finish(o, p.b.at(t), 0, false)
	}
}

// Report reports a result the caller classified itself (an adapter with
// its own status rules, say), bypassing the Classifier. Slow-call tracking
// still applies.
func (p *Permit) Report(r Result) {
	if r == Success && p.fastSuccess() {
		return
	}
	p.finish(Outcome{}, clk{}, r, true)
}

// ReportAt is Report at the explicit time t.
func (p *Permit) ReportAt(t time.Time, r Result) {
	if p.b != nil {
		p.finish(Outcome{}, p.b.at(t), r, true)
	}
}

// Context returns the context given to Allow (nil for the zero Permit).
func (p *Permit) Context() context.Context { return p.ctx }

func (p *Permit) finish(o Outcome, c clk, r Result, classified bool) {
	b := p.b
	if b == nil {
		return
	}
	if p.timed {
		o.Latency = time.Duration(b.read(&c) - p.start)
	}
	if !classified {
		r = b.Classify(o)
	}
	set := b.set.Load()
	slow := set.slowNanos > 0 && int64(o.Latency) >= set.slowNanos && r != Ignore
	sh := b.shardAt(p.shard)
	current := b.word.Load() == p.w
	switch {
	case r == Ignore:
		sh.ignored.Add(1)
	case !current && r == Success:
		sh.staleSucceeded.Add(1)
	case !current:
		sh.staleFailed.Add(1)
	case r == Success:
		sh.succeeded.Add(1)
	default:
		sh.failed.Add(1)
	}
	if slow {
		sh.slow.Add(1)
	}
	if p.kind == kindProbe {
		b.finishProbe(p, r, slow, &c) // frees the slot even for a stale probe
		return
	}
	if !current {
		return
	}
	if r == Ignore {
		return
	}
	switch p.kind {
	case kindPass:
		return
	case kindClosed:
		if set.learned != nil {
			if reason, trip := set.learned.observe(b.read(&c), p.w, r == Failure, o.Latency); trip {
				b.mu.Lock()
				if b.word.Load() == p.w {
					b.tripLocked(p.ctx, p.w, b.read(&c), c.explicit, reason)
				}
				b.mu.Unlock()
				b.dispatch()
				return
			}
		}
		if set.buckets != nil {
			now := b.read(&c)
			b.recordBucket(set, now, r == Failure, slow)
			if r == Success && !slow {
				if b.consecutive.Load() != 0 {
					b.consecutive.Store(0)
				}
				// A success reaching MinCalls, or older successes leaving
				// the window, can make the rate rules hold: read the
				// window without the lock, and lock only to trip.
				if _, trip, _ := b.rules(b.timeWindow(set, now)); trip {
					b.judge(p, &c, false, false)
				}
				return
			}
		} else if r == Success && !slow {
			if b.consecutive.Load() != 0 {
				b.consecutive.Store(0)
			}
			if b.armed.Load() {
				b.judge(p, &c, false, false)
			}
			return
		}
		if r == Failure {
			n := b.consecutive.Add(1)
			if k := set.cfg.ConsecutiveFailures; k > 0 && n >= int64(k) {
				b.mu.Lock()
				if b.word.Load() == p.w {
					if b.set.Load().buckets == nil {
						b.failRing.push(b.totalCalls())
					}
					b.tripLocked(p.ctx, p.w, b.read(&c), c.explicit, fmt.Sprintf("%d consecutive failures", n))
				}
				b.mu.Unlock()
				b.dispatch()
				return
			}
		} else if b.consecutive.Load() != 0 {
			b.consecutive.Store(0)
		}
		if r == Failure || slow || b.armed.Load() {
			counted := set.buckets == nil
			b.judge(p, &c, counted && r == Failure, counted && slow)
		}
	case kindRamp:
		b.finishRamp(p, r, &c)
	}
}

// Classify applies the breaker's Classifier to o (a panicking classifier
// counts as Failure).
func (b *Breaker) Classify(o Outcome) (r Result) {
	classify := b.conf().Classifier
	if classify == nil {
		if o.Err == nil {
			return Success
		}
		return DefaultClassifier(o)
	}
	defer func() {
		if recover() != nil {
			r = Failure
		}
	}()
	return classify(o)
}

// judge records a failure or slow call into a count window and evaluates
// the window's rate rules. It also runs for a plain success while the window
// is armed (a rate rule holds but MinCalls is not reached yet).
func (b *Breaker) judge(p *Permit, c *clk, failed, slow bool) {
	b.mu.Lock()
	if b.word.Load() != p.w {
		b.mu.Unlock()
		return
	}
	var calls, fails, slows int
	if set := b.set.Load(); set.buckets == nil {
		total := b.totalCalls()
		if failed {
			b.failRing.push(total)
		}
		if slow {
			b.slowRing.push(total)
		}
		calls, fails, slows = b.countWindowLocked(total)
	} else {
		calls, fails, slows = b.timeWindow(set, b.read(c))
	}
	reason, trip, arm := b.rules(calls, fails, slows)
	if trip {
		b.tripLocked(p.ctx, p.w, b.read(c), c.explicit, reason)
	}
	b.armed.Store(arm && !trip)
	b.mu.Unlock()
	b.dispatch()
}

// rules applies the rate rules to a window's counts. arm reports that a
// rate rule holds but the window has fewer than MinCalls calls.
func (b *Breaker) rules(calls, fails, slows int) (reason string, trip, arm bool) {
	c := b.conf()
	rate := c.FailureRate > 0 && fails > 0 && float64(fails)*100 >= c.FailureRate*float64(calls)
	slow := c.SlowCallRate > 0 && slows > 0 && float64(slows)*100 >= c.SlowCallRate*float64(calls)
	if calls < c.MinCalls {
		return "", false, rate || slow
	}
	switch {
	case rate:
		return fmt.Sprintf("failure rate %.4g%% >= %g%% over %d calls", float64(fails)*100/float64(calls), c.FailureRate, calls), true, false
	case slow:
		return fmt.Sprintf("slow-call rate %.4g%% >= %g%% over %d calls (slow: >= %s)", float64(slows)*100/float64(calls), c.SlowCallRate, calls, c.SlowCallDuration), true, false
	}
	return "", false, false
}

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
	cfg := b.conf()
	switch {
	case r == Failure:
		b.reopenLocked(p.ctx, p.w, now, c.explicit, "probe failed")
	case slow && cfg.SlowCallRate > 0:
		b.reopenLocked(p.ctx, p.w, now, c.explicit, fmt.Sprintf("probe was slow (>= %s)", cfg.SlowCallDuration))
	case r == Success:
		b.probeOK++
		if b.probeOK >= cfg.SuccessThreshold {
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
	cfg := b.conf()
	rate := cfg.FailureRate
	if rate == 0 {
		rate = 50
	}
	if len(cfg.RampSteps) == 0 { // a reload turned the ramp off: probes decide now
		b.mu.Unlock()
		return
	}
	if b.rampCalls >= cfg.RampMinCalls && float64(b.rampFails)*100 >= rate*float64(b.rampCalls) {
		b.reopenLocked(p.ctx, p.w, b.read(c), c.explicit, fmt.Sprintf("ramp step %g%%: failure rate %.4g%% >= %g%% over %d calls",
			cfg.RampSteps[min(b.rampStep, len(cfg.RampSteps)-1)], float64(b.rampFails)*100/float64(b.rampCalls), rate, b.rampCalls))
	}
	b.mu.Unlock()
	b.dispatch()
}

// ---- Transitions ----

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
	c := b.conf()
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
	if cfg := b.conf(); grace && (cfg.GraceCalls > 0 || cfg.GraceDuration > 0) {
		b.graceLeft.Store(int64(cfg.GraceCalls))
		b.graceEnd = addSat(now, int64(cfg.GraceDuration))
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
	if b.conf().OnStateChange != nil {
		if ctx == nil {
			ctx = context.Background()
		}
		b.events = append(b.events, event{ctx, t})
		b.pending.Store(true)
	}
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
	if fn := b.conf().OnStateChange; fn != nil {
		fn(e.ctx, e.t)
	}
}

// ---- Manual control ----

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
	return b.manualAt(-1, next, m)
}

// manualAt is manual at now (nanoseconds since the epoch), or at the time
// read from the clock when now is -1 (see OverrideAt).
func (b *Breaker) manualAt(now int64, next func(w uint64, now int64) uint64, m Manual) Transition {
	b.mu.Lock()
	w := b.word.Load()
	if now == -1 {
		now = int64(time.Since(b.epoch))
	}
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
