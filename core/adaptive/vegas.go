package adaptive

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// VegasConfig configures a Vegas algorithm. Zero fields take their
// defaults.
type VegasConfig struct {
	Bounds
	// Alpha is the estimated queue, in units of max(1, log10(limit)) calls,
	// below which the limit grows; default 3.
	Alpha float64
	// Beta is the estimated queue, in the same units, above which the limit
	// shrinks, at least Alpha; default 6.
	Beta float64
	// Smoothing is the weight of a new limit against the current one, in
	// (0, 1]; default 1 (no smoothing).
	Smoothing float64
	// BaselineTTL is how long the no-load RTT is kept before it is learned
	// again from the next sample, so that a dependency that became slower
	// for good is not taken as overloaded for ever; 0 keeps it for ever.
	BaselineTTL time.Duration
}

// Default Vegas settings.
const (
	DefaultAlpha = 3
	DefaultBeta  = 6
)

// Validate reports every invalid field of c, joined with errors.Join.
func (c VegasConfig) Validate() error {
	errs := []error{c.Bounds.Validate()}
	bad := func(x float64) bool { return x < 0 || math.IsNaN(x) || math.IsInf(x, 0) }
	if bad(c.Alpha) {
		errs = append(errs, fmt.Errorf("adaptive: alpha: %v must not be negative (0: default %v)", c.Alpha, DefaultAlpha))
	}
	if bad(c.Beta) {
		errs = append(errs, fmt.Errorf("adaptive: beta: %v must not be negative (0: default %v)", c.Beta, DefaultBeta))
	}
	if d := c.withDefaults(); !bad(c.Alpha) && !bad(c.Beta) && d.Beta < d.Alpha {
		errs = append(errs, fmt.Errorf("adaptive: beta: %v must be at least alpha %v", d.Beta, d.Alpha))
	}
	if c.Smoothing < 0 || c.Smoothing > 1 || math.IsNaN(c.Smoothing) {
		errs = append(errs, fmt.Errorf("adaptive: smoothing: %v must be in (0, 1] (0: default 1)", c.Smoothing))
	}
	if c.BaselineTTL < 0 {
		errs = append(errs, fmt.Errorf("adaptive: baselineTTL: %v must not be negative", c.BaselineTTL))
	}
	return errors.Join(errs...)
}

func (c VegasConfig) withDefaults() VegasConfig {
	c.Bounds = c.Bounds.withDefaults()
	if c.Alpha == 0 {
		c.Alpha = DefaultAlpha
	}
	if c.Beta == 0 {
		c.Beta = max(DefaultBeta, c.Alpha)
	}
	if c.Smoothing == 0 {
		c.Smoothing = 1
	}
	return c
}

// Vegas adjusts the limit by the queue it estimates from the RTT against a
// no-load baseline, as TCP Vegas does with its window.
//
// The baseline is the lowest RTT seen (relearned every BaselineTTL). With
// the limit L and a sample's RTT r, the calls queued at the dependency are
// estimated as
//
//	queue = L·(1 − baseline/r)
//
// With s = max(1, log10(L)): below Alpha·s queued the limit grows by s,
// above Beta·s it shrinks by s, in between it stays. A dropped sample
// shrinks the limit by s whatever the latency. While fewer than half the
// limit's calls are in flight the limit does not grow. The result is
// smoothed (Smoothing) and clamped to the Bounds. A sample that sets a new
// baseline changes nothing else.
//
// Not safe for concurrent use; see Algorithm.
type Vegas struct {
	cfg        VegasConfig
	limit      float64
	baseline   float64 // nanoseconds; 0 before the first sample
	baselineAt time.Time
	clock      clock
}

// NewVegas returns a Vegas at cfg.Initial, or the error of cfg.Validate.
func NewVegas(cfg VegasConfig) (*Vegas, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Vegas{cfg: cfg, limit: float64(cfg.Initial)}, nil
}

// Limit returns the current limit.
func (v *Vegas) Limit() int { return floorLimit(v.limit) }

// Baseline returns the no-load RTT the algorithm compares samples with, 0
// before the first sample.
func (v *Vegas) Baseline() time.Duration { return time.Duration(v.baseline) }

// Sample folds one sample in and returns the new limit; see Algorithm.
func (v *Vegas) Sample(now time.Time, rtt time.Duration, inflight int, dropped bool) int {
	now = v.clock.at(now)
	s := max(1, math.Log10(v.limit))
	x, ok := cleanRTT(rtt)
	var next float64
	switch {
	case dropped:
		next = v.limit - s
	case !ok:
		return v.Limit()
	case v.baseline == 0 || x < v.baseline ||
		(v.cfg.BaselineTTL > 0 && now.Sub(v.baselineAt) >= v.cfg.BaselineTTL):
		v.baseline, v.baselineAt = x, now
		return v.Limit()
	case float64(max(inflight, 0)) < v.limit/2:
		return v.Limit()
	default:
		queue := v.limit * (1 - v.baseline/x)
		switch {
		case queue < v.cfg.Alpha*s:
			next = v.limit + s
		case queue > v.cfg.Beta*s:
			next = v.limit - s
		default:
			return v.Limit()
		}
	}
	next = v.limit*(1-v.cfg.Smoothing) + next*v.cfg.Smoothing
	v.limit = v.cfg.Bounds.clamp(next, v.limit)
	return v.Limit()
}
