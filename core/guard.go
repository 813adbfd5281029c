package core

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"slices"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/breakerbox/breakerbox/core/cache"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/core/hedge"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/core/throttle"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// Guard protects calls to one dependency. It always has a circuit breaker
// (which also keeps its counters) and, as its policy says, a rate limit, a
// bulkhead, retries, timeouts and fallbacks. A call made through Do passes,
// outermost first:
//
//	fallback → total timeout → retry → throttle → rate limit → bulkhead → breaker → attempt timeout → fn
//
// Allow covers the gates in the middle (throttle, rate limit, bulkhead,
// breaker); adapters that need retries use their own (see httpmw). Guards
// are created by a Registry; a Guard is safe for concurrent use.
type Guard struct {
	name    string
	br      *breaker.Breaker // reconfigured in place by a reload, never replaced
	cur     atomic.Pointer[parts]
	profile bool
	labels  func(ctx context.Context) []string
	hooks   atomic.Pointer[Hooks]
	chaos   ChaosInjector                             // the registry's (WithChaos); nil without: see chaos.go
	special atomic.Uint32                             // specialChaos | specialArmed: see overhead.go
	onState func(context.Context, breaker.Transition) // g.stateChanged, made once

	// What the guard was created with, for reloads: the UsePolicy name, the
	// WithTags tags and the WithClassifier classifier.
	usePolicy  string
	extraTags  []string
	classifier breaker.Classifier

	errOpen *RejectedError

	retries, budgetSpent, fallbackOK, fallbackFailed atomic.Uint64
	pruned                                           atomic.Bool

	// Idle tracking, written by whoever observes the guard (Snapshot,
	// Prune) without the registry's lock: the activity figure last seen,
	// and when it last changed (Unix nanoseconds).
	seenActivity atomic.Uint64
	seenAt       atomic.Int64

	ov overhead // self-measured overhead: see overhead.go
}

// parts are what a guard's policy decides besides its breaker. They are
// never changed once published: a reload publishes new parts, and a call
// keeps the parts that admitted it (its Permit carries them), so that it
// gives its bulkhead slot back where it took it.
type parts struct {
	g          *Guard
	policy     Policy
	tags       []string
	critical   bool
	bh         *bulkhead.Bulkhead
	rl         ratelimit.Limiter
	retrier    *retry.Retrier
	fb         *fallback.Chain
	timeout    time.Duration
	total      time.Duration
	simple     bool // no retry, timeout, fallback or labels: Do is Allow, fn, Done
	errFull    *RejectedError
	errLimited *RejectedError
	// Hedging and the cached fallback (see hedge.go and cache.go): nil
	// when the policy has none.
	hedger *hedge.Hedger
	cache  *cache.Cache
	// The adaptive bulkhead limit and the client-side throttle (see
	// adaptive.go): nil when the policy has none.
	adapt        *adaptiveBulkhead
	thr          *throttle.Throttler
	errThrottled *RejectedError
	// Rejections counted by bulkheads and rate limiters that reloads took
	// away, so that the guard's cumulative counters never go back.
	formerFull, formerLimited uint64
	// The custom state machine (see machine.go): nil when the policy has
	// none. post is set when a report has more to do than the breaker and
	// the bulkhead: an adaptive limit, a throttle or a machine.
	mach       *guardMachine
	post       bool
	formerMach machineCounts // counted by machines reloads replaced
}

// guardSpec is what a new guard is built from besides its policy.
type guardSpec struct {
	usePolicy  string
	tags       []string
	classifier breaker.Classifier
	profile    bool
	labels     func(ctx context.Context) []string
	chaos      ChaosInjector
}

func newGuard(name string, p Policy, spec guardSpec, fallbacks map[string]fallback.Func) (*Guard, error) {
	g := &Guard{name: name, usePolicy: spec.usePolicy, extraTags: slices.Clone(spec.tags), classifier: spec.classifier, profile: spec.profile, labels: spec.labels, chaos: spec.chaos}
	g.onState = g.stateChanged
	if g.chaos != nil {
		g.special.Store(specialChaos)
	}
	cfg, err := g.breakerConfig(p)
	if err != nil {
		return nil, err
	}
	if g.br, err = breaker.New(cfg); err != nil {
		return nil, &PolicyError{Policy: p.Name, Err: err}
	}
	mode, err := p.Breaker.mode()
	if err != nil {
		return nil, &PolicyError{Policy: p.Name, Err: err}
	}
	g.setMode(p.Name, mode)
	g.errOpen = newRejectedError(name, breaker.ErrOpen, g.br.RetryAfter)
	pt, err := g.buildParts(p, nil, fallbacks)
	if err != nil {
		return nil, err
	}
	g.cur.Store(pt)
	return g, nil
}

// breakerConfig is the breaker configuration p gives the guard.
func (g *Guard) breakerConfig(p Policy) (breaker.Config, error) {
	cfg, err := p.Breaker.BreakerConfig()
	if err != nil {
		return cfg, &PolicyError{Policy: p.Name, Err: err}
	}
	if g.classifier != nil {
		cfg.Classifier = g.classifier
	}
	cfg.OnStateChange = g.onState
	return cfg, nil
}

// setMode puts the breaker in the manual state a policy's mode names.
func (g *Guard) setMode(policy string, mode breaker.State) {
	m := breaker.Manual{Actor: "policy", Reason: "policy " + quote(policy) + " sets mode " + mode.String()}
	switch mode {
	case breaker.Disabled:
		g.br.Disable(m)
	case breaker.MetricsOnly:
		g.br.MetricsOnly(m)
	case breaker.ForcedOpen:
		g.br.ForceOpen(m)
	}
}

// buildParts builds the parts p gives the guard. With old (a reload), a
// bulkhead or rate limiter that p keeps is reused rather than rebuilt, and
// the retrier and fallback chain are reused when their sections did not
// change; nothing shared is changed here (see commitParts).
func (g *Guard) buildParts(p Policy, old *parts, fallbacks map[string]fallback.Func) (*parts, error) {
	pt := &parts{g: g, policy: p, critical: p.Critical}
	if n := len(p.Tags) + len(g.extraTags); n > 0 {
		pt.tags = append(append(make([]string, 0, n), p.Tags...), g.extraTags...)
		slices.Sort(pt.tags)
		pt.tags = slices.Compact(pt.tags)
	}
	var err error
	if p.Bulkhead != nil {
		switch cfg := p.Bulkhead.BulkheadConfig(); {
		case old != nil && old.bh != nil:
			if err := cfg.Validate(); err != nil {
				return nil, &PolicyError{Policy: p.Name, Err: err}
			}
			pt.bh, pt.errFull = old.bh, old.errFull
		default:
			if pt.bh, err = bulkhead.New(cfg); err != nil {
				return nil, &PolicyError{Policy: p.Name, Err: err}
			}
			pt.errFull = newRejectedError(g.name, bulkhead.ErrFull, nil)
		}
	}
	if p.RateLimit != nil {
		cfg, err := p.RateLimit.RateLimitConfig()
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			return nil, &PolicyError{Policy: p.Name, Err: err}
		}
		algo := cfg.Algorithm
		if algo == ratelimit.AlgorithmDefault {
			algo = ratelimit.AlgorithmTokenBucket
		}
		if old != nil && old.rl != nil && algo == old.rl.Config().Algorithm {
			pt.rl, pt.errLimited = old.rl, old.errLimited
		} else {
			if pt.rl, err = ratelimit.New(cfg); err != nil {
				return nil, &PolicyError{Policy: p.Name, Err: err}
			}
			pt.errLimited = newRejectedError(g.name, ratelimit.ErrLimited, pt.rl.RetryAfter)
		}
	}
	if err := g.initAdaptive(pt, p, old); err != nil {
		return nil, err
	}
	if err := g.initMachine(pt, p, old); err != nil {
		return nil, &PolicyError{Policy: p.Name, Err: err}
	}
	pt.post = pt.adapt != nil || pt.thr != nil || pt.mach != nil
	if p.Retry != nil {
		if old != nil && old.retrier != nil && sameValue(old.policy.Retry, p.Retry) {
			pt.retrier = old.retrier
		} else {
			cfg, err := p.Retry.RetryConfig()
			if err == nil && p.Retry.Budget != nil {
				cfg.Budget, err = retry.NewBudget(p.Retry.Budget.BudgetConfig())
			}
			if err == nil {
				cfg.OnRetry = g.onRetry
				pt.retrier, err = retry.New(cfg)
			}
			if err != nil {
				return nil, &PolicyError{Policy: p.Name, Err: err}
			}
		}
	}
	if len(p.Fallbacks) > 0 {
		steps := make([]fallback.Step, 0, len(p.Fallbacks))
		for i, ref := range p.Fallbacks {
			fn, ok := fallbacks[ref.Name]
			if !ok {
				return nil, &PolicyError{Policy: p.Name, Err: fmt.Errorf("fallbacks[%d].name: no fallback registered as %q (see WithFallback)", i, ref.Name)}
			}
			kinds, err := ref.kinds()
			if err != nil {
				return nil, &PolicyError{Policy: p.Name, Err: err}
			}
			steps = append(steps, fallback.Step{Name: ref.Name, Fn: fn, On: kinds})
		}
		pt.fb = fallback.NewChain(steps...)
	}
	if err := g.buildHedgeCache(pt, p, old); err != nil {
		return nil, &PolicyError{Policy: p.Name, Err: err}
	}
	pt.timeout, pt.total = time.Duration(p.Timeout), time.Duration(p.TotalTimeout)
	pt.simple = pt.retrier == nil && pt.fb == nil && pt.timeout == 0 && pt.total == 0 && !g.profile && pt.cache == nil
	return pt, nil
}

func (g *Guard) onRetry(ctx context.Context, a retry.Attempt) {
	g.retries.Add(1)
	if h := g.hooks.Load(); h != nil && h.OnRetry != nil {
		h.OnRetry(ctx, RetryAttempt{Guard: g.name, Attempt: a})
	}
}

// Composite reports whether Do adds anything to Allow and Done for this
// guard: retries, timeouts, fallbacks or profiler labels. Adapters that
// call Allow and Done directly for speed use Do when it does.
func (g *Guard) Composite() bool { return !g.cur.Load().simple }

// RateLimiter returns the guard's rate limiter, or nil when its policy has
// none.
func (g *Guard) RateLimiter() ratelimit.Limiter { return g.cur.Load().rl }

// Pruned reports whether the registry has pruned the guard. An adapter
// that caches guards drops a pruned one and asks the registry again, which
// creates a fresh guard that snapshots and operators see.
func (g *Guard) Pruned() bool { return g.pruned.Load() }

// Name returns the guard's name.
func (g *Guard) Name() string { return g.name }

// Policy returns the resolved policy the guard runs: the one it was built
// from, or the one the latest Registry.Apply gave it.
func (g *Guard) Policy() Policy { return g.cur.Load().policy }

// Tags returns the guard's tags, sorted. The slice must not be modified.
func (g *Guard) Tags() []string { return g.cur.Load().tags }

// HasTag reports whether the guard carries tag.
func (g *Guard) HasTag(tag string) bool {
	_, ok := slices.BinarySearch(g.cur.Load().tags, tag)
	return ok
}

// Critical reports whether the guard's policy marks it critical (readiness
// fails while it is open).
func (g *Guard) Critical() bool { return g.cur.Load().critical }

// Breaker returns the guard's circuit breaker, for manual control and
// inspection.
func (g *Guard) Breaker() *breaker.Breaker { return g.br }

// Bulkhead returns the guard's bulkhead, or nil when its policy has none.
func (g *Guard) Bulkhead() *bulkhead.Bulkhead { return g.cur.Load().bh }

func (g *Guard) stateChanged(ctx context.Context, t breaker.Transition) {
	if h := g.hooks.Load(); h != nil && h.OnStateChange != nil {
		h.OnStateChange(ctx, StateChange{Guard: g.name, Transition: t})
	}
}

// Permit is a guard's admission of one call. Report the call's outcome with
// Done, Finish or Report, and defer Settle right after Allow so that a call
// that panics or returns without reporting is counted too:
//
//	p, err := g.Allow(ctx)
//	if err != nil {
//		return err
//	}
//	defer p.Settle() // does nothing once Done has reported
//	err = call(ctx)
//	p.Done(err)
//	return err
//
// The first report counts; later ones, and Settle, do nothing. A Permit is
// a small value, returned without allocation; only one copy of it may
// report. To hand a permit on to something that reports later (a stream
// wrapper, say), copy it there and set the original to the zero Permit, so
// that a deferred Settle on the original does nothing. The zero Permit
// reports nothing.
type Permit struct {
	pt    *parts // the parts that admitted the call (pt.g is the guard)
	bp    breaker.Permit
	start int64 // nanoseconds since clockEpoch, when a completion hook wants latency
	bulk  bool
	// reported is set by the first report; it fits in the padding after
	// bulk and hint, so the Permit does not grow.
	reported bool
	hint     bulkhead.Hint // the bulkhead stripe the slot came from; Done returns it there
	timed    bool          // the overhead of this call is measured (overhead.go)
}

// clockEpoch anchors the monotonic timestamps guards take for hooks.
var clockEpoch = time.Now()

// Allow asks the guard to admit a call: the throttle and the rate limit
// first, then the bulkhead (waiting in its queue if it has one), then the breaker. It returns a Permit, a
// *RejectedError (matching ErrRejected), or ctx's error if ctx ended while
// the call waited in the bulkhead's queue.
func (g *Guard) Allow(ctx context.Context) (Permit, error) {
	var p Permit
	err := g.allow(ctx, &p)
	return p, err
}

// allow is Allow writing the permit to *p, which must be the zero Permit:
// Do keeps its permit on its own stack instead of copying it through
// returns. When the call is refused, p.pt stays nil: *p reports nothing.
func (g *Guard) allow(ctx context.Context, p *Permit) error {
	return g.admit(ctx, p, g.cur.Load())
}

// admit is allow under the parts pt.
func (g *Guard) admit(ctx context.Context, p *Permit, pt *parts) error {
	return g.gates(ctx, p, pt, true)
}

// gates runs the call through the gates of pt. With special, a chaos
// fault (only with WithChaos, chaos.go) or an overhead sample (about one
// call in breaker.SampleEvery, overhead.go) comes first.
func (g *Guard) gates(ctx context.Context, p *Permit, pt *parts, special bool) error {
	if special && g.special.Load() != 0 {
		if done, err := g.admitSpecial(ctx, p, pt); done {
			return err
		}
	}
	if pt.thr != nil && !pt.admitThrottled() {
		return g.rejected(ctx, pt.errThrottled)
	}
	if pt.rl != nil && !pt.rl.Allow() {
		return g.rejected(ctx, pt.errLimited)
	}
	if pt.mach != nil {
		if e := pt.admitMachine(ctx, p); e != nil {
			return g.rejected(ctx, e)
		}
	}
	bulk := false
	if pt.bh != nil && !g.br.Rejecting() {
		p.hint = bulkhead.NewHint()
		if err := pt.bh.AcquireHint(ctx, p.hint); err != nil {
			if err == bulkhead.ErrFull || errors.Is(err, bulkhead.ErrFull) {
				return g.rejected(ctx, pt.errFull)
			}
			return err
		}
		bulk = true
	}
	if err := g.br.AllowInto(ctx, &p.bp); err != nil {
		if bulk {
			pt.bh.ReleaseHint(p.hint)
		}
		return g.rejected(ctx, g.errOpen)
	}
	g.arm(&p.bp)
	p.pt, p.bulk = pt, bulk
	if h := g.hooks.Load(); (h != nil && h.OnDone != nil) || (pt.adapt != nil && pt.adapt.sampled()) {
		p.start = int64(time.Since(clockEpoch)) + 1
	}
	return nil
}

func (g *Guard) rejected(ctx context.Context, e *RejectedError) error {
	if h := g.hooks.Load(); h != nil && h.OnReject != nil {
		h.OnReject(ctx, Rejection{Guard: g.name, Err: e})
	}
	return e
}

// Done reports the call's outcome; the breaker classifies err (by default
// nil is a success, context.Canceled is ignored, anything else a failure).
// It does nothing if the call was already reported.
func (p *Permit) Done(err error) {
	if p.pt == nil || p.reported {
		return
	}
	p.reported = true
	if p.timed { // about one call in breaker.SampleEvery (overhead.go)
		p.doneTimed(err)
		return
	}
	p.bp.Done(err)
	p.after(breaker.Outcome{Err: err}, 0, false)
}

// Finish reports the call's outcome with an adapter's label (an HTTP status
// or gRPC code) for the breaker's classifier. It does nothing if the call
// was already reported.
func (p *Permit) Finish(o breaker.Outcome) {
	if p.pt == nil || p.reported {
		return
	}
	p.reported = true
	if p.timed { // about one call in breaker.SampleEvery (overhead.go)
		p.finishTimed(o)
		return
	}
	p.bp.Finish(o)
	p.after(o, 0, false)
}

// Report reports a result the caller classified itself; err is passed to
// completion hooks only. It does nothing if the call was already reported.
func (p *Permit) Report(r breaker.Result, err error) {
	if p.pt == nil || p.reported {
		return
	}
	p.reported = true
	if p.timed { // about one call in breaker.SampleEvery (overhead.go)
		p.reportTimedResult(r, err)
		return
	}
	p.bp.Report(r)
	p.after(breaker.Outcome{Err: err}, r, true)
}

// Settle reports the call as a failure unless its outcome was reported
// already. It is meant to be deferred right after Allow admits the call, as
// defer tx.Rollback() follows a database/sql Begin: once Done, Finish or
// Report has reported the call, Settle does nothing, and on every other way
// out of the call it makes sure that the breaker counts the call once and
// the bulkhead gets its slot back.
//
// A call that ends without a report is counted as a failure, whatever the
// classifier says:
//
//   - if it is panicking, Settle reports ErrPanicked and panics again with
//     the value it recovered, so the panic goes on to the caller's
//     recovery, if any, as before;
//   - otherwise (it returned early, or its goroutine called
//     runtime.Goexit), Settle reports ErrAbandoned.
//
// To see the panic, Settle must be the deferred call itself (defer
// p.Settle()), since recover works only there. Called from another deferred
// function it cannot recover the panic, so it reports ErrAbandoned and the
// panic goes on untouched.
func (p *Permit) Settle() {
	if p.pt == nil || p.reported {
		return
	}
	if v := recover(); v != nil {
		p.Report(breaker.Failure, ErrPanicked)
		panic(v)
	}
	p.Report(breaker.Failure, ErrAbandoned)
}

// Reported reports whether the call's outcome has been reported, by Done,
// Finish, Report or Settle. An adapter whose own rules decide how a
// panicking call counts checks it in its deferred function instead of
// deferring Settle.
func (p *Permit) Reported() bool { return p.reported }

func (p *Permit) after(o breaker.Outcome, r breaker.Result, classified bool) {
	g := p.pt.g
	if p.bulk {
		p.pt.bh.ReleaseHint(p.hint)
	}
	if p.pt.post {
		g.postDone(p, o, r, classified, 0)
	}
	if h := g.hooks.Load(); h != nil && h.OnDone != nil {
		g.completed(p, h, o, r, classified)
	}
}

// completed calls the OnDone hook. The result is the breaker classifier's
// verdict on the outcome (with the latency the guard measured), or the
// adapter's own for Report.
func (g *Guard) completed(p *Permit, h *Hooks, o breaker.Outcome, r breaker.Result, classified bool) {
	if p.start != 0 {
		o.Latency = time.Since(clockEpoch) - time.Duration(p.start-1)
	}
	if !classified {
		r = g.br.Classify(o)
	}
	h.OnDone(p.bp.Context(), Completion{Guard: g.name, Result: r, Err: o.Err, Latency: o.Latency})
}

// Do runs fn through the guard; see the package function Do.
func (g *Guard) Do(ctx context.Context, fn func(context.Context) error) error {
	_, err := Do(ctx, g, func(ctx context.Context) (struct{}, error) { return struct{}{}, fn(ctx) })
	return err
}

// Do runs fn through the guard g and returns its result. When the guard
// rejects the call, fn does not run and Do returns the *RejectedError. When
// fn panics, the call is recorded as a failure (ErrPanicked) and the panic
// continues.
func Do[T any](ctx context.Context, g *Guard, fn func(context.Context) (T, error)) (T, error) {
	if pt := g.cur.Load(); pt.simple {
		var p Permit
		if err := g.admit(ctx, &p, pt); err != nil {
			var zero T
			return zero, err
		}
		return run(ctx, &p, fn)
	}
	return doFull(ctx, g, fn)
}

// doFull runs the whole chain: fallback → cache → total timeout → retry →
// gates → attempt timeout → fn. DoIdempotent's twin adds hedges. The call
// keeps the retry, timeouts, cache and fallbacks of the parts live when it
// starts, across a reload.
func doFull[T any](ctx context.Context, g *Guard, fn func(context.Context) (T, error)) (T, error) {
	pt := g.cur.Load()
	var v T
	var err error
	if pt.cache != nil {
		v, err = doCached(ctx, pt, func(ctx context.Context) (T, error) { return doAttempts(ctx, g, pt, fn) })
	} else {
		v, err = doAttempts(ctx, g, pt, fn)
	}
	return fallbackAfter(ctx, g, pt, v, err)
}

// fallbackAfter hands a failed call's error to the fallbacks of pt, if any.
func fallbackAfter[T any](ctx context.Context, g *Guard, pt *parts, v T, err error) (T, error) {
	if err == nil || pt.fb == nil {
		return v, err
	}
	fv, ferr := pt.fb.Run(ctx, err)
	if ferr != nil {
		g.fallbackFailed.Add(1)
		var zero T
		return zero, ferr
	}
	tv, terr := fallback.Typed[T](fv, nil)
	if terr != nil {
		g.fallbackFailed.Add(1)
		return tv, fmt.Errorf("core: guard %q: %w (after %w)", g.name, terr, err)
	}
	g.fallbackOK.Add(1)
	return tv, nil
}

// doAttempts runs the middle of the chain: total timeout → retry → gates →
// attempt timeout → fn.
func doAttempts[T any](ctx context.Context, g *Guard, pt *parts, fn func(context.Context) (T, error)) (T, error) {
	var v T
	err := g.attempts(ctx, pt, func(ctx context.Context) (err error) {
		v, err = attemptOnce(ctx, g, pt, fn)
		return err
	})
	return v, err
}

// attemptOnce runs one attempt: gates → attempt timeout → fn.
func attemptOnce[T any](ctx context.Context, g *Guard, pt *parts, fn func(context.Context) (T, error)) (T, error) {
	var p Permit
	if err := g.allow(ctx, &p); err != nil {
		var zero T
		return zero, err
	}
	if pt.timeout > 0 {
		actx, cancel := context.WithTimeout(ctx, pt.timeout)
		defer cancel()
		return run(actx, &p, fn)
	}
	return run(ctx, &p, fn)
}

// attempts runs attempt under the total timeout, the profiler labels and
// the retrier of pt.
func (g *Guard) attempts(ctx context.Context, pt *parts, attempt func(context.Context) error) error {
	if pt.total > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pt.total)
		defer cancel()
	}
	if g.profile {
		inner := attempt
		attempt = func(ctx context.Context) (err error) {
			kv := []string{"breakerbox_guard", g.name}
			if g.labels != nil {
				kv = append(kv, g.labels(ctx)...)
			}
			pprof.Do(ctx, pprof.Labels(kv...), func(ctx context.Context) { err = inner(ctx) })
			return err
		}
	}
	if pt.retrier == nil {
		return attempt(ctx)
	}
	err := pt.retrier.Do(ctx, attempt)
	if err != nil && errors.Is(err, retry.ErrBudgetExhausted) {
		g.budgetSpent.Add(1)
	}
	return err
}

// run runs fn under the admitted permit p and reports its outcome, a panic
// included.
func run[T any](ctx context.Context, p *Permit, fn func(context.Context) (T, error)) (T, error) {
	defer p.Settle()
	v, err := fn(ctx)
	p.Done(err)
	return v, err
}

// ForceOpen forces the guard's breaker open; see breaker.Breaker.ForceOpen.
func (g *Guard) ForceOpen(m breaker.Manual) breaker.Transition { return g.br.ForceOpen(m) }

// OpenFor opens the guard's breaker for d; see breaker.Breaker.OpenFor.
func (g *Guard) OpenFor(d time.Duration, m breaker.Manual) breaker.Transition {
	return g.br.OpenFor(d, m)
}

// Disable forces the guard's breaker closed; see breaker.Breaker.Disable.
func (g *Guard) Disable(m breaker.Manual) breaker.Transition { return g.br.Disable(m) }

// MetricsOnly puts the guard's breaker in metrics-only mode.
func (g *Guard) MetricsOnly(m breaker.Manual) breaker.Transition { return g.br.MetricsOnly(m) }

// Reset clears the guard's breaker window; see breaker.Breaker.Reset.
func (g *Guard) Reset(m breaker.Manual) breaker.Transition { return g.br.Reset(m) }

// Release returns the guard's breaker to automatic operation.
func (g *Guard) Release(m breaker.Manual) breaker.Transition { return g.br.Release(m) }

// GuardSnapshot is a copy of one guard's state and cumulative counters.
type GuardSnapshot struct {
	Name     string
	Policy   string
	Tags     []string
	Critical bool
	Breaker  breaker.Snapshot
	// Bulkhead is nil when the guard has no bulkhead.
	Bulkhead *bulkhead.Snapshot
	// RateLimit is nil when the guard has no rate limit.
	RateLimit *ratelimit.Snapshot
	// Rejected counts rejections by reason.
	Rejected Rejections
	// Retries counts retry attempts made by Do (first attempts excluded).
	Retries uint64
	// RetryBudgetExhausted counts Do calls that stopped retrying because
	// the retry budget was spent.
	RetryBudgetExhausted uint64
	// FallbackServed and FallbackFailed count Do calls whose failure a
	// fallback answered, or whose fallbacks all failed too.
	FallbackServed, FallbackFailed uint64
	// Hedge is nil when the guard does not hedge (see HedgePolicy).
	Hedge *hedge.Stats
	// Cache is nil when the guard has no cached fallback (see
	// CachePolicy).
	Cache *cache.Stats
	// Adaptive is the bulkhead's adaptive limit; nil when it has none.
	// Bulkhead.MaxConcurrent follows Adaptive.Limit.
	Adaptive *AdaptiveSnapshot
	// Throttle is the client-side throttle's state; nil without one.
	Throttle *throttle.Snapshot
	// Cost is what the guard's calls cost, computed from the counters
	// above; nil when its policy has no cost (see CostPolicy).
	Cost *CostSnapshot
	// Overhead is what the guard measured of its own cost on a sample of
	// calls; nil before the first sample.
	Overhead *OverheadSnapshot
	// Machine is the guard's custom state; nil when its policy has no
	// machine section.
	Machine *MachineStatus
}

// Rejections counts a guard's rejections by reason.
type Rejections struct {
	Open     uint64 // breaker open, forced open or ramping
	HalfOpen uint64 // half-open with every probe slot taken
	Full     uint64 // bulkhead full or its queue wait timed out
	Limited  uint64 // rate limited
	// Throttled counts calls the client-side throttle rejected.
	Throttled uint64
	// State counts calls the guard's custom state rejected (see
	// MachinePolicy).
	State uint64
}

// Total returns the sum of all rejections.
func (r Rejections) Total() uint64 {
	return r.Open + r.HalfOpen + r.Full + r.Limited + r.Throttled + r.State
}

// Snapshot returns a copy of the guard's state and counters.
func (g *Guard) Snapshot() GuardSnapshot {
	pt := g.cur.Load()
	s := GuardSnapshot{Name: g.name, Policy: pt.policy.Name, Tags: slices.Clone(pt.tags), Critical: pt.critical, Breaker: g.br.Snapshot()}
	s.Rejected.Open, s.Rejected.HalfOpen = s.Breaker.Rejected, s.Breaker.RejectedProbe
	s.Rejected.Full, s.Rejected.Limited = pt.formerFull, pt.formerLimited
	if pt.bh != nil {
		bs := pt.bh.Snapshot()
		s.Bulkhead = &bs
		s.Rejected.Full += bs.Rejected + bs.TimedOut
	}
	if pt.rl != nil {
		rs := pt.rl.Snapshot()
		s.RateLimit = &rs
		s.Rejected.Limited += rs.Rejected
	}
	s.Retries = g.retries.Load()
	s.RetryBudgetExhausted = g.budgetSpent.Load()
	s.FallbackServed, s.FallbackFailed = g.fallbackOK.Load(), g.fallbackFailed.Load()
	pt.snapshotHedgeCache(&s)
	s.Adaptive, s.Throttle = pt.adaptiveSnapshot(), pt.throttleSnapshot()
	if s.Throttle != nil {
		s.Rejected.Throttled = s.Throttle.Rejected
	}
	s.Cost = costOf(pt.policy.Cost, &s)
	s.Overhead = g.ov.snapshot()
	s.Machine = pt.machineSnapshot()
	s.Rejected.State = pt.formerMach.rejected
	if s.Machine != nil {
		s.Rejected.State = s.Machine.Rejected
	}
	return s
}

// activity is a number that grows with every call the guard sees.
func (s *GuardSnapshot) activity() uint64 {
	return s.Breaker.Admitted + s.Rejected.Total()
}

// String returns the guard's name and state, for logs.
func (g *Guard) String() string { return fmt.Sprintf("guard %q (%s)", g.name, g.br.State()) }
