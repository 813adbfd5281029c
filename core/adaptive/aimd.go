package adaptive

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// AIMDConfig configures an AIMD algorithm. Zero fields take their defaults.
type AIMDConfig struct {
	Bounds
	// Increase is added to the limit after each successful sample while the
	// limit is in use; default 1.
	Increase float64
	// Backoff multiplies the limit after a drop, in (0, 1); default 0.9.
	Backoff float64
	// Timeout, when set, makes a sample whose RTT reaches it count as
	// dropped; 0 counts only the dropped flag.
	Timeout time.Duration
	// Cooldown is how long after a decrease further drops are ignored, so
	// that the many failures of one overload shrink the limit once rather
	// than down to Min at once; 0 lets every drop shrink it.
	Cooldown time.Duration
}

// Default AIMD settings.
const (
	DefaultIncrease = 1
	DefaultBackoff  = 0.9
)

// Validate reports every invalid field of c, joined with errors.Join.
func (c AIMDConfig) Validate() error {
	errs := []error{c.Bounds.Validate()}
	if c.Increase < 0 || math.IsNaN(c.Increase) || math.IsInf(c.Increase, 0) {
		errs = append(errs, fmt.Errorf("adaptive: increase: %v must not be negative (0: default %v)", c.Increase, DefaultIncrease))
	}
	if c.Backoff < 0 || c.Backoff >= 1 || math.IsNaN(c.Backoff) {
		errs = append(errs, fmt.Errorf("adaptive: backoff: %v must be in (0, 1) (0: default %v)", c.Backoff, DefaultBackoff))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("adaptive: timeout: %v must not be negative", c.Timeout))
	}
	if c.Cooldown < 0 {
		errs = append(errs, fmt.Errorf("adaptive: cooldown: %v must not be negative", c.Cooldown))
	}
	return errors.Join(errs...)
}

func (c AIMDConfig) withDefaults() AIMDConfig {
	c.Bounds = c.Bounds.withDefaults()
	if c.Increase == 0 {
		c.Increase = DefaultIncrease
	}
	if c.Backoff == 0 {
		c.Backoff = DefaultBackoff
	}
	return c
}

// AIMD grows the limit additively while calls succeed and shrinks it
// multiplicatively when they fail, as TCP Reno does with its window.
//
// A sample that is dropped (or whose RTT reaches Timeout) multiplies the
// limit by Backoff, unless the previous decrease was less than Cooldown
// ago. Any other sample adds Increase, provided at least half the limit's
// calls are in flight (otherwise the caller, not the dependency, limits the
// load, and a limit grown then would mean nothing). The limit is clamped to
// the Bounds.
//
// Not safe for concurrent use; see Algorithm.
type AIMD struct {
	cfg       AIMDConfig
	limit     float64
	decreased time.Time // of the last decrease, if any
	backedOff bool      // a decrease happened
	clock     clock
}

// NewAIMD returns an AIMD at cfg.Initial, or the error of cfg.Validate.
func NewAIMD(cfg AIMDConfig) (*AIMD, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &AIMD{cfg: cfg, limit: float64(cfg.Initial)}, nil
}

// Limit returns the current limit.
func (a *AIMD) Limit() int { return floorLimit(a.limit) }

// Sample folds one sample in and returns the new limit; see Algorithm.
func (a *AIMD) Sample(now time.Time, rtt time.Duration, inflight int, dropped bool) int {
	now = a.clock.at(now)
	if a.cfg.Timeout > 0 && rtt >= a.cfg.Timeout {
		dropped = true
	}
	switch {
	case dropped:
		if a.backedOff && now.Sub(a.decreased) < a.cfg.Cooldown {
			return a.Limit()
		}
		a.decreased, a.backedOff = now, true
		a.limit = a.cfg.Bounds.clamp(a.limit*a.cfg.Backoff, a.limit)
	case float64(max(inflight, 0))*2 >= a.limit:
		a.limit = a.cfg.Bounds.clamp(a.limit+a.cfg.Increase, a.limit)
	}
	return a.Limit()
}
