package core

import (
	"errors"
	"fmt"
	"path"
	"reflect"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// Duration is a time.Duration that encodes as a string such as "30s" or
// "1m30s" in JSON and other text formats.
type Duration time.Duration

// MarshalText encodes d as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText decodes a duration string accepted by time.ParseDuration.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a string such as \"30s\" or \"1m30s\"", b)
	}
	*d = Duration(v)
	return nil
}

// String returns d as time.Duration.String does.
func (d Duration) String() string { return time.Duration(d).String() }

// Policy is the plain-data description of a guard: which primitives it has
// and how they are configured. It encodes to and from JSON (durations as
// strings). A zero field means "inherit from Extends, else the default".
//
// A guard takes the policy whose Name equals the guard's name, else the
// first policy (in the order they were added) with a Match pattern that
// matches the name, else the registry's default policy.
type Policy struct {
	// Name identifies the policy; required.
	Name string `json:"name"`
	// Extends names a parent policy whose fields this one inherits where its
	// own are zero.
	Extends string `json:"extends,omitempty"`
	// Match lists guard-name patterns (path.Match syntax, such as
	// "payments.*") this policy applies to.
	Match []string `json:"match,omitempty"`
	// Tags group guards for operations on many at once (force open every
	// guard tagged "stripe").
	Tags []string `json:"tags,omitempty"`
	// Critical guards fail readiness checks while open.
	Critical bool `json:"critical,omitempty"`
	// Breaker configures the circuit breaker; nil means the defaults. Every
	// guard has a breaker, because it also keeps the guard's counters.
	Breaker *BreakerPolicy `json:"breaker,omitempty"`
	// Bulkhead limits concurrent calls; nil means no bulkhead.
	Bulkhead *BulkheadPolicy `json:"bulkhead,omitempty"`
	// RateLimit limits the rate of calls (every attempt counts); nil means
	// no limit.
	RateLimit *RateLimitPolicy `json:"rateLimit,omitempty"`
	// Retry retries failed calls made through Do; nil means one attempt.
	Retry *RetryPolicy `json:"retry,omitempty"`
	// Timeout bounds each attempt made through Do (a context deadline);
	// zero means none.
	Timeout Duration `json:"timeout,omitempty"`
	// TotalTimeout bounds a whole Do call, attempts and retry delays
	// together (fallbacks run after it, with the caller's context); zero
	// means none.
	TotalTimeout Duration `json:"totalTimeout,omitempty"`
	// Fallbacks names fallbacks registered with WithFallback, tried in
	// order when a Do call fails, until one succeeds.
	Fallbacks []FallbackRef `json:"fallbacks,omitempty"`
}

// RateLimitPolicy is the plain-data form of ratelimit.Config.
type RateLimitPolicy struct {
	// Algorithm is "token_bucket" (default), "gcra" or "sliding_window".
	Algorithm string `json:"algorithm,omitempty"`
	// Limit is the number of calls allowed per Per.
	Limit float64 `json:"limit"`
	// Per is the period of Limit; default one second.
	Per Duration `json:"per,omitempty"`
	// Burst is how many calls may come at once; default max(1, ceil(Limit)).
	Burst int `json:"burst,omitempty"`
	// Precise reads the clock on every call instead of the shared coarse
	// clock (see ratelimit.Config.Precise).
	Precise bool `json:"precise,omitempty"`
}

// RetryPolicy is the plain-data form of retry.Config; see that type for
// defaults.
type RetryPolicy struct {
	MaxAttempts  int      `json:"maxAttempts,omitempty"`
	InitialDelay Duration `json:"initialDelay,omitempty"`
	MaxDelay     Duration `json:"maxDelay,omitempty"`
	MaxTotal     Duration `json:"maxTotal,omitempty"`
	Multiplier   float64  `json:"multiplier,omitempty"`
	// Jitter is "full" (default), "decorrelated" or "none".
	Jitter string `json:"jitter,omitempty"`
	// Budget limits retries to a share of calls; nil means no budget.
	Budget *RetryBudgetPolicy `json:"budget,omitempty"`
}

// RetryBudgetPolicy is the plain-data form of retry.BudgetConfig.
type RetryBudgetPolicy struct {
	Ratio            float64  `json:"ratio,omitempty"`
	MinRetriesPerSec int      `json:"minRetriesPerSec,omitempty"`
	Window           Duration `json:"window,omitempty"`
}

// FallbackRef names a registered fallback and the failures it answers.
type FallbackRef struct {
	// Name is the name given to WithFallback.
	Name string `json:"name"`
	// On limits the fallback to some kinds of failure: "rejected",
	// "failed", "timed_out". Empty means any.
	On []string `json:"on,omitempty"`
}

// BreakerPolicy is the plain-data form of breaker.Config; see that type for
// the meaning and default of each field. Rates are percentages.
type BreakerPolicy struct {
	// Mode starts the breaker in a manual state: "" or "auto" (default),
	// "disabled", "metrics-only" or "forced-open".
	Mode                string    `json:"mode,omitempty"`
	Window              string    `json:"window,omitempty"` // "count" (default) or "time"
	WindowSize          int       `json:"windowSize,omitempty"`
	WindowDuration      Duration  `json:"windowDuration,omitempty"`
	Buckets             int       `json:"buckets,omitempty"`
	MinCalls            int       `json:"minCalls,omitempty"`
	FailureRate         float64   `json:"failureRate,omitempty"`
	DisableFailureRate  bool      `json:"disableFailureRate,omitempty"`
	SlowCallDuration    Duration  `json:"slowCallDuration,omitempty"`
	SlowCallRate        float64   `json:"slowCallRate,omitempty"`
	ConsecutiveFailures int       `json:"consecutiveFailures,omitempty"`
	OpenDuration        Duration  `json:"openDuration,omitempty"`
	OpenBackoff         float64   `json:"openBackoff,omitempty"`
	MaxOpenDuration     Duration  `json:"maxOpenDuration,omitempty"`
	OpenJitter          float64   `json:"openJitter,omitempty"`
	HalfOpenProbes      int       `json:"halfOpenProbes,omitempty"`
	SuccessThreshold    int       `json:"successThreshold,omitempty"`
	ProbeTimeout        Duration  `json:"probeTimeout,omitempty"`
	RampSteps           []float64 `json:"rampSteps,omitempty"`
	RampStepDuration    Duration  `json:"rampStepDuration,omitempty"`
	RampMinCalls        int       `json:"rampMinCalls,omitempty"`
	GraceCalls          int       `json:"graceCalls,omitempty"`
	GraceDuration       Duration  `json:"graceDuration,omitempty"`
	// MeasureLatency passes every call's latency to classifiers and
	// completion hooks.
	MeasureLatency bool `json:"measureLatency,omitempty"`
}

// BulkheadPolicy is the plain-data form of bulkhead.Config.
type BulkheadPolicy struct {
	MaxConcurrent int      `json:"maxConcurrent"`
	MaxQueue      int      `json:"maxQueue,omitempty"`
	MaxWait       Duration `json:"maxWait,omitempty"`
}

// PolicyError reports an invalid policy, naming it.
type PolicyError struct {
	Policy string
	Err    error
}

// Error returns `core: policy "<name>": <problem>`.
func (e *PolicyError) Error() string { return "core: policy " + quote(e.Policy) + ": " + e.Err.Error() }

// Unwrap returns the underlying error (a *breaker.ConfigError, for example).
func (e *PolicyError) Unwrap() error { return e.Err }

// BreakerConfig converts the policy's breaker section to a breaker.Config,
// reporting unknown window names.
func (p *BreakerPolicy) BreakerConfig() (breaker.Config, error) {
	if p == nil {
		return breaker.Config{}, nil
	}
	w, err := breaker.ParseWindowKind(p.Window)
	if err != nil {
		return breaker.Config{}, err
	}
	return breaker.Config{
		Window:              w,
		WindowSize:          p.WindowSize,
		WindowDuration:      time.Duration(p.WindowDuration),
		Buckets:             p.Buckets,
		MinCalls:            p.MinCalls,
		FailureRate:         p.FailureRate,
		DisableFailureRate:  p.DisableFailureRate,
		SlowCallDuration:    time.Duration(p.SlowCallDuration),
		SlowCallRate:        p.SlowCallRate,
		ConsecutiveFailures: p.ConsecutiveFailures,
		OpenDuration:        time.Duration(p.OpenDuration),
		OpenBackoff:         p.OpenBackoff,
		MaxOpenDuration:     time.Duration(p.MaxOpenDuration),
		OpenJitter:          p.OpenJitter,
		HalfOpenProbes:      p.HalfOpenProbes,
		SuccessThreshold:    p.SuccessThreshold,
		ProbeTimeout:        time.Duration(p.ProbeTimeout),
		RampSteps:           append([]float64(nil), p.RampSteps...),
		RampStepDuration:    time.Duration(p.RampStepDuration),
		RampMinCalls:        p.RampMinCalls,
		GraceCalls:          p.GraceCalls,
		GraceDuration:       time.Duration(p.GraceDuration),
		MeasureLatency:      p.MeasureLatency,
	}, nil
}

func (p *BreakerPolicy) mode() (breaker.State, error) {
	if p == nil || p.Mode == "" || p.Mode == "auto" {
		return breaker.Closed, nil
	}
	s, err := breaker.ParseState(p.Mode)
	if err != nil || !s.Manual() {
		return 0, fmt.Errorf("breaker: mode: %q is not \"auto\", \"disabled\", \"metrics-only\" or \"forced-open\"", p.Mode)
	}
	return s, nil
}

// BulkheadConfig converts the policy's bulkhead section to a bulkhead.Config.
func (p *BulkheadPolicy) BulkheadConfig() bulkhead.Config {
	return bulkhead.Config{MaxConcurrent: p.MaxConcurrent, MaxQueue: p.MaxQueue, MaxWait: time.Duration(p.MaxWait)}
}

// RateLimitConfig converts the policy's rate-limit section.
func (p *RateLimitPolicy) RateLimitConfig() (ratelimit.Config, error) {
	a, err := ratelimit.ParseAlgorithm(p.Algorithm)
	if err != nil {
		return ratelimit.Config{}, err
	}
	return ratelimit.Config{Algorithm: a, Limit: p.Limit, Per: time.Duration(p.Per), Burst: p.Burst, Precise: p.Precise}, nil
}

// RetryConfig converts the policy's retry section (without a budget; the
// guard builds one from Budget).
func (p *RetryPolicy) RetryConfig() (retry.Config, error) {
	j, err := retry.ParseJitter(p.Jitter)
	if err != nil {
		return retry.Config{}, err
	}
	return retry.Config{
		MaxAttempts:  p.MaxAttempts,
		InitialDelay: time.Duration(p.InitialDelay),
		MaxDelay:     time.Duration(p.MaxDelay),
		MaxTotal:     time.Duration(p.MaxTotal),
		Multiplier:   p.Multiplier,
		Jitter:       j,
	}, nil
}

// BudgetConfig converts the retry budget section.
func (p *RetryBudgetPolicy) BudgetConfig() retry.BudgetConfig {
	return retry.BudgetConfig{Ratio: p.Ratio, MinRetriesPerSec: p.MinRetriesPerSec, Window: time.Duration(p.Window)}
}

func (r FallbackRef) kinds() ([]fallback.Kind, error) {
	var out []fallback.Kind
	for _, k := range r.On {
		v, err := fallback.ParseKind(k)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Validate reports the first problem with p on its own (Extends is resolved
// by the registry): a missing name, a bad pattern, or an impossible value,
// naming the field and the value.
func (p Policy) Validate() error {
	if p.Name == "" {
		return &PolicyError{Policy: p.Name, Err: errors.New("name: must not be empty")}
	}
	for i, m := range p.Match {
		if _, err := path.Match(m, ""); err != nil {
			return &PolicyError{Policy: p.Name, Err: fmt.Errorf("match[%d]: %q is not a valid pattern: %w", i, m, err)}
		}
	}
	if _, err := p.Breaker.mode(); err != nil {
		return &PolicyError{Policy: p.Name, Err: err}
	}
	cfg, err := p.Breaker.BreakerConfig()
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		return &PolicyError{Policy: p.Name, Err: err}
	}
	if p.Bulkhead != nil {
		if err := p.Bulkhead.BulkheadConfig().Validate(); err != nil {
			return &PolicyError{Policy: p.Name, Err: err}
		}
	}
	if p.RateLimit != nil {
		cfg, err := p.RateLimit.RateLimitConfig()
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			return &PolicyError{Policy: p.Name, Err: err}
		}
	}
	if p.Retry != nil {
		cfg, err := p.Retry.RetryConfig()
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil && p.Retry.Budget != nil {
			err = p.Retry.Budget.BudgetConfig().Validate()
		}
		if err != nil {
			return &PolicyError{Policy: p.Name, Err: err}
		}
	}
	if p.Timeout < 0 {
		return &PolicyError{Policy: p.Name, Err: fmt.Errorf("timeout: %s must not be negative", p.Timeout)}
	}
	if p.TotalTimeout < 0 {
		return &PolicyError{Policy: p.Name, Err: fmt.Errorf("totalTimeout: %s must not be negative", p.TotalTimeout)}
	}
	for i, f := range p.Fallbacks {
		if f.Name == "" {
			return &PolicyError{Policy: p.Name, Err: fmt.Errorf("fallbacks[%d].name: must not be empty", i)}
		}
		if _, err := f.kinds(); err != nil {
			return &PolicyError{Policy: p.Name, Err: fmt.Errorf("fallbacks[%d].on: %w", i, err)}
		}
	}
	return nil
}

// matches reports whether the policy applies to the guard name.
func (p *Policy) matches(name string) bool {
	for _, m := range p.Match {
		if ok, _ := path.Match(m, name); ok {
			return true
		}
	}
	return false
}

// inherit returns child with every zero field taken from parent, recursing
// into the sub-policies. Name, Extends and Match are never inherited.
func inherit(child, parent Policy) Policy {
	out := child
	merge(reflect.ValueOf(&out).Elem(), reflect.ValueOf(parent))
	out.Name, out.Extends, out.Match = child.Name, child.Extends, child.Match
	return out
}

func merge(dst, src reflect.Value) {
	for i := 0; i < dst.NumField(); i++ {
		d, s := dst.Field(i), src.Field(i)
		switch {
		case d.Kind() == reflect.Pointer && !d.IsNil() && !s.IsNil() && d.Elem().Kind() == reflect.Struct:
			cp := reflect.New(d.Elem().Type())
			cp.Elem().Set(d.Elem())
			merge(cp.Elem(), s.Elem())
			d.Set(cp)
		case d.IsZero():
			d.Set(s)
		}
	}
}
