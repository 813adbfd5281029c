package adaptive

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Algorithm computes a concurrency limit from completed calls.
//
// Sample folds one observation into the algorithm and returns the new
// limit: now is when the call (or the window of calls) ended, rtt how long
// it took, inflight how many calls were running when it ended (the caller's
// own included) and dropped whether it failed in a way that signals
// overload (a timeout, a rejection by the dependency). Limit returns the
// current limit without changing it.
//
// Every algorithm of this package keeps its limit within its Bounds whatever
// it is fed: an rtt of zero or less carries no latency information and is
// ignored (a dropped flag still counts), an rtt above MaxRTT counts as
// MaxRTT, a negative inflight counts as 0, and a now earlier than a
// previous one counts as the latest now seen, so a clock that steps back
// neither panics nor rewinds the state.
//
// The algorithms are not safe for concurrent use: a caller that records
// samples from many goroutines serialises them, as Limiter does.
type Algorithm interface {
	Sample(now time.Time, rtt time.Duration, inflight int, dropped bool) (limit int)
	Limit() int
}

// MaxRTT is the largest round-trip time an algorithm takes into account;
// longer ones count as MaxRTT.
const MaxRTT = time.Hour

// Default bounds, used for a zero field of Bounds.
const (
	DefaultMin     = 1
	DefaultMax     = 1000
	DefaultInitial = 20
)

// Bounds are the limits an algorithm's limit stays within, and where it
// starts. A zero field takes its default: Min 1, Max 1000, Initial 20
// (clamped into [Min, Max]).
type Bounds struct {
	// Min is the lowest limit, at least 1.
	Min int `json:"minLimit,omitempty"`
	// Max is the highest limit, at least Min.
	Max int `json:"maxLimit,omitempty"`
	// Initial is the limit before the first sample, within [Min, Max].
	Initial int `json:"initialLimit,omitempty"`
}

// maxLimit bounds Max: a bulkhead keeps its limit in 31 bits.
const maxLimit = 1<<31 - 1

// Validate reports every invalid field of b, joined with errors.Join, each
// message naming the field as its JSON name and the bad value.
func (b Bounds) Validate() error {
	var errs []error
	if b.Min < 0 {
		errs = append(errs, fmt.Errorf("adaptive: minLimit: %d must not be negative", b.Min))
	}
	if b.Max < 0 || b.Max > maxLimit {
		errs = append(errs, fmt.Errorf("adaptive: maxLimit: %d must be between 0 (default) and %d", b.Max, maxLimit))
	}
	if b.Initial < 0 {
		errs = append(errs, fmt.Errorf("adaptive: initialLimit: %d must not be negative", b.Initial))
	}
	if errs != nil {
		return errors.Join(errs...)
	}
	n := b.withDefaults()
	if b.Max != 0 && b.Max < n.Min {
		errs = append(errs, fmt.Errorf("adaptive: maxLimit: %d must be at least minLimit %d", b.Max, n.Min))
		return errors.Join(errs...)
	}
	if b.Initial != 0 && (b.Initial < n.Min || b.Initial > n.Max) {
		errs = append(errs, fmt.Errorf("adaptive: initialLimit: %d must be between minLimit %d and maxLimit %d", b.Initial, n.Min, n.Max))
	}
	return errors.Join(errs...)
}

// withDefaults fills the zero fields. It never returns Min < 1, and clamps
// Initial into [Min, max(Min, Max)].
func (b Bounds) withDefaults() Bounds {
	if b.Min < 1 {
		b.Min = DefaultMin
	}
	if b.Max < 1 {
		b.Max = max(DefaultMax, b.Min)
	}
	if b.Max > maxLimit {
		b.Max = maxLimit
	}
	if b.Max < b.Min {
		b.Max = b.Min
	}
	if b.Initial == 0 {
		b.Initial = DefaultInitial
	}
	b.Initial = min(max(b.Initial, b.Min), b.Max)
	return b
}

// clamp returns x within [b.Min, b.Max]; NaN becomes keep.
func (b Bounds) clamp(x, keep float64) float64 {
	if math.IsNaN(x) {
		x = keep
	}
	return min(max(x, float64(b.Min)), float64(b.Max))
}

// clock keeps time from going backwards.
type clock struct{ last time.Time }

// at returns now, or the latest time seen if now is earlier.
func (c *clock) at(now time.Time) time.Time {
	if now.Before(c.last) {
		return c.last
	}
	c.last = now
	return now
}

// cleanRTT returns rtt capped at MaxRTT, and false if rtt carries no
// information (zero or negative).
func cleanRTT(rtt time.Duration) (float64, bool) {
	if rtt <= 0 {
		return 0, false
	}
	return float64(min(rtt, MaxRTT)), true
}

// ewma folds x into avg with the weight of a window of n samples
// (alpha = 2/(n+1)); the first sample (avg 0) is taken as is.
func ewma(avg, x float64, n int) float64 {
	if avg == 0 {
		return x
	}
	a := 2 / float64(n+1)
	return avg + a*(x-avg)
}

// floorLimit converts a clamped float limit to an int.
func floorLimit(x float64) int { return int(math.Floor(x)) }

// Names of the algorithms, as a policy spells them.
const (
	NameGradient2 = "gradient2"
	NameVegas     = "vegas"
	NameAIMD      = "aimd"
)

// New returns the algorithm called name (NameGradient2, NameVegas or
// NameAIMD) with bounds b and every other setting at its default, or an
// error naming the bad value.
func New(name string, b Bounds) (Algorithm, error) {
	switch name {
	case NameGradient2:
		return NewGradient2(Gradient2Config{Bounds: b})
	case NameVegas:
		return NewVegas(VegasConfig{Bounds: b})
	case NameAIMD:
		return NewAIMD(AIMDConfig{Bounds: b})
	}
	return nil, fmt.Errorf("adaptive: algorithm: %q is not one of %q, %q, %q", name, NameGradient2, NameVegas, NameAIMD)
}
