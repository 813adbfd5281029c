package adaptive

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Gradient2Config configures a Gradient2 algorithm. Zero fields take their
// defaults.
type Gradient2Config struct {
	Bounds
	// Smoothing is the weight of a new limit against the current one, in
	// (0, 1]; default 0.2. 1 takes each computed limit as it is.
	Smoothing float64
	// Tolerance is how much the short-term RTT may exceed the long-term one
	// before the limit shrinks, at least 1; default 1.5.
	Tolerance float64
	// ShortWindow is the number of samples the short-term RTT average
	// spans; default 1 (the latest sample, or the latest window of a
	// Limiter).
	ShortWindow int
	// LongWindow is the number of samples the long-term RTT average spans,
	// at least ShortWindow; default 600.
	LongWindow int
	// QueueSize returns the headroom added to the limit at each update, so
	// that it can grow while the latency is normal; default: the square root
	// of the limit, at least 1.
	QueueSize func(limit int) int
	// ProbeInterval is how long the baseline may be held against a latency
	// above the tolerance before it is measured again at the Min limit (see
	// Gradient2); default 1 minute.
	ProbeInterval time.Duration
}

// Default Gradient2 settings.
const (
	DefaultSmoothing   = 0.2
	DefaultTolerance   = 1.5
	DefaultShortWindow = 1
	DefaultLongWindow  = 600

	DefaultProbeInterval = time.Minute
)

// Gradient2 baseline probes: a probe starts after floorSamples samples in a
// row at the floor, and takes the lowest of probeSamples samples.
const (
	floorSamples = 5
	probeSamples = 3
)

// Validate reports every invalid field of c, joined with errors.Join.
func (c Gradient2Config) Validate() error {
	errs := []error{c.Bounds.Validate()}
	if c.Smoothing < 0 || c.Smoothing > 1 || math.IsNaN(c.Smoothing) {
		errs = append(errs, fmt.Errorf("adaptive: smoothing: %v must be in (0, 1] (0: default %v)", c.Smoothing, DefaultSmoothing))
	}
	if (c.Tolerance != 0 && c.Tolerance < 1) || math.IsNaN(c.Tolerance) || math.IsInf(c.Tolerance, 0) {
		errs = append(errs, fmt.Errorf("adaptive: tolerance: %v must be at least 1 (0: default %v)", c.Tolerance, DefaultTolerance))
	}
	if c.ShortWindow < 0 {
		errs = append(errs, fmt.Errorf("adaptive: shortWindow: %d must not be negative", c.ShortWindow))
	}
	if c.LongWindow < 0 {
		errs = append(errs, fmt.Errorf("adaptive: longWindow: %d must not be negative", c.LongWindow))
	}
	if c.ProbeInterval < 0 {
		errs = append(errs, fmt.Errorf("adaptive: probeInterval: %v must not be negative (0: default %v)", c.ProbeInterval, DefaultProbeInterval))
	}
	if d := c.withDefaults(); c.ShortWindow >= 0 && c.LongWindow >= 0 && d.LongWindow < d.ShortWindow {
		errs = append(errs, fmt.Errorf("adaptive: longWindow: %d must be at least shortWindow %d", d.LongWindow, d.ShortWindow))
	}
	return errors.Join(errs...)
}

func (c Gradient2Config) withDefaults() Gradient2Config {
	c.Bounds = c.Bounds.withDefaults()
	if c.Smoothing == 0 {
		c.Smoothing = DefaultSmoothing
	}
	if c.Tolerance == 0 {
		c.Tolerance = DefaultTolerance
	}
	if c.ShortWindow == 0 {
		c.ShortWindow = DefaultShortWindow
	}
	if c.LongWindow == 0 {
		c.LongWindow = max(DefaultLongWindow, c.ShortWindow)
	}
	if c.QueueSize == nil {
		c.QueueSize = sqrtQueue
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = DefaultProbeInterval
	}
	return c
}

// sqrtQueue is the default Gradient2 queue size: sqrt(limit), at least 1.
func sqrtQueue(limit int) int { return max(1, int(math.Sqrt(float64(limit)))) }

// Gradient2 adjusts the limit by the ratio of a long-term to a short-term
// average RTT, as Netflix's Gradient2 limit does.
//
// Each sample updates two exponentially weighted averages of the RTT, a
// short one (ShortWindow samples) and a long one (LongWindow samples). The
// gradient is Tolerance·long/short, clamped to [0.5, 1]: 1 while the latency
// is within Tolerance of normal, less as queues build up. The new limit is
//
//	limit·gradient + QueueSize(limit)
//
// smoothed against the current one (Smoothing) and clamped to the Bounds.
// So the limit grows by about the queue size while latency is normal, and
// shrinks by up to half when it doubles.
//
// The long average is the no-load baseline: while the short one exceeds
// Tolerance times it, it holds, so that a sustained overload keeps the
// gradient below 1 and the limit down, instead of becoming the new normal.
// But a dependency may also become slower for good, whatever the load, and
// in a steady state the two look alike: a limit that no longer moves and a
// latency above the tolerance. So the baseline is measured again, as
// Envoy's adaptive concurrency filter measures its minRTT "by only allowing
// a very low outstanding request count" (periodically, and after 5
// sampling windows at the lowest limit; envoyproxy.io, HTTP filters,
// Adaptive Concurrency, "Calculating the minRTT"): when the latency has
// stayed above the tolerance for ProbeInterval, or the limit has been
// at its floor (Min, or 2·QueueSize, where even the lowest gradient keeps
// it) for 5 samples in a row during such a spell, the limit drops to Min;
// once the calls admitted before have drained (a sample with at most Min
// in flight), the lowest RTT of the next 3 samples (the first may still
// hold a call from before) becomes the baseline and the limit returns to
// where it was. A queue of the guard's own making is gone at Min, and the
// baseline stays low; a slower dependency is as slow at Min, and the
// baseline follows it. A probe that has not ended after ProbeInterval is
// given up. Limit reports Min during a probe.
//
// When the long average is more than twice the short one (latency fell
// back after a slower spell), it decays by 5% per sample so that it
// forgets the spell. While fewer than half the limit's calls are in flight
// the limit does not grow: the caller, not the dependency, limits the
// load. Gradient2 ignores the dropped flag: it reacts to the latency of
// timeouts and failures.
//
// Not safe for concurrent use; see Algorithm.
type Gradient2 struct {
	cfg         Gradient2Config
	limit       float64
	short, long float64 // nanoseconds; 0 before the first sample
	clock       clock

	// The current spell of short RTTs above Tolerance·long, if any: when
	// it began, and how many samples in a row found the limit at its floor.
	spell      bool
	spellSince time.Time
	floorRun   int

	// The current probe of the baseline, if any (see Gradient2): when it
	// began, the limit to return to, and the samples taken so far.
	probing    bool
	probeSince time.Time
	restore    float64
	probeMin   float64
	probeN     int
}

// NewGradient2 returns a Gradient2 at cfg.Initial, or the error of
// cfg.Validate.
func NewGradient2(cfg Gradient2Config) (*Gradient2, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Gradient2{cfg: cfg, limit: float64(cfg.Initial)}, nil
}

// Limit returns the current limit.
func (g *Gradient2) Limit() int { return floorLimit(g.limit) }

// atFloor reports whether the limit is as low as the algorithm takes it:
// Min, or where even the lowest gradient, 0.5, adds back what it takes
// (limit ≤ 2·QueueSize).
func (g *Gradient2) atFloor() bool {
	l := g.Limit()
	return l <= g.cfg.Min || l <= 2*g.cfg.QueueSize(l)
}

// Baseline returns the long-term average RTT, the no-load baseline the
// short one is compared with; 0 before the first sample.
func (g *Gradient2) Baseline() time.Duration { return time.Duration(g.long) }

// Sample folds one sample in and returns the new limit; see Algorithm.
func (g *Gradient2) Sample(now time.Time, rtt time.Duration, inflight int, dropped bool) int {
	now = g.clock.at(now)
	x, ok := cleanRTT(rtt)
	if !ok {
		return g.Limit()
	}
	if g.probing {
		return g.probe(now, x, inflight)
	}
	g.short = ewma(g.short, x, g.cfg.ShortWindow)
	// The long average is the no-load baseline. Netflix's Gradient2Limit
	// (github.com/Netflix/concurrency-limits, Gradient2Limit.java) lets it
	// follow every sample and relies on its lag alone to keep the gradient
	// below 1 under load: its documented "transition from steady state to
	// load" says the baseline "grows using exponential decay but lags the
	// current measurement, which keeps the gradient < 1.0 and limit low".
	// Under a sustained overload the lag runs out, the baseline reaches the
	// queued latency, the gradient returns to 1 and the limit climbs to Max.
	// So here it holds while the short average exceeds Tolerance times it,
	// and only a probe at Min (see Gradient2) measures it again.
	switch {
	case g.long == 0 || g.short <= g.cfg.Tolerance*g.long:
		g.spell = false
		g.long = ewma(g.long, x, g.cfg.LongWindow)
	case !g.spell:
		g.spell, g.spellSince, g.floorRun = true, now, 0
	}
	// A long average more than twice the short one (latency fell back
	// after a slower spell) decays, so that it does not take a long window
	// to forget the spell; Netflix's Gradient2Limit does the same (by 10%
	// there) for latency back to normal after a long excessive load.
	if g.long/g.short > 2 {
		g.long *= 0.95
	}
	if float64(max(inflight, 0)) < g.limit/2 {
		return g.Limit()
	}
	gradient := min(max(g.cfg.Tolerance*g.long/g.short, 0.5), 1)
	q := float64(max(g.cfg.QueueSize(g.Limit()), 0))
	next := g.limit*gradient + q
	next = g.limit*(1-g.cfg.Smoothing) + next*g.cfg.Smoothing
	g.limit = g.cfg.Bounds.clamp(next, g.limit)
	if g.spell {
		if g.atFloor() {
			g.floorRun++
		} else {
			g.floorRun = 0
		}
		if g.floorRun >= floorSamples || now.Sub(g.spellSince) >= g.cfg.ProbeInterval {
			g.probing, g.probeSince, g.restore, g.probeMin, g.probeN = true, now, g.limit, 0, 0
			g.limit = float64(g.cfg.Min)
		}
	}
	return g.Limit()
}

// probe takes one sample of a probe of the baseline at the Min limit.
func (g *Gradient2) probe(now time.Time, x float64, inflight int) int {
	if now.Sub(g.probeSince) >= g.cfg.ProbeInterval { // given up
		g.probing, g.spell, g.limit = false, false, g.restore
		return g.Limit()
	}
	if inflight > g.cfg.Min { // calls admitted before the probe
		return g.Limit()
	}
	if g.probeN == 0 || x < g.probeMin {
		g.probeMin = x
	}
	if g.probeN++; g.probeN < probeSamples {
		return g.Limit()
	}
	g.long, g.short = g.probeMin, g.probeMin
	g.probing, g.spell, g.limit = false, false, g.restore
	return g.Limit()
}
