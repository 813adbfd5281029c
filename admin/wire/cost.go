package wire

import (
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// CostReport is the answer to GET /v1/cost: what the calls of the guards
// whose policy has a cost (core.CostPolicy) cost, and what their breakers
// and rate limits avoided. Amounts are integer micro-units (millionths) of
// each guard's currency; totals are per currency.
type CostReport struct {
	// Cumulative reports figures since each guard was created, computed
	// from its counters (exact, retries priced at perRetry). Otherwise the
	// report covers From to To, from the server's rollup history (see
	// Note).
	Cumulative bool `json:"cumulative"`
	// From and To bound the period of a report that is not cumulative:
	// the rollups that overlap the period asked for, up to the last
	// complete one.
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Step is the rollup span used (10s up to an hour back, 1m up to a
	// day).
	Step core.Duration `json:"step,omitempty"`
	// Note says what the figures mean.
	Note   string      `json:"note"`
	Totals []CostTotal `json:"totals"`
	Guards []GuardCost `json:"guards"`
}

// CostTotal sums the guards of one currency.
type CostTotal struct {
	Currency                 string `json:"currency"`
	SpentMicros              int64  `json:"spentMicros"`
	RetrySpentMicros         int64  `json:"retrySpentMicros"`
	AvoidedByBreakerMicros   int64  `json:"avoidedByBreakerMicros"`
	AvoidedByRateLimitMicros int64  `json:"avoidedByRateLimitMicros"`
}

// GuardCost is one guard's line of a CostReport.
type GuardCost struct {
	Name     string `json:"name"`
	Policy   string `json:"policy"`
	Currency string `json:"currency"`
	// PerCallMicros and PerRetryMicros are the policy's prices.
	PerCallMicros  int64 `json:"perCallMicros"`
	PerRetryMicros int64 `json:"perRetryMicros"`
	// Calls and Retries are what was priced: Spent is Calls at perCall,
	// RetrySpent is Retries at perRetry.
	Calls            uint64 `json:"calls"`
	Retries          uint64 `json:"retries"`
	SpentMicros      int64  `json:"spentMicros"`
	RetrySpentMicros int64  `json:"retrySpentMicros"`
	// AvoidedBy... price at perCall the calls the breaker (open or
	// half-open) and the rate limit rejected.
	AvoidedByBreakerMicros   int64 `json:"avoidedByBreakerMicros"`
	AvoidedByRateLimitMicros int64 `json:"avoidedByRateLimitMicros"`
}
