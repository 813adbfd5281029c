package breaker

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/internal/stripe"
)

// The state word packs the state, two flags and a generation that changes
// with every transition, so that a call admitted under one state cannot
// steer the breaker after it has moved on.
const (
	stateMask = 0x0f
	flagTimer = 0x10 // open, and a real-time timer will half-open it: reject without reading the clock
	flagGrace = 0x20 // open, with grace calls or grace time left
	genShift  = 8
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

// stripes is a breaker's array of shards, made once it is busy.
type stripes struct {
	mask int // len(s) - 1; len(s) is a power of two <= 64
	s    []shard
}

// stripeAfter is how many calls (or rejections) counted on the first shard
// make a breaker striped.
const stripeAfter = 1024

// baseShard is a permit's shard index when its call was counted on the
// first shard.
const baseShard = 0xff

// shard holds cumulative counters. A breaker has several, each on its own
// cache line, and a goroutine picks one by its stack address, so parallel
// callers rarely write the same line.
//
// Outcomes of calls admitted under an earlier state word ("stale" calls)
// are counted apart, so that they never enter the count window's index
// space (succeeded + failed), which must hold only the current state's
// calls.
type shard struct {
	admitted, succeeded, failed, ignored, slow, rejected, rejectedProbe atomic.Uint64
	staleSucceeded, staleFailed                                         atomic.Uint64
	_                                                                   [128 - 9*8]byte
}

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
	// Read on every call; written only on transitions and failures.
	word        atomic.Uint64
	consecutive atomic.Int64
	armed       atomic.Bool // the window's rate rule holds but MinCalls is not reached yet
	pending     atomic.Bool // state-change events wait for dispatch
	cfg         Config
	epoch       time.Time
	// Counters live in first until the breaker has seen stripeAfter calls
	// (or rejections); then striped holds a padded shard per stripe, so a
	// busy breaker's callers rarely write the same line, while an idle one
	// costs one shard instead of sixteen.
	striped   atomic.Pointer[stripes]
	measure   bool
	fast      bool // count window, default classifier: Done(nil) takes the short path
	slowNanos int64

	_     [64]byte
	first shard
	_     [64]byte

	mu        sync.Mutex
	failRing  ring // count window: call indices of recent failures
	slowRing  ring // count window: call indices of recent slow calls
	base      uint64
	buckets   []bucket // time window
	bucketNs  int64
	openUntil atomic.Int64
	opens     int // failed probes since the breaker last closed
	timer     *time.Timer
	graceLeft atomic.Int64
	graceEnd  int64
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
	rampCtr    atomic.Uint64
	trans      uint64
	last       Transition
	since      time.Time
	shadow     uint64
	events     []event
	sending    bool
	manOpen    bool // the current Open was made by OpenFor or OpenUntil
}

type event struct {
	ctx context.Context
	t   Transition
}

type bucket struct {
	num               atomic.Int64 // bucket number (time / bucket span); noBucket when empty
	calls, fails, slw atomic.Uint64
}

// noBucket marks an empty bucket: no time maps to it, so an empty bucket is
// never read as a bucket inside the window, however young the breaker.
const noBucket = math.MinInt64

// New returns a closed breaker configured by cfg, or the error from
// cfg.Validate.
func New(cfg Config) (*Breaker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.RampSteps = append([]float64(nil), cfg.RampSteps...)
	b := &Breaker{
		cfg:       cfg,
		epoch:     time.Now(),
		measure:   cfg.SlowCallDuration > 0 || cfg.MeasureLatency,
		slowNanos: int64(cfg.SlowCallDuration),
		probes:    make([]int64, cfg.HalfOpenProbes),
		probeWord: make([]uint64, cfg.HalfOpenProbes),
		fast:      cfg.Window == CountWindow && cfg.Classifier == nil,
	}
	b.since = b.epoch
	if cfg.Window == CountWindow {
		b.failRing.init(cfg.WindowSize)
		if cfg.SlowCallDuration > 0 {
			b.slowRing.init(cfg.WindowSize)
		}
	} else {
		b.buckets = make([]bucket, cfg.Buckets)
		b.bucketNs = max(int64(cfg.WindowDuration)/int64(cfg.Buckets), 1)
		for i := range b.buckets {
			b.buckets[i].num.Store(noBucket)
		}
	}
	return b, nil
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

// Config returns the breaker's configuration with defaults filled in.
func (b *Breaker) Config() Config {
	c := b.cfg
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

// makeStripes gives a busy breaker its striped shards, once.
func (b *Breaker) makeStripes() {
	// 4 shards per P, at least 16 (2 KiB): with 8, two goroutines of a
	// two-core benchmark shared a shard in several runs of six, and ran
	// three times slower.
	n := nextPow2(4 * runtime.GOMAXPROCS(0))
	n = min(max(n, 16), 64)
	// One shard more than used, in front: it keeps the first shard off the
	// lines of whatever the allocator put before the slice.
	b.striped.CompareAndSwap(nil, &stripes{mask: n - 1, s: make([]shard, n+1)[1:]})
}

// count counts an admitted call and returns the shard index for its
// permit. Index(6) with constant shifts, masked, costs less than Index with
// the shard count's own bits, and keeps its promise for any power of two
// up to 64: neighbouring stacks get different shards.
func (b *Breaker) count() uint8 {
	if st := b.striped.Load(); st != nil {
		i := uint8(stripe.Index(6) & st.mask)
		st.s[i].admitted.Add(1)
		return i
	}
	if b.first.admitted.Add(1) == stripeAfter {
		b.makeStripes()
	}
	return baseShard
}

// shard returns the calling goroutine's shard, for a rejection.
func (b *Breaker) shard() *shard {
	if st := b.striped.Load(); st != nil {
		return &st.s[stripe.Index(6)&st.mask]
	}
	if b.first.rejected.Load() >= stripeAfter {
		b.makeStripes()
	}
	return &b.first
}

// shardAt returns the shard a permit's call was counted on.
func (b *Breaker) shardAt(i uint8) *shard {
	if i == baseShard {
		return &b.first
	}
	return &b.striped.Load().s[i]
}

// eachShard calls fn for every shard.
func (b *Breaker) eachShard(fn func(*shard)) {
	fn(&b.first)
	if st := b.striped.Load(); st != nil {
		for i := range st.s {
			fn(&st.s[i])
		}
	}
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
}

// Allow asks the breaker to admit a call. It returns a Permit, or ErrOpen
// when the breaker rejects the call. ctx is handed to OnStateChange if the
// call's outcome changes the state; the breaker does not watch it.
func (b *Breaker) Allow(ctx context.Context) (Permit, error) {
	w := b.word.Load()
	if w&0xff == uint64(Closed) && !b.measure {
		return Permit{b: b, ctx: ctx, w: w, shard: b.count()}, nil
	}
	if s := w & 0xff; s == uint64(Open)|flagTimer || s == uint64(ForcedOpen) {
		b.shard().rejected.Add(1)
		return Permit{}, ErrOpen
	}
	return b.allowSlow(ctx, clk{})
}

// AllowAt is Allow at the explicit time t, for tests and simulations.
// Use DoneAt or FinishAt on its permit.
func (b *Breaker) AllowAt(ctx context.Context, t time.Time) (Permit, error) {
	return b.allowSlow(ctx, b.at(t))
}

func (b *Breaker) admit(ctx context.Context, w uint64, kind uint8, c *clk) (Permit, error) {
	p := Permit{b: b, ctx: ctx, w: w, kind: kind, shard: b.count()}
	if b.measure {
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
			if len(b.cfg.RampSteps) > 0 {
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
	if b.cfg.GraceCalls > 0 && b.graceLeft.Add(-1) >= 0 {
		return true
	}
	if b.cfg.GraceDuration > 0 {
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
	b.mu.Lock()
	if b.word.Load() != w {
		b.mu.Unlock()
		return Permit{}, nil, true
	}
	// A lost probe of this period counts as failed: reopen. Lost probes of
	// earlier periods only give their slots back.
	if b.sweepProbesLocked(w, now) {
		b.reopenLocked(ctx, w, now, c.explicit, fmt.Sprintf("probe gave no answer within %s", b.cfg.ProbeTimeout))
		b.mu.Unlock()
		b.dispatch()
		b.shard().rejectedProbe.Add(1)
		return Permit{}, ErrOpen, false
	}
	for i, st := range b.probes {
		if st == 0 {
			b.probes[i], b.probeWord[i] = now+1, w
			if !c.explicit && b.probeTimer == nil {
				b.probeTimer = time.AfterFunc(b.cfg.ProbeTimeout, b.probeTimedOut)
			}
			b.mu.Unlock()
			sh := b.count()
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
		if st != 0 && now-(st-1) >= int64(b.cfg.ProbeTimeout) {
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
		b.reopenLocked(context.Background(), w, now, false, fmt.Sprintf("probe gave no answer within %s", b.cfg.ProbeTimeout))
	}
	next := int64(-1)
	for _, st := range b.probes {
		if st != 0 {
			if d := st - 1 + int64(b.cfg.ProbeTimeout) - now; next < 0 || d < next {
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
	if now-b.rampStart >= int64(b.cfg.RampStepDuration) {
		b.rampStep++
		if b.rampStep >= len(b.cfg.RampSteps) {
			b.toClosedLocked(ctx, w, now, "ramp completed", "")
			b.mu.Unlock()
			b.dispatch()
			return Permit{}, nil, true
		}
		b.rampStart, b.rampCalls, b.rampFails = now, 0, 0
	}
	share := b.cfg.RampSteps[b.rampStep]
	b.mu.Unlock()
	n := float64(b.rampCtr.Add(1))
	if math.Floor(n*share/100) > math.Floor((n-1)*share/100) {
		sh := b.count()
		return Permit{b: b, ctx: ctx, w: w, kind: kindRamp, start: now, timed: true, shard: sh}, nil, false
	}
	p, err = b.reject()
	return p, err, false
}

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
	if p.kind == kindClosed && !p.timed && b != nil && b.fast {
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
	slow := b.slowNanos > 0 && int64(o.Latency) >= b.slowNanos && r != Ignore
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
		if b.buckets != nil {
			now := b.read(&c)
			b.recordBucket(now, r == Failure, slow)
			if r == Success && !slow {
				if b.consecutive.Load() != 0 {
					b.consecutive.Store(0)
				}
				// A success reaching MinCalls, or older successes leaving
				// the window, can make the rate rules hold: read the
				// window without the lock, and lock only to trip.
				if _, trip, _ := b.rules(b.timeWindow(now)); trip {
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
			if k := b.cfg.ConsecutiveFailures; k > 0 && n >= int64(k) {
				b.mu.Lock()
				if b.word.Load() == p.w {
					if b.buckets == nil {
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
			counted := b.buckets == nil
			b.judge(p, &c, counted && r == Failure, counted && slow)
		}
	case kindRamp:
		b.finishRamp(p, r, &c)
	}
}

// Classify applies the breaker's Classifier to o (a panicking classifier
// counts as Failure).
func (b *Breaker) Classify(o Outcome) (r Result) {
	if b.cfg.Classifier == nil {
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
	return b.cfg.Classifier(o)
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
	if b.buckets == nil {
		total := b.totalCalls()
		if failed {
			b.failRing.push(total)
		}
		if slow {
			b.slowRing.push(total)
		}
		calls, fails, slows = b.countWindowLocked(total)
	} else {
		calls, fails, slows = b.timeWindow(b.read(c))
	}
	reason, trip, arm := b.rules(calls, fails, slows)
	if trip {
		b.tripLocked(p.ctx, p.w, b.read(c), c.explicit, reason)
	}
	b.armed.Store(arm && !trip)
	b.mu.Unlock()
	b.dispatch()
}

func (b *Breaker) totalCalls() uint64 {
	var n uint64
	b.eachShard(func(sh *shard) { n += sh.succeeded.Load() + sh.failed.Load() })
	return n
}

func (b *Breaker) countWindowLocked(total uint64) (calls, fails, slows int) {
	var n uint64
	if total > b.base {
		n = total - b.base
	}
	if n > uint64(b.cfg.WindowSize) {
		n = uint64(b.cfg.WindowSize)
	}
	from := total - n
	return int(n), b.failRing.countAbove(from), b.slowRing.countAbove(from)
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (b *Breaker) recordBucket(now int64, failed, slow bool) {
	e := floorDiv(now, b.bucketNs)
	n := int64(len(b.buckets))
	bk := &b.buckets[(e%n+n)%n]
	if bk.num.Load() != e {
		b.mu.Lock()
		if bk.num.Load() != e {
			bk.calls.Store(0)
			bk.fails.Store(0)
			bk.slw.Store(0)
			bk.num.Store(e)
		}
		b.mu.Unlock()
	}
	bk.calls.Add(1)
	if failed {
		bk.fails.Add(1)
	}
	if slow {
		bk.slw.Add(1)
	}
}

// timeWindow sums the buckets of the window that ends at now: those whose
// number is one of the len(buckets) numbers up to now's.
func (b *Breaker) timeWindow(now int64) (calls, fails, slows int) {
	e := floorDiv(now, b.bucketNs)
	n := uint64(len(b.buckets))
	for i := range b.buckets {
		bk := &b.buckets[i]
		be := bk.num.Load()
		if be != noBucket && be <= e && uint64(e-be) < n {
			calls += int(bk.calls.Load())
			fails += int(bk.fails.Load())
			slows += int(bk.slw.Load())
		}
	}
	return
}

// rules applies the rate rules to a window's counts. arm reports that a
// rate rule holds but the window has fewer than MinCalls calls.
func (b *Breaker) rules(calls, fails, slows int) (reason string, trip, arm bool) {
	c := &b.cfg
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
