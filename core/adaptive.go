package core

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core/adaptive"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/throttle"
)

// This file holds the adaptive parts of a policy and of a guard (issue 21):
// the adaptive bulkhead limit, client-side throttling and the learned
// breaker rule. Each costs nothing to a guard whose policy leaves it out.

// AdaptivePolicy makes a bulkhead's limit adaptive: instead of a fixed
// maxConcurrent, the limit follows the dependency's capacity as measured by
// an algorithm of package adaptive, within [minLimit, maxLimit]. Zero means
// not set (see Policy).
//
// The limit starts at initialLimit, else at the bulkhead's maxConcurrent
// when that is set, else at 20 (clamped into the bounds). So maxConcurrent
// is optional in an adaptive bulkhead; when set it is only the starting
// point. maxQueue and maxWait keep their meaning.
//
// The guard samples one call in sampleEvery that the bulkhead admits and,
// when it ends, adds its latency, the calls in flight and whether it failed
// (the breaker's classifier says) to a window. Every windowSamples samples, or on the first one after
// windowInterval, the algorithm computes a new limit and the guard applies
// it (bulkhead.SetLimit). The admission itself stays a single atomic
// operation, and an unsampled success reads no clock.
type AdaptivePolicy struct {
	// Algorithm is "gradient2" (default), "vegas" or "aimd"; see package
	// adaptive.
	Algorithm string `json:"algorithm,omitempty"`
	// MinLimit is the lowest limit. Default 1.
	MinLimit int `json:"minLimit,omitempty"`
	// MaxLimit is the highest limit. Default 1000.
	MaxLimit int `json:"maxLimit,omitempty"`
	// InitialLimit is the limit to start from. Default the bulkhead's
	// maxConcurrent, else 20.
	InitialLimit int `json:"initialLimit,omitempty"`
	// WindowSamples is how many calls make one sample for the algorithm.
	// Default 10.
	WindowSamples int `json:"windowSamples,omitempty"`
	// WindowInterval closes a window of fewer calls after this long.
	// Default 1s.
	WindowInterval Duration `json:"windowInterval,omitempty"`
	// Smoothing weighs a new limit against the current one, in (0, 1].
	// Default 0.2 for gradient2, 1 for vegas; not for aimd.
	Smoothing float64 `json:"smoothing,omitempty"`
	// Tolerance (gradient2) is how far the short-term latency may rise
	// above the long-term one before the limit shrinks, at least 1.
	// Default 1.5.
	Tolerance float64 `json:"tolerance,omitempty"`
	// LongWindow (gradient2) is the span of the long-term latency average,
	// in samples. Default 600.
	LongWindow int `json:"longWindow,omitempty"`
	// Alpha and Beta (vegas) are the estimated queue, in units of
	// max(1, log10(limit)) calls, below which the limit grows and above
	// which it shrinks. Default 3 and 6.
	Alpha float64 `json:"alpha,omitempty"`
	Beta  float64 `json:"beta,omitempty"`
	// BaselineTTL (vegas) is how long the no-load latency is kept before
	// it is learned again. Default forever.
	BaselineTTL Duration `json:"baselineTTL,omitempty"`
	// Increase (aimd) is added to the limit per successful sample. Default 1.
	Increase float64 `json:"increase,omitempty"`
	// Backoff (aimd) multiplies the limit after a failure, in (0, 1).
	// Default 0.9.
	Backoff float64 `json:"backoff,omitempty"`
	// Timeout (aimd) makes a sample at least this slow count as a failure.
	// Default none.
	Timeout Duration `json:"timeout,omitempty"`
	// Cooldown (aimd) is how long after a decrease further failures are
	// ignored. Default none.
	Cooldown Duration `json:"cooldown,omitempty"`
	// SampleEvery samples one admitted call in SampleEvery, picked at
	// random. Timing a call reads the clock twice, which costs more than the
	// rest of the closed path; 1 samples every call. Default 4.
	SampleEvery int `json:"sampleEvery,omitempty"`
}

// DefaultSampleEvery is the default AdaptivePolicy.SampleEvery.
const DefaultSampleEvery = 4

// UnmarshalJSON decodes the section, naming the field of a value that does
// not decode (see Policy.UnmarshalJSON).
func (p *AdaptivePolicy) UnmarshalJSON(data []byte) error {
	type plain AdaptivePolicy
	return decodeSection(data, (*plain)(p))
}

// algorithmName returns the policy's algorithm, the default filled in.
func (p *AdaptivePolicy) algorithmName() string {
	if p.Algorithm == "" {
		return adaptive.NameGradient2
	}
	return p.Algorithm
}

// Algorithm builds the policy's algorithm; maxConcurrent is the bulkhead's,
// the initial limit when InitialLimit is not set.
func (p *AdaptivePolicy) algorithm(maxConcurrent int) (adaptive.Algorithm, error) {
	b := adaptive.Bounds{Min: p.MinLimit, Max: p.MaxLimit, Initial: p.InitialLimit}
	if b.Initial == 0 && maxConcurrent > 0 {
		// maxConcurrent is a starting point: clamp it into the bounds
		// rather than refuse it.
		lo, hi := max(b.Min, adaptive.DefaultMin), b.Max
		if hi == 0 {
			hi = max(adaptive.DefaultMax, lo)
		}
		b.Initial = min(max(maxConcurrent, lo), hi)
	}
	only := func(field, algo string, set bool) error {
		if set {
			return fmt.Errorf("adaptive: %s: is for algorithm %q only, not %q", field, algo, p.algorithmName())
		}
		return nil
	}
	var errs []error
	switch name := p.algorithmName(); name {
	case adaptive.NameGradient2:
		errs = append(errs, only("alpha", "vegas", p.Alpha != 0), only("beta", "vegas", p.Beta != 0), only("baselineTTL", "vegas", p.BaselineTTL != 0))
		errs = append(errs, p.aimdOnly(only)...)
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		return adaptive.NewGradient2(adaptive.Gradient2Config{Bounds: b, Smoothing: p.Smoothing, Tolerance: p.Tolerance, LongWindow: p.LongWindow})
	case adaptive.NameVegas:
		errs = append(errs, only("tolerance", "gradient2", p.Tolerance != 0), only("longWindow", "gradient2", p.LongWindow != 0))
		errs = append(errs, p.aimdOnly(only)...)
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		return adaptive.NewVegas(adaptive.VegasConfig{Bounds: b, Alpha: p.Alpha, Beta: p.Beta, Smoothing: p.Smoothing, BaselineTTL: time.Duration(p.BaselineTTL)})
	case adaptive.NameAIMD:
		errs = append(errs, only("tolerance", "gradient2", p.Tolerance != 0), only("longWindow", "gradient2", p.LongWindow != 0),
			only("alpha", "vegas", p.Alpha != 0), only("beta", "vegas", p.Beta != 0), only("baselineTTL", "vegas", p.BaselineTTL != 0),
			only("smoothing", "gradient2 or vegas", p.Smoothing != 0))
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		return adaptive.NewAIMD(adaptive.AIMDConfig{Bounds: b, Increase: p.Increase, Backoff: p.Backoff, Timeout: time.Duration(p.Timeout), Cooldown: time.Duration(p.Cooldown)})
	default:
		return nil, fmt.Errorf("adaptive: algorithm: %q is not %q, %q or %q", name, adaptive.NameGradient2, adaptive.NameVegas, adaptive.NameAIMD)
	}
}

func (p *AdaptivePolicy) aimdOnly(only func(field, algo string, set bool) error) []error {
	return []error{only("increase", "aimd", p.Increase != 0), only("backoff", "aimd", p.Backoff != 0),
		only("timeout", "aimd", p.Timeout != 0), only("cooldown", "aimd", p.Cooldown != 0)}
}

func (p *AdaptivePolicy) window() adaptive.Window {
	return adaptive.Window{Samples: p.WindowSamples, Interval: time.Duration(p.WindowInterval)}
}

// initialLimit returns the limit an adaptive bulkhead starts at.
func (p *AdaptivePolicy) initialLimit(maxConcurrent int) int {
	alg, err := p.algorithm(maxConcurrent)
	if err != nil {
		return max(maxConcurrent, 1)
	}
	return alg.Limit()
}

// validate reports the first problem with the bulkhead section, adaptive
// part included, each error naming its field by its path in the policy.
func (p *BulkheadPolicy) validate() error {
	cfg := p.BulkheadConfig()
	if p.Adaptive != nil {
		if _, err := p.Adaptive.algorithm(p.MaxConcurrent); err != nil {
			return sectionErr("bulkhead.adaptive.", "adaptive: ", err)
		}
		if err := p.Adaptive.window().Validate(); err != nil {
			return sectionErr("bulkhead.adaptive.", "adaptive: ", err)
		}
		if p.Adaptive.SampleEvery < 0 || p.Adaptive.SampleEvery > 1<<16 {
			return fmt.Errorf("bulkhead.adaptive.sampleEvery: %d must be between 0 (default %d) and 65536", p.Adaptive.SampleEvery, DefaultSampleEvery)
		}
		if p.MaxConcurrent < 0 {
			return fmt.Errorf("bulkhead: maxConcurrent: %d must not be negative (it is optional with adaptive)", p.MaxConcurrent)
		}
	}
	return cfg.Validate()
}

// sectionErr rewrites the first error joined in err from "<prefix>field:
// problem" to "<path>field: problem", so that the problem names the field
// by its path in the policy.
func sectionErr(path, prefix string, err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			err = errs[0]
		}
	}
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, prefix); ok {
		return errors.New(path + rest)
	}
	return fmt.Errorf("%s %w", strings.TrimSuffix(path, "."), err)
}

// ThrottlePolicy turns on client-side adaptive throttling (package
// throttle): the guard rejects a call locally, with a *RejectedError whose
// Reason is throttle.ErrThrottled, with probability
// max(0, (requests − k·accepts)/(requests + 1)) over the window, where
// requests are the calls it let through (and those it throttled) and
// accepts the ones whose outcome the breaker's classifier counted a
// success. So a client backs off a dependency that refuses it before its
// breaker opens. Zero means not set (see Policy).
type ThrottlePolicy struct {
	// K is how many requests per accept the client keeps sending, at least
	// 1. Default 2.
	K float64 `json:"k,omitempty"`
	// Window is how long a request or an accept counts. Default 2m.
	Window Duration `json:"window,omitempty"`
}

// UnmarshalJSON decodes the section, naming the field of a value that does
// not decode (see Policy.UnmarshalJSON).
func (p *ThrottlePolicy) UnmarshalJSON(data []byte) error {
	type plain ThrottlePolicy
	return decodeSection(data, (*plain)(p))
}

func (p *ThrottlePolicy) config() throttle.Config {
	return throttle.Config{K: p.K, Window: time.Duration(p.Window)}
}

func (p *ThrottlePolicy) validate() error {
	if err := p.config().Validate(); err != nil {
		return sectionErr("throttle.", "throttle: ", err)
	}
	return nil
}

// LearnedPolicy is the plain-data form of breaker.LearnedConfig: a breaker
// rule that learns the dependency's normal failure rate (and latency) and
// trips on a departure from it. Zero means not set (see Policy).
type LearnedPolicy struct {
	// Interval is the length of a period. Default 10s.
	Interval Duration `json:"interval,omitempty"`
	// Periods is the span of the baseline's moving average, in periods.
	// Default 30.
	Periods int `json:"periods,omitempty"`
	// Warmup is the periods learned before the rule may trip. Default 5.
	Warmup int `json:"warmup,omitempty"`
	// MinCalls is the calls a period needs. Default 20.
	MinCalls int `json:"minCalls,omitempty"`
	// Deviations is how many standard deviations above the baseline trip
	// the breaker. Default 3.
	Deviations float64 `json:"deviations,omitempty"`
	// FailureFloor is the least departure that trips it, in percentage
	// points. Default 5.
	FailureFloor float64 `json:"failureFloor,omitempty"`
	// LatencyFloor turns on the latency rule, with this least departure.
	// Default off.
	LatencyFloor Duration `json:"latencyFloor,omitempty"`
}

// UnmarshalJSON decodes the section, naming the field of a value that does
// not decode (see Policy.UnmarshalJSON).
func (p *LearnedPolicy) UnmarshalJSON(data []byte) error {
	type plain LearnedPolicy
	return decodeSection(data, (*plain)(p))
}

// config converts the section; nil for nil.
func (p *LearnedPolicy) config() *breaker.LearnedConfig {
	if p == nil {
		return nil
	}
	return &breaker.LearnedConfig{
		Interval: time.Duration(p.Interval), Periods: p.Periods, Warmup: p.Warmup, MinCalls: p.MinCalls,
		Deviations: p.Deviations, FailureFloor: p.FailureFloor, LatencyFloor: time.Duration(p.LatencyFloor),
	}
}

// AdaptiveSnapshot describes a guard's adaptive bulkhead limit.
type AdaptiveSnapshot struct {
	// Algorithm is "gradient2", "vegas" or "aimd".
	Algorithm string
	// Limit is the current limit; MinLimit and MaxLimit its bounds.
	Limit, MinLimit, MaxLimit int
}

// adaptiveBulkhead is a guard's adaptive limit: the algorithm behind a
// lock-free window, and what the snapshot reports.
type adaptiveBulkhead struct {
	lim      *adaptive.Limiter
	every    uint32 // SampleEvery
	name     string
	min, max int
}

// initAdaptive gives pt the adaptive limit and the throttle its policy p
// asks for, pt's bulkhead (if any) being built already. A reload (old not
// nil) keeps the old limit and throttle when their sections, and the
// bulkhead, did not change, so that what they learned carries on; the
// reload's commit sets a kept bulkhead's limit to the adaptive one.
func (g *Guard) initAdaptive(pt *parts, p Policy, old *parts) error {
	if p.Bulkhead != nil && p.Bulkhead.Adaptive != nil && pt.bh != nil {
		a := p.Bulkhead.Adaptive
		if old != nil && old.adapt != nil && old.bh == pt.bh && old.policy.Bulkhead != nil && sameValue(old.policy.Bulkhead.Adaptive, a) {
			pt.adapt = old.adapt
		} else {
			alg, err := a.algorithm(p.Bulkhead.MaxConcurrent)
			if err != nil {
				return &PolicyError{Policy: p.Name, Err: sectionErr("bulkhead.adaptive.", "adaptive: ", err)}
			}
			lim, err := adaptive.NewLimiter(alg, a.window())
			if err != nil {
				return &PolicyError{Policy: p.Name, Err: sectionErr("bulkhead.adaptive.", "adaptive: ", err)}
			}
			lo, hi := max(a.MinLimit, adaptive.DefaultMin), a.MaxLimit
			if hi == 0 {
				hi = max(adaptive.DefaultMax, lo)
			}
			every := a.SampleEvery
			if every == 0 {
				every = DefaultSampleEvery
			}
			pt.adapt = &adaptiveBulkhead{lim: lim, every: uint32(every), name: a.algorithmName(), min: lo, max: hi}
		}
		// A bulkhead of this guard's own (new) takes the limit now; one a
		// reload keeps takes it when the reload commits.
		if (old == nil || old.bh != pt.bh) && pt.bh.Snapshot().MaxConcurrent != pt.adapt.lim.Limit() {
			if err := pt.bh.SetLimit(pt.adapt.lim.Limit()); err != nil {
				return &PolicyError{Policy: p.Name, Err: err}
			}
		}
	}
	if p.Throttle != nil {
		if old != nil && old.thr != nil && sameValue(old.policy.Throttle, p.Throttle) {
			pt.thr, pt.errThrottled = old.thr, old.errThrottled
			return nil
		}
		th, err := throttle.New(p.Throttle.config())
		if err != nil {
			return &PolicyError{Policy: p.Name, Err: sectionErr("throttle.", "throttle: ", err)}
		}
		pt.thr = th
		pt.errThrottled = newRejectedError(g.name, throttle.ErrThrottled, nil)
	}
	return nil
}

// sinceEpoch is the guard clock: monotonic nanoseconds since clockEpoch,
// plus one so that 0 means "not taken".
func sinceEpoch() int64 { return int64(time.Since(clockEpoch)) + 1 }

// admitThrottled reports whether the throttle lets a call through.
func (pt *parts) admitThrottled() bool {
	return pt.thr.Allow(clockEpoch.Add(time.Duration(sinceEpoch())))
}

// adaptiveDone feeds a finished call to the adaptive limit and the
// throttle: r is the classifier's verdict when classified, else computed
// from o. end is when the call ended on the guard clock (see sinceEpoch),
// or 0 to read the clock (explicit-time callers pass their own).
func (g *Guard) adaptiveDone(p *Permit, o breaker.Outcome, r breaker.Result, classified bool, end int64) {
	pt := p.pt
	a := pt.adapt
	sampled := a != nil && p.bulk && p.start != 0
	if pt.thr == nil && !sampled {
		return // an unsampled call: no classifier, no clock
	}
	if !classified {
		r = g.br.Classify(o)
	}
	if r == breaker.Ignore {
		return
	}
	if end == 0 {
		end = sinceEpoch()
	}
	now := clockEpoch.Add(time.Duration(end))
	if pt.thr != nil {
		pt.thr.Record(now, r == breaker.Success)
	}
	if sampled {
		rtt := time.Duration(end - p.start)
		inflight := pt.bh.InUse() + 1 // the slot was just given back
		if limit, changed := a.lim.Record(now, rtt, inflight, r == breaker.Failure); changed {
			// Within [1, 2^31-1]: the bounds say so. Two windows closed
			// back to back may apply their limits out of order: the later
			// limit wins once the last one is applied.
			_ = pt.bh.SetLimit(limit)
			if last := a.lim.Limit(); last != limit {
				_ = pt.bh.SetLimit(last)
			}
		}
	}
}

// sampled reports whether the adaptive limit times the call being admitted:
// one call in SampleEvery, picked at random, so that the closed path reads
// the clock twice only for those.
func (a *adaptiveBulkhead) sampled() bool {
	return a.every <= 1 || rand.Uint32()%a.every == 0
}

// adaptiveSnapshot returns the adaptive limit's state, nil without one.
func (pt *parts) adaptiveSnapshot() *AdaptiveSnapshot {
	if pt.adapt == nil {
		return nil
	}
	return &AdaptiveSnapshot{Algorithm: pt.adapt.name, Limit: pt.adapt.lim.Limit(), MinLimit: pt.adapt.min, MaxLimit: pt.adapt.max}
}

// throttleSnapshot returns the throttle's state, nil without one.
func (pt *parts) throttleSnapshot() *throttle.Snapshot {
	if pt.thr == nil {
		return nil
	}
	s := pt.thr.Snapshot(time.Now())
	return &s
}
