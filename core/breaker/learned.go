package breaker

import (
	"fmt"
	"math"
	"sync"
	"time"
)

// This file is the learned rule (Config.Learned): a trip rule that learns a
// dependency's normal failure rate and latency and trips on a departure
// from them. A breaker without it pays one nil check per finished call.

// LearnedConfig turns on the learned trip rule, for dependencies that always
// fail a few percent, where a fixed FailureRate is either too high to catch
// a real incident or low enough to trip on a normal day.
//
// Time is cut into periods of Interval. A period with at least MinCalls
// calls that did not trip the breaker is folded into a baseline: an
// exponentially weighted mean and variance, over about Periods periods, of
// the period's failure rate and mean latency. Once Warmup periods are
// learned, the current period trips the breaker as soon as it has MinCalls
// calls and
//
//	failure rate > baseline + max(FailureFloor, Deviations·σ)
//
// where σ combines the learned deviation with the sampling noise of a
// period of that many calls (√(p(1−p)/n), with p the baseline rate plus the
// floor, so that a flawless baseline still expects some noise), so that an
// early look at a few calls is judged as leniently as it deserves; or,
// when LatencyFloor is set, its mean latency exceeds the learned one by more
// than max(LatencyFloor, Deviations·σ). The period that trips is not
// learned, and the count starts afresh after every transition.
//
// The rule adds to the other rules (FailureRate, ConsecutiveFailures, the
// slow-call rate); set DisableFailureRate to rely on it alone. It works with
// either window kind. Zero fields take their defaults.
type LearnedConfig struct {
	// Interval is the length of a period. Default 10s.
	Interval time.Duration
	// Periods is the span of the baseline's moving average, in periods (its
	// weight is 2/(Periods+1)). Default 30.
	Periods int
	// Warmup is the number of periods learned before the rule may trip.
	// Default 5.
	Warmup int
	// MinCalls is the number of calls a period needs to be learned from or
	// to trip the breaker. Default 20.
	MinCalls int
	// Deviations is how many standard deviations above the baseline a
	// period's figure must be to trip the breaker. Default 3.
	Deviations float64
	// FailureFloor is the least departure, in percentage points, that trips
	// the breaker, however steady the baseline. Default 5.
	FailureFloor float64
	// LatencyFloor turns on the latency half of the rule: the least
	// departure of a period's mean latency from the learned one that trips
	// the breaker. Setting it makes the breaker time every call. Default
	// off.
	LatencyFloor time.Duration
}

// Defaults of LearnedConfig.
const (
	defaultLearnedInterval   = 10 * time.Second
	defaultLearnedPeriods    = 30
	defaultLearnedWarmup     = 5
	defaultLearnedMinCalls   = 20
	defaultLearnedDeviations = 3
	defaultLearnedFloor      = 5
)

func (c LearnedConfig) validate() error {
	switch {
	case c.Interval < 0 || c.Interval > MaxDuration:
		return fieldErr("learned.interval", c.Interval, "must be between 0 (default 10s) and about 146 years")
	case c.Periods < 0:
		return fieldErr("learned.periods", c.Periods, "must not be negative")
	case c.Warmup < 0:
		return fieldErr("learned.warmup", c.Warmup, "must not be negative")
	case c.MinCalls < 0:
		return fieldErr("learned.minCalls", c.MinCalls, "must not be negative")
	case c.Deviations < 0 || math.IsNaN(c.Deviations) || math.IsInf(c.Deviations, 0):
		return fieldErr("learned.deviations", c.Deviations, "must not be negative")
	case c.FailureFloor < 0 || c.FailureFloor > 100 || math.IsNaN(c.FailureFloor):
		return fieldErr("learned.failureFloor", c.FailureFloor, "must be in [0, 100] percentage points")
	case c.LatencyFloor < 0 || c.LatencyFloor > MaxDuration:
		return fieldErr("learned.latencyFloor", c.LatencyFloor, "must not be negative")
	}
	return nil
}

func (c LearnedConfig) withDefaults() LearnedConfig {
	if c.Interval == 0 {
		c.Interval = defaultLearnedInterval
	}
	if c.Periods == 0 {
		c.Periods = defaultLearnedPeriods
	}
	if c.Warmup == 0 {
		c.Warmup = defaultLearnedWarmup
	}
	if c.MinCalls == 0 {
		c.MinCalls = defaultLearnedMinCalls
	}
	if c.Deviations == 0 {
		c.Deviations = defaultLearnedDeviations
	}
	if c.FailureFloor == 0 {
		c.FailureFloor = defaultLearnedFloor
	}
	return c
}

// learnedRule is the state of the learned rule.
type learnedRule struct {
	cfg   LearnedConfig
	alpha float64

	mu sync.Mutex
	// The current period: the breaker word it counts under (a transition
	// starts a new one), its start and its counts.
	started      bool
	w            uint64
	start        int64 // nanoseconds since the breaker's epoch
	calls, fails int
	latSum       float64 // nanoseconds
	// The baseline.
	periods          int
	rateMean, rateSq float64 // percent, percent²: mean and variance
	latMean, latSq   float64 // nanoseconds, ns²
}

func newLearnedRule(c LearnedConfig) *learnedRule {
	c = c.withDefaults()
	return &learnedRule{cfg: c, alpha: 2 / float64(c.Periods+1)}
}

// fold adds one observation x to an exponentially weighted mean and
// variance.
func fold(mean, sq *float64, x float64, alpha float64, first bool) {
	if first {
		*mean, *sq = x, 0
		return
	}
	d := x - *mean
	*mean += alpha * d
	*sq = (1 - alpha) * (*sq + alpha*d*d)
}

// observe counts one finished call of a closed breaker whose word is w, at
// now, and reports whether the period departs from the baseline.
func (l *learnedRule) observe(now int64, w uint64, failed bool, latency time.Duration) (reason string, trip bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !l.started || w != l.w:
		l.reset(now, w)
	case now-l.start >= int64(l.cfg.Interval):
		if l.calls >= l.cfg.MinCalls {
			first := l.periods == 0
			fold(&l.rateMean, &l.rateSq, float64(l.fails)*100/float64(l.calls), l.alpha, first)
			fold(&l.latMean, &l.latSq, l.latSum/float64(l.calls), l.alpha, first)
			l.periods++
		}
		l.reset(now, w)
	}
	l.calls++
	if failed {
		l.fails++
	}
	l.latSum += float64(max(latency, 0))
	if l.periods < l.cfg.Warmup || l.calls < l.cfg.MinCalls {
		return "", false
	}
	n := float64(l.calls)
	rate := float64(l.fails) * 100 / n
	p := min(l.rateMean+l.cfg.FailureFloor, 100) / 100
	sd := math.Sqrt(l.rateSq + p*(1-p)/n*1e4)
	if limit := l.rateMean + max(l.cfg.FailureFloor, l.cfg.Deviations*sd); rate > limit {
		l.reset(now, w)
		return fmt.Sprintf("failure rate %.4g%% over %d calls departs from the learned %.4g%% (limit %.4g%%)", rate, int(n), l.rateMean, limit), true
	}
	if l.cfg.LatencyFloor > 0 {
		mean := l.latSum / n
		limit := l.latMean + max(float64(l.cfg.LatencyFloor), l.cfg.Deviations*math.Sqrt(l.latSq))
		if mean > limit {
			l.reset(now, w)
			return fmt.Sprintf("mean latency %s over %d calls departs from the learned %s (limit %s)",
				time.Duration(mean).Round(time.Microsecond), int(n), time.Duration(l.latMean).Round(time.Microsecond), time.Duration(limit).Round(time.Microsecond)), true
		}
	}
	return "", false
}

func (l *learnedRule) reset(now int64, w uint64) {
	l.started, l.w, l.start = true, w, now
	l.calls, l.fails, l.latSum = 0, 0, 0
}

// LearnedBaseline is what the learned rule has learned (see LearnedConfig).
type LearnedBaseline struct {
	// Periods counts the periods learned.
	Periods int
	// FailureRate and FailureRateDev are the baseline failure rate and its
	// standard deviation, in percent.
	FailureRate, FailureRateDev float64
	// Latency and LatencyDev are the baseline mean latency and its standard
	// deviation (zero unless the breaker times calls).
	Latency, LatencyDev time.Duration
}

// LearnedBaseline returns the learned rule's baseline, and false when the
// breaker has no learned rule (Config.Learned is nil).
func (b *Breaker) LearnedBaseline() (LearnedBaseline, bool) {
	l := b.learned
	if l == nil {
		return LearnedBaseline{}, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return LearnedBaseline{
		Periods:     l.periods,
		FailureRate: l.rateMean, FailureRateDev: math.Sqrt(l.rateSq),
		Latency: time.Duration(l.latMean), LatencyDev: time.Duration(math.Sqrt(l.latSq)),
	}, true
}
