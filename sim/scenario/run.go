package scenario

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/sim/timeline"
)

// z99 is the standard normal quantile of 0.99.
const z99 = 2.3263478740408408

// call is one call of the simulation: its arrival and its retry progress.
type call struct {
	start time.Duration
	rs    core.RetryState
}

// event is an attempt due at at (done false) or an admitted attempt that
// ends at at (done true).
type event struct {
	at     time.Duration
	seq    uint64
	done   bool
	c      *call
	permit core.Permit
	err    error
}

type events []*event

func (q events) Len() int { return len(q) }
func (q events) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q events) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *events) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *events) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

// run is one simulation's state. Everything happens on one goroutine.
type run struct {
	sc    *Scenario
	reg   *core.Registry
	g     *core.Guard
	t0    time.Time // the virtual clock's origin
	ctx   context.Context
	queue events
	seq   uint64

	arrivals, outcomes, latencies, jitter *rand.Rand
	timeout, total                        time.Duration

	tl       *timeline.Timeline
	tick     timeline.Point // the tick being filled
	last     core.GuardSnapshot
	inFlight int
	pending  int     // calls not ended
	lats     []int64 // milliseconds from arrival to success
}

// Run simulates sc against a fresh core.Registry to which doc is applied:
// the guard named sc.Guard (whose policy the document selects) sees the
// scenario's calls, driven on a virtual clock through the explicit-time
// API only (Guard.AllowAt, Permit.DoneAt, Guard.AdvanceAt, Guard.BeginAt
// and Guard.RetryAt, Registry.AdvanceAt and SnapshotAt at each tick). It
// reads no clock, sleeps nowhere and runs on the calling goroutine.
//
// Calls arrive as a Poisson process of the scenario's rate, or evenly
// spaced (Uniform). Each admitted
// attempt fails with the failure rate in force when it starts, after a
// latency drawn from the latency distribution in force; an attempt longer
// than the policy's timeout fails at the timeout, and one that would end
// after the call's total timeout fails then. Failed attempts are retried
// as Guard.Do would (Guard.RetryAt). All times are whole milliseconds
// (Resolution); all draws come from PCG generators seeded with sc.Seed, so
// the same scenario and document give the same Timeline.
//
// What the simulation does not model is named in Timeline.Notes: policy
// features with randomness or clocks of their own (open-duration jitter,
// the client-side throttle, adaptive limits, windowed rate limits), a
// bulkhead queue (a full bulkhead rejects at once in explicit time), and
// hedging, fallbacks and caches (calls go straight to the dependency).
func Run(sc *Scenario, doc core.Document) (*timeline.Timeline, error) {
	r := &run{sc: sc, ctx: context.Background()}
	var trans []timeline.Transition
	var t0 time.Time
	opts := []core.Option{core.WithHooks(core.Hooks{OnStateChange: func(_ context.Context, e core.StateChange) {
		if e.Guard == sc.Guard {
			trans = append(trans, timeline.Transition{At: core.Duration(e.At.Sub(t0)), From: e.From.String(), To: e.To.String(), Reason: e.Reason})
		}
	}})}
	// Fallbacks are not simulated, but a document that names them applies
	// only to a registry that has them: stand-ins that are never called.
	for _, name := range doc.FallbackNames() {
		opts = append(opts, core.WithFallback(name, func(context.Context, fallback.Cause) (any, error) {
			return nil, errors.New("scenario: fallbacks are not simulated")
		}))
	}
	reg, err := core.NewRegistry(opts...)
	if err != nil {
		return nil, err
	}
	pols, _ := doc.WithoutOperations() // maintenance windows and chaos experiments are not simulated
	if _, err := reg.Apply(pols); err != nil {
		return nil, fmt.Errorf("scenario: the policy document does not apply: %w", err)
	}
	_, matched, err := reg.PolicyFor(sc.Guard)
	if err != nil {
		return nil, fmt.Errorf("scenario: guard %q: %w", sc.Guard, err)
	}
	g, err := reg.Guard(sc.Guard)
	if err != nil {
		return nil, fmt.Errorf("scenario: guard %q: %w", sc.Guard, err)
	}
	// The clock starts where the guard's breaker keeps time from (its
	// creation, when its policy sets no mode), so that its time-window
	// buckets fall at the same offsets in every run.
	first := g.Snapshot()
	t0 = first.Breaker.Since
	trans = trans[:0]
	r.reg, r.g, r.t0, r.last = reg, g, t0, first
	pol := g.Policy()
	nts := notes(pol)
	if !matched {
		nts = append([]string{fmt.Sprintf("no policy of the document matches guard %q: it runs under policy %q", sc.Guard, pol.Name)}, nts...)
	}
	r.timeout, r.total = time.Duration(pol.Timeout), time.Duration(pol.TotalTimeout)
	r.arrivals = rand.New(rand.NewPCG(sc.Seed, 1))
	r.outcomes = rand.New(rand.NewPCG(sc.Seed, 2))
	r.latencies = rand.New(rand.NewPCG(sc.Seed, 3))
	r.jitter = rand.New(rand.NewPCG(sc.Seed, 4))
	r.tl = &timeline.Timeline{Guard: sc.Guard, Policy: pol.Name, Scenario: sc.File, Seed: sc.Seed,
		Duration: core.Duration(sc.Duration), Tick: core.Duration(sc.Tick),
		HasBulkhead: pol.Bulkhead != nil, HasRateLimit: pol.RateLimit != nil, Notes: nts}
	r.tl.Points = make([]timeline.Point, 0, sc.Duration/sc.Tick+1)

	arrive := newArrivals(sc, r.arrivals)
	nextTick := sc.Tick
	next, more := arrive.next()
	for {
		// The earliest of: the next queued event, the next arrival.
		at, fromQueue := time.Duration(math.MaxInt64), false
		if len(r.queue) > 0 {
			at, fromQueue = r.queue[0].at, true
		}
		if more && next < at {
			at, fromQueue = next, false
		}
		for nextTick <= min(at, sc.Duration) {
			r.sample(nextTick)
			nextTick += sc.Tick
		}
		if at >= sc.Duration {
			break
		}
		if fromQueue {
			e := heap.Pop(&r.queue).(*event)
			if e.done {
				r.done(e)
			} else {
				r.attempt(e.at, e.c)
			}
			continue
		}
		r.tl.Summary.Calls++
		r.tick.Calls++
		r.pending++
		c := &call{start: at, rs: g.BeginAt(t0.Add(at))}
		r.attempt(at, c)
		next, more = arrive.next()
	}
	if last := len(r.tl.Points); last == 0 || time.Duration(r.tl.Points[last-1].At) < sc.Duration {
		r.sample(sc.Duration)
	}
	r.tl.Summary.Unfinished = r.pending
	r.tl.Transitions = trans
	if r.tl.Transitions == nil {
		r.tl.Transitions = []timeline.Transition{}
	}
	r.finish()
	return r.tl, nil
}

// notes names what limits the fidelity of a run under pol.
func notes(pol core.Policy) []string {
	var out []string
	if b := pol.Breaker; b != nil && b.OpenJitter > 0 {
		out = append(out, "openJitter draws randomness of its own: runs with the same seed may differ")
	}
	if pol.Throttle != nil {
		out = append(out, "the client-side throttle draws randomness of its own: runs with the same seed may differ")
	}
	if bh := pol.Bulkhead; bh != nil {
		if bh.Adaptive != nil {
			out = append(out, "the adaptive bulkhead limit samples calls at random: runs with the same seed may differ")
		}
		if bh.MaxQueue > 0 {
			out = append(out, "a full bulkhead rejects at once in simulation: its queue is not modelled")
		}
	}
	if rl := pol.RateLimit; rl != nil && rl.Algorithm != "" && rl.Algorithm != "token-bucket" && rl.Algorithm != "gcra" {
		out = append(out, "a "+rl.Algorithm+" rate limit aligns its windows on the wall clock: runs with the same seed may differ")
	}
	if pol.Hedge != nil || pol.Cache != nil || len(pol.Fallbacks) > 0 {
		out = append(out, "hedging, caches and fallbacks are not simulated: calls go straight to the dependency")
	}
	return out
}

func (r *run) push(e *event) {
	r.seq++
	e.seq = r.seq
	heap.Push(&r.queue, e)
}

// attempt runs one attempt of c at the offset at.
func (r *run) attempt(at time.Duration, c *call) {
	abs := r.t0.Add(at)
	r.g.AdvanceAt(abs)
	p, err := r.g.AllowAt(r.ctx, abs)
	if err != nil {
		r.decide(at, c, err, true)
		return
	}
	r.tl.Summary.Attempts++
	r.tick.Attempts++
	r.inFlight++
	cond := r.sc.At(at)
	var aerr error
	if r.outcomes.Float64() < cond.FailureRate {
		aerr = errFailed
	}
	end := at + r.latency(cond.Latency)
	if r.timeout > 0 && end-at > r.timeout {
		end, aerr = at+r.timeout, context.DeadlineExceeded
	}
	if r.total > 0 && end > c.start+r.total {
		end, aerr = c.start+r.total, context.DeadlineExceeded
	}
	r.push(&event{at: end, done: true, c: c, permit: p, err: aerr})
}

// errFailed is the error of a failed attempt.
var errFailed = errors.New("scenario: the dependency failed")

// latency draws an attempt's latency, rounded to the millisecond.
func (r *run) latency(l Latency) time.Duration {
	d := float64(l.Median)
	if l.P99 > l.Median {
		sigma := math.Log(float64(l.P99)/float64(l.Median)) / z99
		d *= math.Exp(sigma * r.latencies.NormFloat64())
	}
	d = min(d, float64(MaxLatency))
	return time.Duration(math.Round(d/float64(Resolution))) * Resolution
}

// done reports an attempt that ended.
func (r *run) done(e *event) {
	abs := r.t0.Add(e.at)
	r.g.AdvanceAt(abs)
	e.permit.DoneAt(abs, e.err)
	r.inFlight--
	if e.err == nil {
		r.tick.Succeeded++
		r.tl.Summary.Succeeded++
		r.pending--
		r.lats = append(r.lats, int64((e.at-e.c.start)/time.Millisecond))
		return
	}
	r.tick.Failed++
	r.decide(e.at, e.c, e.err, false)
}

// decide asks RetryAt whether to retry c after err at the offset at.
func (r *run) decide(at time.Duration, c *call, err error, rejected bool) {
	d, rerr := r.g.RetryAt(r.t0.Add(at), &c.rs, err, r.jitter.Float64())
	if rerr == nil {
		d = (d + Resolution/2) / Resolution * Resolution
		r.push(&event{at: at + d, c: c})
		return
	}
	r.pending--
	if rejected {
		r.tl.Summary.Rejected++
	} else {
		r.tl.Summary.Failed++
	}
}

// sample closes the tick that ends at the offset at.
func (r *run) sample(at time.Duration) {
	abs := r.t0.Add(at)
	r.reg.AdvanceAt(abs)
	var s core.GuardSnapshot
	for _, gs := range r.reg.SnapshotAt(abs) {
		if gs.Name == r.g.Name() {
			s = gs
		}
	}
	p := r.tick
	p.At = core.Duration(at)
	p.State = s.Breaker.State.String()
	mid := at - time.Duration(r.sc.Tick)/2
	cond := r.sc.At(max(mid, 0))
	p.Traffic, p.ScenarioFailureRate = cond.Traffic, cond.FailureRate
	if n := p.Succeeded + p.Failed; n > 0 {
		p.FailureRate = float64(p.Failed) / float64(n)
	}
	p.WindowFailureRate = s.Breaker.FailureRate / 100
	d := s.Rejected
	o := r.last.Rejected
	p.Rejected = timeline.Rejections{Open: int(d.Open - o.Open), HalfOpen: int(d.HalfOpen - o.HalfOpen), Full: int(d.Full - o.Full), Limited: int(d.Limited - o.Limited), Throttled: int(d.Throttled - o.Throttled)}
	p.Retries = int(s.Retries - r.last.Retries)
	p.BudgetExhausted = int(s.RetryBudgetExhausted - r.last.RetryBudgetExhausted)
	p.InFlight = r.inFlight
	if s.Bulkhead != nil {
		p.BulkheadLimit = s.Bulkhead.MaxConcurrent
		if s.Adaptive != nil {
			p.BulkheadLimit = s.Adaptive.Limit
		}
	}
	if s.RateLimit != nil && s.RateLimit.Config.Per > 0 {
		p.RateLimit = s.RateLimit.Config.Limit / s.RateLimit.Config.Per.Seconds()
	}
	r.tl.Points = append(r.tl.Points, p)
	r.tl.Summary.Retries += p.Retries
	r.tl.Summary.Rejections = r.tl.Summary.Rejections.Add(p.Rejected)
	r.last = s
	r.tick = timeline.Point{}
}

// finish computes what needs the whole run: time open per tick and in
// all, trips, latency percentiles, budget refusals.
func (r *run) finish() {
	tl := r.tl
	s := &tl.Summary
	for _, p := range tl.Points {
		s.BudgetExhausted += p.BudgetExhausted
	}
	// Open intervals from the transitions.
	type span struct{ from, to time.Duration }
	var open []span
	isOpen := func(st string) bool { return st == "open" || st == "forced-open" }
	cur, since := "closed", time.Duration(0)
	if len(tl.Transitions) > 0 {
		cur = tl.Transitions[0].From
	} else if len(tl.Points) > 0 {
		cur = tl.Points[0].State
	}
	for _, t := range tl.Transitions {
		at := time.Duration(t.At)
		if isOpen(cur) && at > since {
			open = append(open, span{since, at})
		}
		cur, since = t.To, at
		if t.To == "open" && (t.From == "closed" || t.From == "half-open") {
			s.Trips++
		}
	}
	end := time.Duration(tl.Duration)
	if isOpen(cur) && end > since {
		open = append(open, span{since, end})
	}
	tick := time.Duration(tl.Tick)
	for _, o := range open {
		s.TimeOpen += core.Duration(o.to - o.from)
		for i := range tl.Points {
			hi := time.Duration(tl.Points[i].At)
			lo := max(hi-tick, 0)
			if i > 0 {
				lo = time.Duration(tl.Points[i-1].At)
			}
			if ov := min(hi, o.to) - max(lo, o.from); ov > 0 && hi > lo {
				tl.Points[i].Open += float64(ov) / float64(hi-lo)
			}
		}
	}
	if len(r.lats) > 0 {
		slices.Sort(r.lats)
		q := func(f float64) core.Duration {
			i := int(math.Ceil(f*float64(len(r.lats)))) - 1
			return core.Duration(time.Duration(r.lats[max(i, 0)]) * time.Millisecond)
		}
		s.P50, s.P99 = q(0.5), q(0.99)
	}
}

// arrivals draws a Poisson process of the scenario's rate by thinning,
// segment by segment (the baseline between phases, each phase), each with
// the highest rate of its segment (a ramp is highest at one end).
type arrivals struct {
	sc   *Scenario
	rng  *rand.Rand
	segs []segment
	i    int
	t    float64 // seconds
}

type segment struct {
	from, to time.Duration
	max      float64
}

func newArrivals(sc *Scenario, rng *rand.Rand) *arrivals {
	a := &arrivals{sc: sc, rng: rng}
	add := func(from, to time.Duration) {
		if to <= from {
			return
		}
		m := math.Max(sc.At(from).Traffic, sc.At(to-1).Traffic)
		a.segs = append(a.segs, segment{from, to, m})
	}
	at := time.Duration(0)
	for _, ph := range sc.Phases {
		add(at, ph.From)
		add(ph.From, ph.To)
		at = ph.To
	}
	add(at, sc.Duration)
	if len(a.segs) > 0 {
		a.t = a.segs[0].from.Seconds()
	}
	return a
}

// next returns the next arrival's offset, in whole milliseconds, and
// false when there are no more.
func (a *arrivals) next() (time.Duration, bool) {
	for a.i < len(a.segs) {
		sg := &a.segs[a.i]
		if sg.max <= 0 {
			a.nextSegment()
			continue
		}
		if a.sc.Arrivals == Uniform {
			// Evenly spaced: the next call one period of the rate in force
			// later, counted in whole milliseconds so that the spacing
			// does not drift.
			d := time.Duration(math.Round(a.t*1000)) * time.Millisecond
			if d >= sg.to {
				a.nextSegment()
				continue
			}
			rate := a.sc.At(d).Traffic
			if rate <= 0 {
				a.t += 0.001
				continue
			}
			a.t += math.Max(math.Round(1000/rate), 1) / 1000
			return d, true
		}
		a.t += a.rng.ExpFloat64() / sg.max
		if a.t >= sg.to.Seconds() {
			a.nextSegment()
			continue
		}
		d := time.Duration(a.t * float64(time.Second))
		if a.rng.Float64()*sg.max >= a.sc.At(d).Traffic {
			continue // thinned
		}
		return d / Resolution * Resolution, true
	}
	return 0, false
}

func (a *arrivals) nextSegment() {
	a.i++
	if a.i < len(a.segs) {
		a.t = a.segs[a.i].from.Seconds()
	}
}
