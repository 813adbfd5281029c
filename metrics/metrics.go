package metrics

import (
	"strconv"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Kind is the sort of instrument a metric is.
type Kind uint8

const (
	// Counter is a cumulative count that only grows, from the guard's
	// creation (a pruned guard created again starts from zero, which back
	// ends read as a reset). OTel: an observable counter. Prometheus: a
	// counter, its name ending in _total. Datadog: a count of the increase
	// since the previous push.
	Counter Kind = iota
	// Gauge is a value now that is not meant to be summed across guards: a
	// state flag, a rate, a timestamp. OTel: an observable gauge.
	// Prometheus and Datadog: a gauge.
	Gauge
	// UpDownCounter is a value now that sums meaningfully across guards:
	// calls in a bulkhead, configured limits. OTel: an observable up-down
	// counter. Prometheus and Datadog: a gauge.
	UpDownCounter
	// Histogram is a distribution of per-call values, recorded by a hook on
	// each call rather than read from a snapshot; only [CallDuration] has
	// this kind, and the [Table] holds none.
	Histogram
)

var kindNames = [...]string{"counter", "gauge", "updowncounter", "histogram"}

// String returns the kind's name: "counter", "gauge", "updowncounter" or
// "histogram".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Primitive is a set of the primitives a guard may have besides its
// circuit breaker, which every guard has.
type Primitive uint16

const (
	// Bulkhead is a concurrency limit (core.Policy.Bulkhead).
	Bulkhead Primitive = 1 << iota
	// RateLimit is a rate limit (core.Policy.RateLimit).
	RateLimit
	// Retry is a retry policy (core.Policy.Retry).
	Retry
	// Fallback is a fallback chain (core.Policy.Fallbacks).
	Fallback
	// Hedge is hedging of idempotent calls (core.Policy.Hedge).
	Hedge
	// Cache is a cached fallback (core.Policy.Cache).
	Cache
	// AdaptiveLimit is an adaptive bulkhead limit
	// (core.BulkheadPolicy.Adaptive).
	AdaptiveLimit
	// Cost is a price on the guard's calls (core.Policy.Cost).
	Cost
	// Machine is a custom state machine (core.Policy.Machine).
	Machine
)

// Has reports whether p holds every primitive of q; it is true for q == 0.
func (p Primitive) Has(q Primitive) bool { return p&q == q }

// PrimitivesOf returns the primitives of the guard s was taken from: its
// bulkhead, rate limit, hedging and cache from s, its retries and fallbacks from its policy,
// which it looks up in reg (one lock-free map read; no retry and no
// fallback when reg is nil or no longer holds the guard).
func PrimitivesOf(reg *core.Registry, s *core.GuardSnapshot) Primitive {
	var p Primitive
	if s.Bulkhead != nil {
		p |= Bulkhead
	}
	if s.RateLimit != nil {
		p |= RateLimit
	}
	if s.Hedge != nil {
		p |= Hedge
	}
	if s.Cache != nil {
		p |= Cache
	}
	if s.Adaptive != nil {
		p |= AdaptiveLimit
	}
	if s.Cost != nil {
		p |= Cost
	}
	if s.Machine != nil {
		p |= Machine
	}
	if reg != nil {
		if g, ok := reg.Lookup(s.Name); ok {
			pol := g.Policy()
			if pol.Retry != nil {
				p |= Retry
			}
			if len(pol.Fallbacks) > 0 {
				p |= Fallback
			}
		}
	}
	return p
}

// Attribute is a dimension of a metric: one key per back end.
type Attribute struct {
	// Key is the OTel attribute key, dotted: "breakerbox.outcome".
	Key string
	// Label is the Prometheus label name and the Datadog tag key:
	// "outcome". It is empty for an attribute that those back ends render
	// as separate metrics instead (see Metric.Split).
	Label string
}

// The attributes of the table. Every series carries GuardName and
// PolicyName; a metric carries at most one more.
var (
	// GuardName is the guard's name ("payments.charge",
	// "GET /users/{id}").
	GuardName = Attribute{Key: "breakerbox.guard.name", Label: "guard"}
	// PolicyName is the name of the policy the guard was built from.
	PolicyName = Attribute{Key: "breakerbox.policy.name", Label: "policy"}
	// Outcome is what became of a call; each metric lists its values.
	Outcome = Attribute{Key: "breakerbox.outcome", Label: "outcome"}
	// State is a circuit breaker's state, as breaker.State.String spells
	// it.
	State = Attribute{Key: "breakerbox.circuit_breaker.state", Label: "state"}
	// Reason is why a guard rejected a call.
	Reason = Attribute{Key: "breakerbox.rejection.reason", Label: "reason"}
	// BulkheadState splits a bulkhead's calls and limits into running
	// (in_use) and waiting (queued). Prometheus and Datadog render it as
	// separate metrics.
	BulkheadState = Attribute{Key: "breakerbox.bulkhead.state"}
)

// Part is one of the separate metrics a split metric becomes in Prometheus
// and Datadog (see Metric.Split).
type Part struct {
	// Name is the part's dotted name, rendered as the concept names are.
	Name string
	// Description describes the part alone.
	Description string
}

// Metric describes one metric: what it means, in which unit, of what kind,
// split by which attribute, and how to read it from a guard's snapshot.
// Exporters render it in their own conventions; see the package
// documentation.
type Metric struct {
	// Name is the concept's name, dotted, breakerbox.<primitive>.<what>. It
	// is the OTel instrument name and the Datadog metric name; Prometheus
	// replaces the dots with underscores and adds its suffixes.
	Name string
	// Unit is the UCUM unit, as OTel spells it: "s", "1" (a ratio or a 0/1
	// flag), or a count of things in braces ("{call}").
	Unit string
	// Kind is the sort of instrument.
	Kind Kind
	// Integer reports that the values are whole numbers: OTel records them
	// as int64.
	Integer bool
	// Description says what the metric counts or measures. Prometheus
	// uses it as HELP.
	Description string
	// Attribute splits the metric into one series per entry of Values; the
	// zero Attribute means one series per guard.
	Attribute Attribute
	// Values are the values of Attribute, in the order Read fills them.
	Values []string
	// Split, when not nil, holds one Part per entry of Values: Prometheus
	// and Datadog render one metric per part rather than the attribute.
	Split []Part
	// Requires is the primitive a guard must have for the metric to have
	// series; 0 means every guard. Exporters check it with PrimitivesOf
	// before they call Read.
	Requires Primitive
	// Read fills v, of length Len, with the metric's values in the order of
	// Values, and returns true; it returns false when s holds no value for
	// it (s has no bulkhead for a bulkhead metric, or no state-change
	// time). Counts are exact up to 2^53. Read does not allocate.
	Read func(s *core.GuardSnapshot, v []float64) bool
}

// Len returns the number of values of each guard: len(Values), or 1.
func (m *Metric) Len() int { return max(1, len(m.Values)) }

// states are the breaker states in the order of their values, which is the
// order of the status metric's values.
var states = func() []string {
	var out []string
	for st := breaker.Closed; st <= breaker.MetricsOnly; st++ {
		out = append(out, st.String())
	}
	return out
}()

// table is the one description of every metric read from snapshots.
var table = [...]Metric{
	{
		Name: "breakerbox.guard.rejections", Unit: "{call}", Kind: Counter, Integer: true,
		Description: "Calls the guard rejected, by reason: circuit_open (breaker open, forced open or ramping), circuit_half_open (half-open with every probe slot taken), bulkhead_full (no slot, and no room or no time left in the queue) or rate_limited.",
		Attribute:   Reason, Values: []string{"circuit_open", "circuit_half_open", "bulkhead_full", "rate_limited"},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			r := &s.Rejected
			v[0], v[1], v[2], v[3] = float64(r.Open), float64(r.HalfOpen), float64(r.Full), float64(r.Limited)
			return true
		},
	},
	{
		Name: "breakerbox.circuit_breaker.calls", Unit: "{call}", Kind: Counter, Integer: true,
		Description: "Calls seen by the guard's circuit breaker, by outcome: success, failure or ignored (admitted, then classified) or rejected (refused by the breaker: open or half-open).",
		Attribute:   Outcome, Values: []string{"success", "failure", "ignored", "rejected"},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			b := &s.Breaker
			v[0], v[1], v[2] = float64(b.Succeeded), float64(b.Failed), float64(b.Ignored)
			v[3] = float64(s.Rejected.Open + s.Rejected.HalfOpen)
			return true
		},
	},
	{
		Name: "breakerbox.circuit_breaker.status", Unit: "1", Kind: Gauge, Integer: true,
		Description: "1 for the state the guard's circuit breaker is in, 0 for the others.",
		Attribute:   State, Values: states,
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			clear(v)
			if int(s.Breaker.State) < len(v) {
				v[s.Breaker.State] = 1
			}
			return true
		},
	},
	{
		Name: "breakerbox.circuit_breaker.transitions", Unit: "{transition}", Kind: Counter, Integer: true,
		Description: "State changes of the guard's circuit breaker.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			v[0] = float64(s.Breaker.Transitions)
			return true
		},
	},
	{
		Name: "breakerbox.circuit_breaker.state_change_timestamp", Unit: "s", Kind: Gauge,
		Description: "Unix time at which the guard's circuit breaker entered its current state: now minus it is how long the breaker has been in it.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			v[0] = float64(s.Breaker.Since.UnixNano()) / 1e9
			return !s.Breaker.Since.IsZero()
		},
	},
	{
		Name: "breakerbox.circuit_breaker.failure_rate", Unit: "1", Kind: Gauge,
		Description: "Share of failed calls in the circuit breaker's current window, as a ratio from 0 to 1.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			v[0] = s.Breaker.FailureRate / 100
			return true
		},
	},
	{
		Name: "breakerbox.circuit_breaker.slow_call_rate", Unit: "1", Kind: Gauge,
		Description: "Share of slow calls in the circuit breaker's current window, as a ratio from 0 to 1.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			v[0] = s.Breaker.SlowCallRate / 100
			return true
		},
	},
	{
		Name: "breakerbox.circuit_breaker.window_calls", Unit: "{call}", Kind: Gauge, Integer: true,
		Description: "Calls in the circuit breaker's current window.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			v[0] = float64(s.Breaker.WindowCalls)
			return true
		},
	},
	{
		Name: "breakerbox.circuit_breaker.consecutive_failures", Unit: "{call}", Kind: Gauge, Integer: true,
		Description: "Current run of consecutive failures seen by the circuit breaker.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			v[0] = float64(s.Breaker.ConsecutiveFailures)
			return true
		},
	},
	{
		Name: "breakerbox.circuit_breaker.slow_calls", Unit: "{call}", Kind: Counter, Integer: true,
		Description: "Calls at or above the circuit breaker's slow-call threshold.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			v[0] = float64(s.Breaker.Slow)
			return true
		},
	},
	{
		Name: "breakerbox.circuit_breaker.shadow_trips", Unit: "{trip}", Kind: Counter, Integer: true,
		Description: "Trips a metrics-only circuit breaker would have made.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			v[0] = float64(s.Breaker.ShadowTrips)
			return true
		},
	},
	{
		Name: "breakerbox.bulkhead.calls", Unit: "{call}", Kind: Counter, Integer: true, Requires: Bulkhead,
		Description: "Calls the guard's bulkhead did not admit at once, by outcome: rejected (no slot, and the queue full or absent), timed_out (queued for the maximum wait), canceled (the caller's context ended while queued) or waited (queued, then admitted). Calls admitted at once are counted by the circuit breaker only.",
		Attribute:   Outcome, Values: []string{"rejected", "timed_out", "canceled", "waited"},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			b := s.Bulkhead
			if b == nil {
				return false
			}
			v[0], v[1], v[2], v[3] = float64(b.Rejected), float64(b.TimedOut), float64(b.Canceled), float64(b.Waited)
			return true
		},
	},
	{
		Name: "breakerbox.bulkhead.usage", Unit: "{call}", Kind: UpDownCounter, Integer: true, Requires: Bulkhead,
		Description: "Calls holding a bulkhead slot (in_use) or waiting for one (queued).",
		Attribute:   BulkheadState, Values: []string{"in_use", "queued"},
		Split: []Part{
			{Name: "breakerbox.bulkhead.usage", Description: "Bulkhead slots held by running calls."},
			{Name: "breakerbox.bulkhead.queue.length", Description: "Callers waiting for a bulkhead slot."},
		},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			b := s.Bulkhead
			if b == nil {
				return false
			}
			v[0], v[1] = float64(b.InUse), float64(b.Queued)
			return true
		},
	},
	{
		Name: "breakerbox.bulkhead.limit", Unit: "{call}", Kind: UpDownCounter, Integer: true, Requires: Bulkhead,
		Description: "A bulkhead's limits: concurrent calls (in_use) and queue length (queued).",
		Attribute:   BulkheadState, Values: []string{"in_use", "queued"},
		Split: []Part{
			{Name: "breakerbox.bulkhead.limit", Description: "Configured number of bulkhead slots."},
			{Name: "breakerbox.bulkhead.queue.limit", Description: "Configured size of the bulkhead's wait queue."},
		},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			b := s.Bulkhead
			if b == nil {
				return false
			}
			v[0], v[1] = float64(b.MaxConcurrent), float64(b.MaxQueue)
			return true
		},
	},
	{
		Name: "breakerbox.bulkhead.queue.wait_time", Unit: "s", Kind: Counter, Requires: Bulkhead,
		Description: "Total time calls spent queued in the bulkhead before they got a slot; divided by the number of those calls (the bulkhead's calls with outcome waited), the mean wait.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			if s.Bulkhead == nil {
				return false
			}
			v[0] = s.Bulkhead.WaitTime.Seconds()
			return true
		},
	},
	{
		Name: "breakerbox.rate_limiter.calls", Unit: "{call}", Kind: Counter, Integer: true, Requires: RateLimit,
		Description: "Calls seen by the guard's rate limiter, by outcome: permitted or rejected.",
		Attribute:   Outcome, Values: []string{"permitted", "rejected"},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			r := s.RateLimit
			if r == nil {
				return false
			}
			v[0], v[1] = float64(r.Allowed), float64(r.Rejected)
			return true
		},
	},
	{
		Name: "breakerbox.rate_limiter.available", Unit: "{call}", Kind: Gauge, Requires: RateLimit,
		Description: "Calls the rate limiter could admit at once now (negative while Wait reservations are outstanding).",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			if s.RateLimit == nil {
				return false
			}
			v[0] = s.RateLimit.Available
			return true
		},
	},
	{
		Name: "breakerbox.rate_limiter.limit", Unit: "{call}/s", Kind: UpDownCounter, Requires: RateLimit,
		Description: "Configured rate limit, in calls per second.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			if s.RateLimit == nil {
				return false
			}
			// The snapshot's Config has its defaults filled in: Per > 0.
			c := &s.RateLimit.Config
			v[0] = c.Limit / c.Per.Seconds()
			return true
		},
	},
	{
		Name: "breakerbox.retry.retries", Unit: "{retry}", Kind: Counter, Integer: true, Requires: Retry,
		Description: "Retry attempts the guard made (first attempts excluded).",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			v[0] = float64(s.Retries)
			return true
		},
	},
	{
		Name: "breakerbox.retry.attempts", Unit: "{attempt}", Kind: Counter, Integer: true, Requires: Retry,
		Description: "Attempts made through a retrying guard, first attempts and retries, as counted at its gates (admitted or rejected).",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			v[0] = float64(s.Breaker.Admitted + s.Rejected.Total())
			return true
		},
	},
	{
		Name: "breakerbox.retry.calls", Unit: "{call}", Kind: Counter, Integer: true, Requires: Retry,
		Description: "Calls by how their retries ended; the one outcome counted is budget_exhausted: calls that stopped retrying because the retry budget was spent.",
		Attribute:   Outcome, Values: []string{"budget_exhausted"},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			v[0] = float64(s.RetryBudgetExhausted)
			return true
		},
	},
	{
		Name: "breakerbox.fallback.calls", Unit: "{call}", Kind: Counter, Integer: true, Requires: Fallback,
		Description: "Failed calls handed to the guard's fallbacks, by outcome: served (a fallback answered) or failed (every fallback failed too).",
		Attribute:   Outcome, Values: []string{"served", "failed"},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			v[0], v[1] = float64(s.FallbackServed), float64(s.FallbackFailed)
			return true
		},
	},
	{
		Name: "breakerbox.hedge.hedges", Unit: "{hedge}", Kind: Counter, Integer: true, Requires: Hedge,
		Description: "Hedges of idempotent calls, by outcome: won (started, and its answer was the call's), lost (started, and another attempt answered or all failed), budget_exhausted (not started: the retry budget was spent) or breaker_not_closed (not started: the breaker was open or half-open).",
		Attribute:   Outcome, Values: []string{"won", "lost", "budget_exhausted", "breaker_not_closed"},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			h := s.Hedge
			if h == nil {
				return false
			}
			v[0], v[1], v[2], v[3] = float64(h.Won), float64(h.Started-h.Won), float64(h.BudgetStopped), float64(h.GateStopped)
			return true
		},
	},
	{
		Name: "breakerbox.hedge.cancelled", Unit: "{attempt}", Kind: Counter, Integer: true, Requires: Hedge,
		Description: "Attempts of hedged calls cancelled because another attempt answered first: losing hedges and losing first attempts.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			if s.Hedge == nil {
				return false
			}
			v[0] = float64(s.Hedge.Cancelled)
			return true
		},
	},
	{
		Name: "breakerbox.cache.calls", Unit: "{call}", Kind: Counter, Integer: true, Requires: Cache,
		Description: "Calls through the guard's cache, by outcome: hit (a fresh value answered without a call), shared (a concurrent call of the same key answered) or filled (the call ran).",
		Attribute:   Outcome, Values: []string{"hit", "shared", "filled"},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			c := s.Cache
			if c == nil {
				return false
			}
			v[0], v[1], v[2] = float64(c.Hits), float64(c.Shared), float64(c.Fills)
			return true
		},
	},
	{
		Name: "breakerbox.cache.stale", Unit: "{call}", Kind: Counter, Integer: true, Requires: Cache,
		Description: "Failed calls handed to the guard's cache, by outcome: served (a value no older than the max staleness answered, marked stale) or missing (none could).",
		Attribute:   Outcome, Values: []string{"served", "missing"},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			c := s.Cache
			if c == nil {
				return false
			}
			v[0], v[1] = float64(c.StaleServed), float64(c.StaleMissing)
			return true
		},
	},
	{
		Name: "breakerbox.cache.evictions", Unit: "{entry}", Kind: Counter, Integer: true, Requires: Cache,
		Description: "Entries the guard's cache dropped to stay within its maximum entries or bytes.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			if s.Cache == nil {
				return false
			}
			v[0] = float64(s.Cache.Evictions)
			return true
		},
	},
	{
		Name: "breakerbox.cache.entries", Unit: "{entry}", Kind: UpDownCounter, Integer: true, Requires: Cache,
		Description: "Entries in the guard's cache.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			if s.Cache == nil {
				return false
			}
			v[0] = float64(s.Cache.Entries)
			return true
		},
	},
	{
		Name: "breakerbox.cache.bytes", Unit: "By", Kind: UpDownCounter, Integer: true, Requires: Cache,
		Description: "Bytes the entries of the guard's cache count (keys, values and a fixed overhead per entry).",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			if s.Cache == nil {
				return false
			}
			v[0] = float64(s.Cache.Bytes)
			return true
		},
	},
	{
		Name: "breakerbox.bulkhead.adaptive.limit", Unit: "{call}", Kind: UpDownCounter, Integer: true, Requires: AdaptiveLimit,
		Description: "The adaptive bulkhead's current concurrency limit, as its algorithm last computed it (breakerbox.bulkhead.limit follows it).",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			if s.Adaptive == nil {
				return false
			}
			v[0] = float64(s.Adaptive.Limit)
			return true
		},
	},
	// ---- overhead self-profiling (issue 23) ----
	{
		Name: "breakerbox.guard.overhead", Unit: "s", Kind: Gauge,
		Description: "The time the guard itself adds to a call, measured on about one call in 1024: the mean of its gates (Allow, a bulkhead queue wait included) and of its report (Done, completion hooks included).",
		Attribute:   Outcome, Values: []string{"gates", "report"},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			o := s.Overhead
			if o == nil {
				return false
			}
			v[0], v[1] = o.Gates.Seconds(), o.Done.Seconds()
			return true
		},
	},
	// ---- maintenance windows and dependencies (issue 23) ----
	{
		Name: "breakerbox.maintenance.active", Unit: "1", Kind: Gauge, Integer: true,
		Description: "1 while a maintenance window holds the guard (forced open or metrics-only by the maintenance scheduler, its last transition's actor being \"maintenance\"), 0 otherwise. GET /v1/maintenance lists the windows.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			b := &s.Breaker
			v[0] = flag(b.Manual && b.LastTransition.Actor == core.MaintenanceActor && (b.State == breaker.ForcedOpen || b.State == breaker.MetricsOnly))
			return true
		},
	},
	{
		Name: "breakerbox.dependency.open", Unit: "1", Kind: Gauge, Integer: true,
		Description: "1 while the guard is held open because a guard it depends on is open (a policy's dependsOn; its last transition's actor being \"dependency\"), 0 otherwise. The cause is not an attribute, so that each guard keeps one series: GET /v1/dependencies names it.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			b := &s.Breaker
			v[0] = flag(b.Manual && b.LastTransition.Actor == core.DependencyActor && (b.State == breaker.Open || b.State == breaker.ForcedOpen))
			return true
		},
	},
	// ---- cost analysis (issue 23) ----
	{
		Name: "breakerbox.cost.amount", Unit: "{currency}", Kind: Counter, Requires: Cost,
		Description: "What the guard's calls cost, in units of its policy's cost.currency, by outcome: spent (calls at cost.perCall), retries (retry attempts at cost.perRetry), avoided_breaker and avoided_rate_limit (calls the breaker or the rate limit rejected, at cost.perCall). The snapshot holds the exact sums, in micro-units.",
		Attribute:   Outcome, Values: []string{"spent", "retries", "avoided_breaker", "avoided_rate_limit"},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			c := s.Cost
			if c == nil {
				return false
			}
			v[0], v[1], v[2], v[3] = float64(c.Spent)/1e6, float64(c.RetrySpent)/1e6, float64(c.AvoidedByBreaker)/1e6, float64(c.AvoidedByRateLimit)/1e6
			return true
		},
	},
	// ---- custom states (issue 23) ----
	{
		Name: "breakerbox.machine.state", Unit: "1", Kind: Gauge, Requires: Machine, Integer: true,
		Description: "The guard's current custom state, as its index in the states of its policy's machine section (0 is the first); GET /v1/machines names them.",
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			m := s.Machine
			if m == nil {
				return false
			}
			v[0] = -1
			for i, name := range m.States {
				if name == m.State {
					v[0] = float64(i)
				}
			}
			return true
		},
	},
	{
		Name: "breakerbox.machine.calls", Unit: "{call}", Kind: Counter, Requires: Machine, Integer: true,
		Description: "Calls the guard's custom state admitted or rejected (a rejected call matches core.ErrMachineState).",
		Attribute:   Outcome, Values: []string{"admitted", "rejected"},
		Read: func(s *core.GuardSnapshot, v []float64) bool {
			m := s.Machine
			if m == nil {
				return false
			}
			v[0], v[1] = float64(m.Admitted), float64(m.Rejected)
			return true
		},
	},
}

// flag is 1 for true, 0 for false.
func flag(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Table returns the description of every metric read from a guard's
// snapshot, in a fixed order. The slice is a fresh copy; the Values and
// Split slices of its Metrics are shared and must not be modified.
func Table() []Metric {
	out := make([]Metric, len(table))
	copy(out, table[:])
	return out
}

// CallDuration returns the description of the per-call duration
// histogram: recorded by a completion hook for each admitted call, not read
// from snapshots, and opt-in in the exporters that have it (OTel, Datadog).
// Its outcome values are those of an admitted call; exporters may add
// error.type.
func CallDuration() Metric {
	return Metric{
		Name: "breakerbox.call.duration", Unit: "s", Kind: Histogram,
		Description: "Duration of calls admitted by a guard, from admission to report.",
		Attribute:   Outcome, Values: []string{"success", "failure", "ignored"},
	}
}
