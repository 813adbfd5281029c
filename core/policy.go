package core

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

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
// Its error quotes the text: `"3x" is not a duration such as "30s" or
// "1m30s"`; a policy's JSON decoding puts the field's path in front.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"30s\" or \"1m30s\"", b)
	}
	*d = Duration(v)
	return nil
}

// String returns d as time.Duration.String does.
func (d Duration) String() string { return time.Duration(d).String() }

// Policy is the plain-data description of a guard: which primitives it has
// and how they are configured. It encodes to and from JSON (durations as
// strings such as "30s"); a value that does not decode is refused with its
// field's path, as in `breaker.openDuration: "3x" is not a duration`.
//
// A guard takes the policy whose Name equals the guard's name, else the
// first policy (in the order they were added) with a Match pattern that
// matches the name, else the registry's default policy.
//
// # Zero means not set
//
// One rule holds for every field of Policy and of its sections
// (BreakerPolicy, BulkheadPolicy, RateLimitPolicy, RetryPolicy,
// RetryBudgetPolicy, HedgePolicy, CachePolicy): a zero value (0, "0s", "",
// false, an empty list, or the field left out of the JSON) means "not
// set". A field that is not set
// takes the value of the Extends parent, else its default, which is
// documented on the field. An explicit zero is the same as leaving the field
// out: "halfOpenProbes": 0 is the default of one probe, as "openDuration":
// "0s" is the default of 30 seconds. Where a feature can be off, off is its
// default (consecutiveFailures, slowCallDuration, timeout, maxQueue, ...) or
// is written as a negative number (the retry budget's ratio and
// minRetriesPerSec); a child policy therefore cannot turn off, by writing a
// zero, what its parent turned on. Some fields have no default and are
// required in their section: bulkhead.maxConcurrent (unless bulkhead.adaptive is set), rateLimit.limit,
// hedge.delay, cache.maxStaleness and cache.maxEntries. A policy that
// extends another is validated merged with its Extends chain, not on its
// own: a child may declare "bulkhead": {"maxQueue": 5} and leave
// maxConcurrent to its parent, and a cross-field rule (slowCallRate needs
// slowCallDuration) holds when either of them supplies the field. Only the
// name and the Match patterns, which are never inherited, are checked on
// their own.
//
// # Limits
//
// Every duration is at most MaxDuration (about 146 years). Derived
// defaults saturate there (the default maxOpenDuration, 10 × openDuration,
// is at most MaxDuration), so no time computed from a policy (now + the
// open duration, a grown backoff) can overflow into the past.
type Policy struct {
	// Name identifies the policy; required.
	Name string `json:"name"`
	// Extends names a parent policy whose fields this one inherits where its
	// own are not set (zero).
	Extends string `json:"extends,omitempty"`
	// Match lists patterns of the guard names this policy applies to. A
	// pattern is matched against the whole name:
	//
	//	"*"      alone: any name at all (the catch-all)
	//	"*"      within a pattern: any run of characters except "/"
	//	"**"     any run of characters, "/" included
	//	"?"      any one character except "/"
	//	"[a-z]"  one character (not "/") in the class; "[^a-z]" negates it
	//	"\c"     the character c itself ("\*", "\?", "\[", "\\")
	//
	// Other characters match themselves. So "payments.*" matches
	// "payments.charge"; "GET /*" matches "GET /quote" but not
	// "GET /quote/{sku}", which "GET /**" matches; "/pkg.Svc/*" matches
	// every method of a gRPC service. A pattern that is empty, has an
	// unterminated class or escape, or a run of three stars is refused by
	// Validate. MatchName applies the same rule.
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
	// Hedge hedges idempotent calls made through Do (see HedgePolicy); nil
	// means none.
	Hedge *HedgePolicy `json:"hedge,omitempty"`
	// Cache answers failed Do calls with the last good value of their key
	// (see CachePolicy); nil means none.
	Cache *CachePolicy `json:"cache,omitempty"`
	// Throttle rejects calls locally as the dependency refuses them
	// (client-side adaptive throttling); nil means none.
	Throttle *ThrottlePolicy `json:"throttle,omitempty"`

	// ---- dependencies (issue #23; see dependency.go) ----

	// DependsOn names the guards this policy's guards depend on: when one
	// of them is open (open, forced open or half-open), the dependents are
	// opened too, with the cause named ("dependency postgres open"). Each
	// name must be a policy of the document, a name one of its Match
	// patterns matches, or a guard that exists; cycles are refused.
	DependsOn []string `json:"dependsOn,omitempty"`
	// DependencyRecovery says how a guard opened by a dependency recovers:
	// "follow" (default) closes it when no dependency is open any more;
	// "own" opens it for its breaker's open duration, after which it probes
	// the way it does after a trip of its own.
	DependencyRecovery string `json:"dependencyRecovery,omitempty"`
	// Cost prices the guard's calls for cost analysis (see CostPolicy);
	// nil means no cost figures.
	Cost *CostPolicy `json:"cost,omitempty"`

	// Fleet is the guard's adoption rule in fleet mode (see FleetPolicy
	// and package fleet); nil means the defaults (quorum of 2).
	Fleet *FleetPolicy `json:"fleet,omitempty"`

	// Machine gives the guards custom states, beside the breaker's (see
	// MachinePolicy); nil means none.
	Machine *MachinePolicy `json:"machine,omitempty"`
}

// RateLimitPolicy is the plain-data form of ratelimit.Config. Zero means
// not set (see Policy).
type RateLimitPolicy struct {
	// Algorithm is "token_bucket" (default), "gcra" or "sliding_window".
	Algorithm string `json:"algorithm,omitempty"`
	// Limit is the number of calls allowed per Per; required (above 0).
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
// the meaning of each field. Zero means not set (see Policy).
type RetryPolicy struct {
	// MaxAttempts counts every attempt, the first included. Default 3; 1
	// means no retries.
	MaxAttempts int `json:"maxAttempts,omitempty"`
	// InitialDelay is the delay before the first retry. Default 100ms.
	InitialDelay Duration `json:"initialDelay,omitempty"`
	// MaxDelay caps one delay. Default 10s.
	MaxDelay Duration `json:"maxDelay,omitempty"`
	// MaxTotal caps a whole call, attempts and delays. Default none.
	MaxTotal Duration `json:"maxTotal,omitempty"`
	// Multiplier grows the delay after each retry. Default 2; 1 keeps it
	// constant.
	Multiplier float64 `json:"multiplier,omitempty"`
	// Jitter is "full" (default), "decorrelated" or "none".
	Jitter string `json:"jitter,omitempty"`
	// Budget limits retries to a share of calls; nil means no budget.
	Budget *RetryBudgetPolicy `json:"budget,omitempty"`
}

// RetryBudgetPolicy is the plain-data form of retry.BudgetConfig. Zero
// means not set (see Policy); a negative number turns a share off.
type RetryBudgetPolicy struct {
	// Ratio is the share of calls that may be retried. Default 0.2; negative
	// means none (only MinRetriesPerSec).
	Ratio float64 `json:"ratio,omitempty"`
	// MinRetriesPerSec lets a quiet service retry at all. Default 10;
	// negative means none.
	MinRetriesPerSec int `json:"minRetriesPerSec,omitempty"`
	// Window is how long a call or a retry counts. Default 10s.
	Window Duration `json:"window,omitempty"`
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
// the meaning of each field. Rates are percentages. Zero means not set (see
// Policy): the default named on each field applies.
type BreakerPolicy struct {
	// Mode starts the breaker in a manual state: "" or "auto" (default),
	// "disabled", "metrics-only" or "forced-open".
	Mode string `json:"mode,omitempty"`
	// Window is "count" (default) or "time".
	Window string `json:"window,omitempty"`
	// WindowSize is the calls a count window holds. Default 100.
	WindowSize int `json:"windowSize,omitempty"`
	// WindowDuration is the span of a time window. Default 60s.
	WindowDuration Duration `json:"windowDuration,omitempty"`
	// Buckets divide a time window. Default 10.
	Buckets int `json:"buckets,omitempty"`
	// MinCalls is the calls the window needs before the rates apply.
	// Default 20, or windowSize when smaller.
	MinCalls int `json:"minCalls,omitempty"`
	// FailureRate opens the breaker. Default 50; DisableFailureRate turns
	// the rule off.
	FailureRate float64 `json:"failureRate,omitempty"`
	// DisableFailureRate turns the failure-rate rule off.
	DisableFailureRate bool `json:"disableFailureRate,omitempty"`
	// SlowCallDuration is the latency from which a call is slow. Default
	// none (slow calls are not tracked).
	SlowCallDuration Duration `json:"slowCallDuration,omitempty"`
	// SlowCallRate opens the breaker. Default 100 when slowCallDuration is
	// set.
	SlowCallRate float64 `json:"slowCallRate,omitempty"`
	// ConsecutiveFailures opens the breaker after so many failures in a
	// row. Default none (the rule is off).
	ConsecutiveFailures int `json:"consecutiveFailures,omitempty"`
	// OpenDuration is how long the breaker stays open. Default 30s.
	OpenDuration Duration `json:"openDuration,omitempty"`
	// OpenBackoff multiplies the open duration after each failed probe.
	// Default 2; 1 keeps it constant.
	OpenBackoff float64 `json:"openBackoff,omitempty"`
	// MaxOpenDuration caps the grown open duration. Default 10 ×
	// openDuration.
	MaxOpenDuration Duration `json:"maxOpenDuration,omitempty"`
	// OpenJitter randomises each open duration by up to this fraction.
	// Default none.
	OpenJitter float64 `json:"openJitter,omitempty"`
	// HalfOpenProbes is the most probes in flight at once. Default 1 (a
	// half-open breaker always admits at least one probe).
	HalfOpenProbes int `json:"halfOpenProbes,omitempty"`
	// SuccessThreshold is the successful probes that close the breaker.
	// Default 1.
	SuccessThreshold int `json:"successThreshold,omitempty"`
	// ProbeTimeout is how long a probe may run unreported. Default
	// openDuration.
	ProbeTimeout Duration `json:"probeTimeout,omitempty"`
	// RampSteps replace probing with a ramp of traffic percentages. Default
	// none.
	RampSteps []float64 `json:"rampSteps,omitempty"`
	// RampStepDuration is how long a ramp step lasts. Default 10s.
	RampStepDuration Duration `json:"rampStepDuration,omitempty"`
	// RampMinCalls is the calls a ramp step needs before it can reopen the
	// breaker. Default 5.
	RampMinCalls int `json:"rampMinCalls,omitempty"`
	// GraceCalls are let through after a trip. Default none.
	GraceCalls int `json:"graceCalls,omitempty"`
	// GraceDuration lets calls through after a trip. Default none.
	GraceDuration Duration `json:"graceDuration,omitempty"`
	// MeasureLatency passes every call's latency to classifiers and
	// completion hooks.
	MeasureLatency bool `json:"measureLatency,omitempty"`
	// Learned adds a rule that learns the normal failure rate (and
	// latency) and trips on a departure from it. Default none.
	Learned *LearnedPolicy `json:"learned,omitempty"`
}

// BulkheadPolicy is the plain-data form of bulkhead.Config. Zero means not
// set (see Policy).
type BulkheadPolicy struct {
	// MaxConcurrent is the calls allowed to run at once; required (at
	// least 1), unless Adaptive is set, where it is optional and only the
	// limit to start from.
	MaxConcurrent int `json:"maxConcurrent"`
	// MaxQueue is the callers allowed to wait for a slot. Default none: a
	// call that finds no free slot is rejected at once.
	MaxQueue int `json:"maxQueue,omitempty"`
	// MaxWait is the longest a queued caller waits. Default none: until its
	// context ends.
	MaxWait Duration `json:"maxWait,omitempty"`
	// Adaptive makes the limit follow the dependency's capacity; nil means
	// a fixed MaxConcurrent.
	Adaptive *AdaptivePolicy `json:"adaptive,omitempty"`
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
		Learned:             p.Learned.config(),
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
// With Adaptive set, MaxConcurrent is the adaptive limit's initial value.
func (p *BulkheadPolicy) BulkheadConfig() bulkhead.Config {
	n := p.MaxConcurrent
	if p.Adaptive != nil {
		n = p.Adaptive.initialLimit(n)
	}
	return bulkhead.Config{MaxConcurrent: n, MaxQueue: p.MaxQueue, MaxWait: time.Duration(p.MaxWait)}
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

// Validate reports the first problem with p as it stands (the registry
// validates a policy merged with its Extends chain, not on its own): a
// missing name, a bad pattern, a duration over MaxDuration (after
// defaults), or an impossible value, naming the field and the value.
func (p Policy) Validate() error {
	if errs := p.problems(); len(errs) > 0 {
		return &PolicyError{Policy: p.Name, Err: errs[0]}
	}
	return nil
}

// validateOwn checks what a policy must get right on its own, whatever it
// extends: its name and its Match patterns, which are never inherited.
func (p Policy) validateOwn() error {
	if p.Name == "" {
		return &PolicyError{Policy: p.Name, Err: errors.New("name: must not be empty")}
	}
	for i, m := range p.Match {
		if _, err := parsePattern(m); err != nil {
			return &PolicyError{Policy: p.Name, Err: fmt.Errorf("match[%d]: %q is not a valid pattern: %w", i, m, err)}
		}
	}
	return nil
}

// problems returns every problem Validate would report, in field order,
// each error naming its field by path ("breaker.openDuration: ...").
func (p Policy) problems() []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if p.Name == "" {
		add(errors.New("name: must not be empty"))
	}
	for i, m := range p.Match {
		if _, err := parsePattern(m); err != nil {
			add(fmt.Errorf("match[%d]: %q is not a valid pattern: %w", i, m, err))
		}
	}
	if err := p.checkDurations(); err != nil {
		add(err)
		return errs // the sections' checks would report the same durations
	}
	if _, err := p.Breaker.mode(); err != nil {
		add(err)
	}
	if cfg, err := p.Breaker.BreakerConfig(); err != nil {
		add(err)
	} else {
		errs = append(errs, cfg.Problems()...)
	}
	if p.Bulkhead != nil {
		add(p.Bulkhead.validate())
	}
	if p.Throttle != nil {
		add(p.Throttle.validate())
	}
	if p.Cost != nil {
		add(p.Cost.validate())
	}
	if p.Fleet != nil {
		add(p.Fleet.validate())
	}
	if p.Machine != nil {
		errs = append(errs, p.Machine.problems()...)
	}
	if p.RateLimit != nil {
		cfg, err := p.RateLimit.RateLimitConfig()
		if err == nil {
			err = cfg.Validate()
		}
		add(err)
	}
	if p.Retry != nil {
		cfg, err := p.Retry.RetryConfig()
		if err == nil {
			err = cfg.Validate()
		}
		add(err)
		if p.Retry.Budget != nil {
			add(p.Retry.Budget.BudgetConfig().Validate())
		}
	}
	if p.Timeout < 0 {
		add(fmt.Errorf("timeout: %s must not be negative", p.Timeout))
	}
	if p.TotalTimeout < 0 {
		add(fmt.Errorf("totalTimeout: %s must not be negative", p.TotalTimeout))
	}
	if err := p.validateHedgeCache(); err != nil {
		add(err)
	}
	add(p.checkDependencies())
	for i, f := range p.Fallbacks {
		if f.Name == "" {
			add(fmt.Errorf("fallbacks[%d].name: must not be empty", i))
		}
		if _, err := f.kinds(); err != nil {
			add(fmt.Errorf("fallbacks[%d].on: %w", i, err))
		}
	}
	return errs
}

// matches reports whether the policy applies to the guard name.
func (p *Policy) matches(name string) bool {
	for _, m := range p.Match {
		if ok, _ := MatchName(m, name); ok {
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

// MaxDuration is the longest duration a policy may hold, in any field:
// breaker.MaxDuration, 2^62 nanoseconds (about 146 years). The admin API
// refuses to open a breaker for longer, or until a time further away.
const MaxDuration = breaker.MaxDuration

// maxDurationText describes MaxDuration in errors.
var maxDurationText = "the maximum, about 146 years (2^62ns)"

var durationType = reflect.TypeFor[Duration]()

// checkDurations refuses a duration longer than MaxDuration in any field,
// naming the field by its JSON path.
func (p *Policy) checkDurations() error {
	return checkDurationFields(reflect.ValueOf(p).Elem(), "")
}

func checkDurationFields(v reflect.Value, path string) error {
	for _, f := range durationPlan(v.Type()) {
		fv := v.Field(f.index)
		switch f.kind {
		case fieldDuration:
			if d := time.Duration(fv.Int()); d > MaxDuration {
				return fmt.Errorf("%s: %s is longer than %s", joinJSONPath(path, f.name), d, maxDurationText)
			}
		case fieldStruct:
			if !fv.IsNil() {
				if err := checkDurationFields(fv.Elem(), joinJSONPath(path, f.name)); err != nil {
					return err
				}
			}
		case fieldSlice:
			for j := 0; j < fv.Len(); j++ {
				if err := checkDurationFields(fv.Index(j), fmt.Sprintf("%s[%d]", joinJSONPath(path, f.name), j)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// A durationField is a field of a policy type that holds durations: a
// Duration, a pointer to a struct or a slice of structs.
type durationField struct {
	index int
	name  string // its JSON name
	kind  uint8
}

const (
	fieldDuration = iota
	fieldStruct
	fieldSlice
)

var durationPlans sync.Map // reflect.Type -> []durationField

// durationPlan lists the fields of struct type t that checkDurationFields
// visits, worked out once per type.
func durationPlan(t reflect.Type) []durationField {
	if p, ok := durationPlans.Load(t); ok {
		return p.([]durationField)
	}
	var plan []durationField
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, ok := jsonName(f)
		switch {
		case !ok:
		case f.Type == durationType:
			plan = append(plan, durationField{i, name, fieldDuration})
		case f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct:
			plan = append(plan, durationField{i, name, fieldStruct})
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			plan = append(plan, durationField{i, name, fieldSlice})
		}
	}
	durationPlans.Store(t, plan)
	return plan
}

// MatchName reports whether a guard name matches a policy's Match pattern,
// under the rule documented on Policy.Match: "*" alone matches every name;
// in a longer pattern "*" matches within one "/"-separated segment and "**"
// across segments. The only error is a malformed pattern.
func MatchName(pattern, name string) (bool, error) {
	items, err := parsedPattern(pattern)
	if err != nil {
		return false, err
	}
	return matchItems(items, name), nil
}

// Parsed patterns are kept: a registry matches a new guard's name against
// every policy's patterns in order, and parsing each pattern again made
// creating guards quadratic in the number of policies (1,000 policies: 4.5 s
// to create one guard per policy). The cache is bounded: past
// maxCachedPatterns distinct patterns, the others are parsed every time.
var (
	patternCache    sync.Map // pattern string -> []patternItem (never changed once stored)
	patternCacheLen atomic.Int32
)

const maxCachedPatterns = 4096

// parsedPattern is parsePattern, through the cache.
func parsedPattern(pattern string) ([]patternItem, error) {
	if v, ok := patternCache.Load(pattern); ok {
		return v.([]patternItem), nil
	}
	items, err := parsePattern(pattern)
	if err != nil {
		return nil, err
	}
	if patternCacheLen.Load() < maxCachedPatterns {
		if _, loaded := patternCache.LoadOrStore(pattern, items); !loaded {
			patternCacheLen.Add(1)
		}
	}
	return items, nil
}

// A pattern is parsed into items, each matching one character or a run.
type patternItem struct {
	kind   itemKind
	r      rune   // itemRune
	neg    bool   // itemClass: negated
	ranges []rune // itemClass: lo, hi pairs
}

type itemKind uint8

const (
	itemRune  itemKind = iota // the rune r
	itemOne                   // ?: one rune but '/'
	itemClass                 // [...]: one rune but '/', in (or not in) ranges
	itemStar                  // *: a run of runes without '/'
	itemAny                   // **, or a lone *: any run
)

// parsePattern parses a Match pattern, or says what is wrong with it.
func parsePattern(pattern string) ([]patternItem, error) {
	if pattern == "" {
		return nil, errors.New("it is empty; \"*\" matches every name")
	}
	if pattern == "*" {
		return []patternItem{{kind: itemAny}}, nil
	}
	var items []patternItem
	for i := 0; i < len(pattern); {
		switch c := pattern[i]; c {
		case '*':
			n := len(pattern[i:]) - len(strings.TrimLeft(pattern[i:], "*"))
			if n > 2 {
				return nil, fmt.Errorf("%s at byte %d: use * (within a /-separated segment) or ** (across /)", pattern[i:i+n], i)
			}
			items = append(items, patternItem{kind: itemStar + itemKind(n-1)})
			i += n
		case '?':
			items = append(items, patternItem{kind: itemOne})
			i++
		case '[':
			it, n, err := parseClass(pattern[i:])
			if err != nil {
				return nil, fmt.Errorf("character class at byte %d: %w", i, err)
			}
			items = append(items, it)
			i += n
		default:
			r, n, err := patternRune(pattern[i:])
			if err != nil {
				return nil, fmt.Errorf("byte %d: %w", i, err)
			}
			items = append(items, patternItem{kind: itemRune, r: r})
			i += n
		}
	}
	return items, nil
}

// patternRune reads one rune of a pattern, an escaped one included, and
// returns it and the bytes it took.
func patternRune(s string) (rune, int, error) {
	if s[0] != '\\' {
		r, n := utf8.DecodeRuneInString(s)
		return r, n, nil
	}
	if len(s) == 1 {
		return 0, 0, errors.New(`it ends with an unfinished escape \`)
	}
	r, n := utf8.DecodeRuneInString(s[1:])
	return r, n + 1, nil
}

// parseClass parses a class that starts s ("[...]"), returning it and the
// bytes it took.
func parseClass(s string) (patternItem, int, error) {
	it := patternItem{kind: itemClass}
	i := 1
	if i < len(s) && s[i] == '^' {
		it.neg = true
		i++
	}
	for {
		if i >= len(s) {
			return it, 0, errors.New("no closing ]")
		}
		if s[i] == ']' {
			if len(it.ranges) == 0 {
				return it, 0, errors.New("it is empty")
			}
			return it, i + 1, nil
		}
		if s[i] == '-' {
			return it, 0, errors.New(`a "-" must follow a character or be escaped (\-)`)
		}
		lo, n, err := patternRune(s[i:])
		if err != nil {
			return it, 0, err
		}
		i += n
		hi := lo
		if i < len(s) && s[i] == '-' {
			if i+1 >= len(s) || s[i+1] == ']' {
				return it, 0, errors.New(`a range has no end; escape a final "-" (\-)`)
			}
			if hi, n, err = patternRune(s[i+1:]); err != nil {
				return it, 0, err
			}
			if hi < lo {
				return it, 0, fmt.Errorf("range %c-%c is backwards", lo, hi)
			}
			i += 1 + n
		}
		it.ranges = append(it.ranges, lo, hi)
	}
}

// one reports whether a single-rune item matches r.
func (it *patternItem) one(r rune) bool {
	switch it.kind {
	case itemRune:
		return r == it.r
	case itemOne:
		return r != '/'
	case itemClass:
		if r == '/' {
			return false
		}
		in := false
		for k := 0; k < len(it.ranges); k += 2 {
			if it.ranges[k] <= r && r <= it.ranges[k+1] {
				in = true
				break
			}
		}
		return in != it.neg
	}
	return false
}

// matchItems matches a parsed pattern against the whole name. It runs in
// O(len(items) × len(name)) whatever the pattern: m[j] says whether the
// items so far match the first j runes of the name.
func matchItems(items []patternItem, name string) bool {
	rs := []rune(name)
	m := make([]bool, len(rs)+1)
	next := make([]bool, len(rs)+1)
	m[0] = true
	for k := range items {
		it := &items[k]
		switch it.kind {
		case itemStar, itemAny:
			next[0] = m[0]
			for j := 1; j <= len(rs); j++ {
				next[j] = m[j] || next[j-1] && (it.kind == itemAny || rs[j-1] != '/')
			}
		default:
			next[0] = false
			for j := 1; j <= len(rs); j++ {
				next[j] = m[j-1] && it.one(rs[j-1])
			}
		}
		m, next = next, m
	}
	return m[len(rs)]
}

// UnmarshalJSON decodes a policy strictly: a key that no field has (keys
// are case-sensitive), a key given twice, or a value that does not decode is
// refused as a *PolicyError naming the field by its path:
// `core: policy "p": breaker.openDuration: "3x" is not a duration such as
// "30s" or "1m30s"`, `core: policy "p": breaker.openDuraton: unknown key
// "openDuraton" (did you mean "openDuration"?)`.
func (p *Policy) UnmarshalJSON(data []byte) error {
	type plain Policy
	if err := decodeStrict(data, (*plain)(p)); err != nil {
		var named struct{ Name string }
		_ = json.Unmarshal(data, &named) // best effort, to name the policy
		return &PolicyError{Policy: named.Name, Err: err}
	}
	return nil
}

// UnmarshalJSON decodes the section strictly (see Policy.UnmarshalJSON).
func (p *BreakerPolicy) UnmarshalJSON(data []byte) error {
	type plain BreakerPolicy
	return decodeSection(data, (*plain)(p))
}

// UnmarshalJSON decodes the section strictly (see Policy.UnmarshalJSON).
func (p *BulkheadPolicy) UnmarshalJSON(data []byte) error {
	type plain BulkheadPolicy
	return decodeSection(data, (*plain)(p))
}

// UnmarshalJSON decodes the section strictly (see Policy.UnmarshalJSON).
func (p *RateLimitPolicy) UnmarshalJSON(data []byte) error {
	type plain RateLimitPolicy
	return decodeSection(data, (*plain)(p))
}

// UnmarshalJSON decodes the section strictly (see Policy.UnmarshalJSON).
func (p *RetryPolicy) UnmarshalJSON(data []byte) error {
	type plain RetryPolicy
	return decodeSection(data, (*plain)(p))
}

// UnmarshalJSON decodes the section strictly (see Policy.UnmarshalJSON).
func (p *RetryBudgetPolicy) UnmarshalJSON(data []byte) error {
	type plain RetryBudgetPolicy
	return decodeSection(data, (*plain)(p))
}

// decodeSection decodes data into v, a pointer to a policy section's plain
// twin, strictly, naming the field of a value that does not decode.
func decodeSection(data []byte, v any) error {
	if err := decodeStrict(data, v); err != nil {
		return fmt.Errorf("core: %w", err)
	}
	return nil
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

// jsonWant describes the JSON a type decodes from.
func jsonWant(t reflect.Type) string {
	switch {
	case t == durationType:
		return `a duration string such as "30s"`
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		return "a string"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return "an integer"
}

// jsonGot describes a JSON token.
func jsonGot(tok json.Token) string {
	switch v := tok.(type) {
	case string:
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		return "the string " + strconv.Quote(v)
	case json.Number:
		return "the number " + string(v)
	case bool:
		return strconv.FormatBool(v)
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	}
	return "null"
}

// jsonName returns a struct field's JSON name, and false for a field JSON
// leaves out.
func jsonName(f reflect.StructField) (string, bool) {
	tag := f.Tag.Get("json")
	if tag == "-" || !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, true
}

// jsonField finds the field a JSON key decodes into, as encoding/json does:
// an exact match first, else one that differs only in case.
func jsonField(t reflect.Type, key string) (reflect.StructField, bool) {
	var fold reflect.StructField
	found := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, ok := jsonName(f)
		switch {
		case !ok:
		case name == key:
			return f, true
		case !found && strings.EqualFold(name, key):
			fold, found = f, true
		}
	}
	return fold, found
}

func joinJSONPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
