package breaker

import (
	"context"
	"fmt"
	"math"
	"time"
)

// WindowKind selects how a breaker's statistics window is measured.
type WindowKind uint8

const (
	// CountWindow measures the last WindowSize calls. It is the default, and
	// the fastest: a successful call reads no clock.
	CountWindow WindowKind = iota
	// TimeWindow measures the calls of the last WindowDuration, in Buckets
	// buckets. Each call reads the clock once when it finishes.
	TimeWindow
)

// String returns "count" or "time".
func (k WindowKind) String() string {
	switch k {
	case CountWindow:
		return "count"
	case TimeWindow:
		return "time"
	}
	return fmt.Sprintf("WindowKind(%d)", uint8(k))
}

// ParseWindowKind parses "count" or "time"; the empty string is CountWindow.
func ParseWindowKind(s string) (WindowKind, error) {
	switch s {
	case "", "count":
		return CountWindow, nil
	case "time":
		return TimeWindow, nil
	}
	return 0, fmt.Errorf("breaker: window: %q is not \"count\" or \"time\"", s)
}

// Config is a breaker's configuration. The zero value is usable: every zero
// field takes the default documented on it, and the defaults give a breaker
// that opens when at least half of the last 100 calls failed (once 20 calls
// were seen), stays open for 30 seconds, and then lets one probe call
// decide whether to close.
//
// Durations must lie between zero and MaxDuration (about 146 years), so
// that no time computed from them can overflow.
//
// Rates are percentages in (0, 100]. A rule is off when its threshold is
// zero, except FailureRate, whose zero value means the default 50; set
// DisableFailureRate to turn it off.
type Config struct {
	// Window selects a count window (default) or a time window.
	Window WindowKind
	// WindowSize is the number of calls a count window holds. Default 100.
	WindowSize int
	// WindowDuration is the span of a time window. Default 60s.
	WindowDuration time.Duration
	// Buckets is the number of buckets a time window is divided into; the
	// window slides one bucket at a time. Default 10.
	Buckets int
	// MinCalls is the number of calls the window must hold before the rate
	// rules apply. Default 20, or WindowSize when that is smaller.
	MinCalls int

	// FailureRate opens the breaker when failures make up at least this
	// percentage of the calls in the window. Default 50.
	FailureRate float64
	// DisableFailureRate turns the failure-rate rule off, for a breaker that
	// trips only on consecutive failures or slow calls.
	DisableFailureRate bool
	// SlowCallDuration is the latency from which a call counts as slow.
	// Zero (the default) disables slow-call tracking and latency
	// measurement for it.
	SlowCallDuration time.Duration
	// SlowCallRate opens the breaker when slow calls make up at least this
	// percentage of the calls in the window. Default 100 when
	// SlowCallDuration is set.
	SlowCallRate float64
	// ConsecutiveFailures opens the breaker after this many failures in a
	// row, however long they take (the count never decays with time, so a
	// low-traffic outage still trips). Zero (the default) disables the rule.
	ConsecutiveFailures int

	// OpenDuration is how long the breaker stays open after it trips.
	// Default 30s.
	OpenDuration time.Duration
	// OpenBackoff multiplies the open duration after each failed probe.
	// Default 2; 1 keeps it constant. It resets when the breaker closes.
	OpenBackoff float64
	// MaxOpenDuration caps the grown open duration. Default 10 times
	// OpenDuration, at most MaxDuration.
	MaxOpenDuration time.Duration
	// OpenJitter randomises each open duration by up to this fraction in
	// either direction (0.1 is ±10%), so a fleet of instances that tripped
	// together does not probe together. Default 0 (none).
	OpenJitter float64

	// HalfOpenProbes is the most probe calls a half-open breaker lets run at
	// once, whatever the concurrency. Default 1.
	HalfOpenProbes int
	// SuccessThreshold is the number of successful probes that close a
	// half-open breaker. Any failed probe reopens it. Default 1.
	SuccessThreshold int
	// ProbeTimeout is how long a probe may run without reporting before it
	// counts as failed, so a lost probe cannot hold the breaker half-open.
	// Default OpenDuration.
	ProbeTimeout time.Duration

	// RampSteps, when set, replaces half-open probing with a ramp: after the
	// open duration the breaker admits these percentages of traffic, one
	// step per RampStepDuration, and closes after the last step. A step
	// whose failure rate reaches FailureRate (over at least RampMinCalls
	// calls) reopens the breaker. Each step is in (0, 100) and the steps
	// increase, for example [10, 25, 50].
	RampSteps []float64
	// RampStepDuration is how long each ramp step lasts. Default 10s.
	RampStepDuration time.Duration
	// RampMinCalls is the number of calls a ramp step needs before its
	// failure rate can reopen the breaker. Default 5.
	RampMinCalls int

	// GraceCalls lets this many more calls through after the breaker trips,
	// before it starts rejecting. Default 0.
	GraceCalls int
	// GraceDuration lets calls through for this long after the breaker
	// trips, before it starts rejecting. It must be shorter than
	// OpenDuration. Default 0.
	GraceDuration time.Duration

	// Classifier decides whether a finished call was a success, a failure
	// or ignored. Default DefaultClassifier.
	Classifier Classifier
	// MeasureLatency makes the breaker measure every call's latency and pass
	// it to the Classifier even when SlowCallDuration is zero. It costs two
	// clock reads per call.
	MeasureLatency bool

	// OnStateChange, if set, is called after every state change, outside any
	// lock, in the order the changes happened, with the context of the call
	// that caused the change (context.Background for timers and manual
	// changes without a context). It must not block; a panic in it is
	// recovered and the breaker carries on.
	OnStateChange func(ctx context.Context, t Transition)

	// Learned, if set, adds the learned trip rule: it learns the normal
	// failure rate (and latency) and trips on a departure from it; see
	// LearnedConfig. Default nil: off.
	Learned *LearnedConfig
}

// Maximum sizes accepted by Validate, to keep memory bounded.
const (
	maxWindowSize = 1 << 20
	maxBuckets    = 1 << 12
	maxProbes     = 1 << 12
)

// Validate reports the first impossible value in c, naming the field and the
// value. Zero values are valid: they select the defaults.
func (c Config) Validate() error {
	if c.Window > TimeWindow {
		return fieldErr("window", int(c.Window), "is not CountWindow or TimeWindow")
	}
	if c.WindowSize < 0 || c.WindowSize > maxWindowSize {
		return fieldErr("windowSize", c.WindowSize, fmt.Sprintf("must be between 1 and %d", maxWindowSize))
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{
		{"windowDuration", c.WindowDuration},
		{"slowCallDuration", c.SlowCallDuration},
		{"openDuration", c.OpenDuration},
		{"maxOpenDuration", c.MaxOpenDuration},
		{"probeTimeout", c.ProbeTimeout},
		{"rampStepDuration", c.RampStepDuration},
		{"graceDuration", c.GraceDuration},
	} {
		if d.v < 0 {
			return fieldErr(d.field, d.v, "must not be negative")
		}
		if d.v > MaxDuration {
			return fieldErr(d.field, d.v, "is longer than the maximum, about 146 years (2^62ns)")
		}
	}
	if c.Buckets < 0 || c.Buckets > maxBuckets {
		return fieldErr("buckets", c.Buckets, fmt.Sprintf("must be between 1 and %d", maxBuckets))
	}
	if c.Window == TimeWindow && c.WindowDuration > 0 && c.Buckets > 0 && c.WindowDuration < time.Duration(c.Buckets) {
		return fieldErr("windowDuration", c.WindowDuration, "is shorter than one nanosecond per bucket")
	}
	if c.MinCalls < 0 {
		return fieldErr("minCalls", c.MinCalls, "must not be negative")
	}
	if d := c.withDefaults(); c.Window == CountWindow && c.MinCalls > d.WindowSize {
		return fieldErr("minCalls", c.MinCalls, fmt.Sprintf("is larger than windowSize %d, so the rate rules could never apply", d.WindowSize))
	}
	if err := checkRate("failureRate", c.FailureRate); err != nil {
		return err
	}
	if err := checkRate("slowCallRate", c.SlowCallRate); err != nil {
		return err
	}
	if c.SlowCallRate > 0 && c.SlowCallDuration == 0 {
		return fieldErr("slowCallRate", c.SlowCallRate, "is set but slowCallDuration is zero")
	}
	if c.ConsecutiveFailures < 0 {
		return fieldErr("consecutiveFailures", c.ConsecutiveFailures, "must not be negative")
	}
	if c.DisableFailureRate && c.ConsecutiveFailures == 0 && c.SlowCallDuration == 0 && c.Learned == nil {
		return fieldErr("disableFailureRate", true, "leaves no rule that can open the breaker")
	}
	if c.OpenBackoff != 0 && (c.OpenBackoff < 1 || math.IsNaN(c.OpenBackoff) || math.IsInf(c.OpenBackoff, 0)) {
		return fieldErr("openBackoff", c.OpenBackoff, "must be at least 1")
	}
	if c.MaxOpenDuration > 0 && c.OpenDuration > 0 && c.MaxOpenDuration < c.OpenDuration {
		return fieldErr("maxOpenDuration", c.MaxOpenDuration, fmt.Sprintf("is shorter than openDuration %s", c.OpenDuration))
	}
	if c.OpenJitter < 0 || c.OpenJitter >= 1 || math.IsNaN(c.OpenJitter) {
		return fieldErr("openJitter", c.OpenJitter, "must be in [0, 1)")
	}
	if c.HalfOpenProbes < 0 || c.HalfOpenProbes > maxProbes {
		return fieldErr("halfOpenProbes", c.HalfOpenProbes, fmt.Sprintf("must be between 1 and %d", maxProbes))
	}
	if c.SuccessThreshold < 0 {
		return fieldErr("successThreshold", c.SuccessThreshold, "must be at least 1")
	}
	prev := 0.0
	for i, s := range c.RampSteps {
		if !(s > prev && s < 100) {
			return fieldErr(fmt.Sprintf("rampSteps[%d]", i), s, fmt.Sprintf("must be in (%g, 100): steps are increasing percentages below 100", prev))
		}
		prev = s
	}
	if c.RampMinCalls < 0 {
		return fieldErr("rampMinCalls", c.RampMinCalls, "must not be negative")
	}
	if c.GraceCalls < 0 {
		return fieldErr("graceCalls", c.GraceCalls, "must not be negative")
	}
	if c.GraceDuration > 0 && c.GraceDuration >= c.withDefaults().OpenDuration {
		return fieldErr("graceDuration", c.GraceDuration, "must be shorter than openDuration")
	}
	if c.Learned != nil {
		return c.Learned.validate()
	}
	return nil
}

func checkRate(field string, v float64) error {
	if math.IsNaN(v) || v < 0 || v > 100 {
		return fieldErr(field, v, "must be a percentage in (0, 100]")
	}
	return nil
}

// ConfigError reports an invalid configuration value.
type ConfigError struct {
	Field   string // the field, in lowerCamel case as in JSON policies
	Value   any    // the value given
	Problem string // what is wrong with it
}

// Error returns "breaker: <field>: <value> <problem>".
func (e *ConfigError) Error() string {
	return fmt.Sprintf("breaker: %s: %v %s", e.Field, e.Value, e.Problem)
}

func fieldErr(field string, v any, problem string) error {
	return &ConfigError{Field: field, Value: v, Problem: problem}
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.WindowSize == 0 {
		c.WindowSize = 100
	}
	if c.WindowDuration == 0 {
		c.WindowDuration = 60 * time.Second
	}
	if c.Buckets == 0 {
		c.Buckets = 10
	}
	if c.MinCalls == 0 {
		c.MinCalls = 20
		if c.Window == CountWindow && c.WindowSize < c.MinCalls {
			c.MinCalls = c.WindowSize
		}
	}
	if c.FailureRate == 0 {
		c.FailureRate = 50
	}
	if c.DisableFailureRate {
		c.FailureRate = 0
	}
	if c.SlowCallDuration > 0 && c.SlowCallRate == 0 {
		c.SlowCallRate = 100
	}
	if c.OpenDuration == 0 {
		c.OpenDuration = 30 * time.Second
	}
	if c.OpenBackoff == 0 {
		c.OpenBackoff = 2
	}
	if c.MaxOpenDuration == 0 {
		// Ten times OpenDuration, saturating: an OpenDuration over a
		// tenth of MaxDuration must not wrap the product into the past.
		c.MaxOpenDuration = MaxDuration
		if c.OpenDuration <= MaxDuration/10 {
			c.MaxOpenDuration = 10 * c.OpenDuration
		}
	}
	if c.HalfOpenProbes == 0 {
		c.HalfOpenProbes = 1
	}
	if c.SuccessThreshold == 0 {
		c.SuccessThreshold = 1
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = c.OpenDuration
	}
	if c.RampStepDuration == 0 {
		c.RampStepDuration = 10 * time.Second
	}
	if c.RampMinCalls == 0 {
		c.RampMinCalls = 5
	}
	return c
}

// MaxDuration is the longest duration a Config field may hold, and the
// longest a breaker stays open (for OpenFor, OpenUntil and a grown open
// duration alike): 2^62 nanoseconds, about 146 years. Longer durations are
// refused by Validate and clamped by OpenFor and OpenUntil, so that no time
// computed from them can overflow into the past.
const MaxDuration time.Duration = 1 << 62
