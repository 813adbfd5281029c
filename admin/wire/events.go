package wire

import (
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// This file holds the JSON types of the event stream (GET /v1/events),
// sent as server-sent events named hello, rates, state, guards and rollup.

// GuardInfo is what does not change during a guard's life: its policy,
// tags and limits. The event stream sends it once per guard (in
// HelloEvent, or in a GuardsEvent when the guard appears).
type GuardInfo struct {
	Name       string     `json:"name"`
	Policy     string     `json:"policy"`
	Tags       []string   `json:"tags"`
	Critical   bool       `json:"critical,omitempty"`
	Thresholds Thresholds `json:"thresholds"`
	// Bulkhead is absent when the guard has no bulkhead.
	Bulkhead *BulkheadLimits `json:"bulkhead,omitempty"`
	// RateLimit is absent when the guard has no rate limit.
	RateLimit *RateLimitInfo `json:"rateLimit,omitempty"`
}

// Thresholds are the trip rules of a guard's breaker, for comparison with
// the live rates. A zero rule is off.
type Thresholds struct {
	// FailureRate and SlowCallRate are percentages of the window's calls.
	FailureRate  float64 `json:"failureRate,omitempty"`
	SlowCallRate float64 `json:"slowCallRate,omitempty"`
	// SlowCall is the latency from which a call counts as slow.
	SlowCall core.Duration `json:"slowCall,omitempty"`
	// MinCalls is how many calls the window needs before the rates apply.
	MinCalls            int `json:"minCalls"`
	ConsecutiveFailures int `json:"consecutiveFailures,omitempty"`
	// WindowSize (a count window) or WindowDuration (a time window) is the
	// span of the breaker's statistics.
	WindowSize     int           `json:"windowSize,omitempty"`
	WindowDuration core.Duration `json:"windowDuration,omitempty"`
}

// BulkheadLimits are a bulkhead's configured limits.
type BulkheadLimits struct {
	MaxConcurrent int `json:"maxConcurrent"`
	MaxQueue      int `json:"maxQueue,omitempty"`
	// Adaptive names the algorithm of an adaptive limit ("gradient2",
	// "vegas", "aimd"); GuardLive.Limit then carries the current limit.
	Adaptive string `json:"adaptive,omitempty"`
}

// RateLimitInfo is a rate limit's configuration: Limit calls per Per, with
// a burst of Burst.
type RateLimitInfo struct {
	Algorithm string        `json:"algorithm"`
	Limit     float64       `json:"limit"`
	Per       core.Duration `json:"per"`
	Burst     int           `json:"burst,omitempty"`
}

// GuardLive is a guard's live figures. Rates (per second) are measured
// over the last push interval; the window figures are the breaker's.
// Zero values are left out of the JSON.
type GuardLive struct {
	Name  string        `json:"name"`
	State breaker.State `json:"state"`
	// Manual is set when an operator (or the guard's policy) put the
	// guard in its state; ManualBy names who: "policy" for a mode the
	// policy sets, else the operator's token name.
	Manual   bool   `json:"manual,omitempty"`
	ManualBy string `json:"manualBy,omitempty"`
	// Since is when the current state began; only HelloEvent gives it
	// (after that, StateEvent's transitions tell it).
	Since time.Time `json:"since,omitzero"`
	// OpenUntil is when an open breaker half-opens.
	OpenUntil *time.Time `json:"openUntil,omitempty"`

	// Calls is admitted calls per second; Failed and Slow split them.
	Calls  float64 `json:"calls,omitempty"`
	Failed float64 `json:"failed,omitempty"`
	Slow   float64 `json:"slow,omitempty"`
	// Rejections per second, by reason: breaker open (or forced open,
	// or ramping), half-open with every probe slot taken, bulkhead full,
	// rate limited.
	RejectedOpen     float64 `json:"rejectedOpen,omitempty"`
	RejectedHalfOpen float64 `json:"rejectedHalfOpen,omitempty"`
	RejectedFull     float64 `json:"rejectedFull,omitempty"`
	RejectedLimited  float64 `json:"rejectedLimited,omitempty"`

	// FailureRate and SlowCallRate are percentages of WindowCalls, the
	// calls in the breaker's window.
	FailureRate         float64 `json:"failureRate,omitempty"`
	SlowCallRate        float64 `json:"slowCallRate,omitempty"`
	WindowCalls         int     `json:"windowCalls,omitempty"`
	ConsecutiveFailures int     `json:"consecutiveFailures,omitempty"`

	// InUse and Queued are the bulkhead's occupancy.
	InUse  int `json:"inUse,omitempty"`
	Queued int `json:"queued,omitempty"`
	// Limit is an adaptive bulkhead's current limit; absent for a fixed
	// one (see BulkheadLimits).
	Limit int `json:"limit,omitempty"`
	// Available is the rate limit's headroom: how many calls it would
	// admit at once now (negative while waiters are in debt). Absent
	// without a rate limit.
	Available *float64 `json:"available,omitempty"`
	// RejectedTrace is the trace id of a call the guard rejected since the
	// previous rates event (admin.WithTraceLinks); at most one per interval.
	RejectedTrace string `json:"rejectedTrace,omitempty"`
}

// HelloEvent opens the event stream: the server's settings and every
// guard, described and measured. Every connection starts with one, so a
// client that reconnects needs nothing else to catch up.
type HelloEvent struct {
	// Now is the server's clock, for countdowns.
	Now          time.Time     `json:"now"`
	PushInterval core.Duration `json:"pushInterval"`
	Rollup       core.Duration `json:"rollup"`
	// TraceURL is admin.WithTraceLinks's URL template, "{traceId}" standing
	// for a trace id; absent without one.
	TraceURL string `json:"traceUrl,omitempty"`
	// Guards and Live list every guard, sorted by name.
	Guards []GuardInfo `json:"guards"`
	Live   []GuardLive `json:"live"`
}

// RatesEvent is sent every push interval with every guard's live figures.
type RatesEvent struct {
	Now    time.Time   `json:"now"`
	Guards []GuardLive `json:"guards"`
}

// StateEvent is sent as soon as a guard's breaker changes state.
type StateEvent struct {
	Guard      string     `json:"guard"`
	Transition Transition `json:"transition"`
	// State, Manual and OpenUntil are the guard's state when the event
	// was sent (a later transition may have followed this one).
	State     breaker.State `json:"state"`
	Manual    bool          `json:"manual,omitempty"`
	ManualBy  string        `json:"manualBy,omitempty"`
	OpenUntil *time.Time    `json:"openUntil,omitempty"`
}

// GuardsEvent is sent when guards appear (first use) or disappear (prune).
// A guard created afresh under a known name is in Added again.
type GuardsEvent struct {
	Added   []GuardInfo `json:"added,omitempty"`
	Removed []string    `json:"removed,omitempty"`
}

// RollupEvent is sent when a rollup of the recent history (of
// admin.ShortRollup) is complete, with the guards that had something in it
// (the others had zeros).
type RollupEvent struct {
	Start  time.Time     `json:"start"`
	Step   core.Duration `json:"step"`
	Guards []RollupPoint `json:"guards"`
}

// RollupPoint is one guard's counts in one rollup.
type RollupPoint struct {
	Name     string `json:"name"`
	Calls    uint32 `json:"calls,omitempty"`
	Failed   uint32 `json:"failed,omitempty"`
	Slow     uint32 `json:"slow,omitempty"`
	Rejected uint32 `json:"rejected,omitempty"`
}
