package core

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
)

// CostPolicy puts a price on the calls a guard makes, for cost analysis:
//
//	cost: {perCall: 0.002, perRetry: 0.002, currency: "USD"}
//
// Prices are decimal amounts of the currency with at most six decimals;
// they are kept, and every sum is made, in integer micro-units (millionths
// of the currency), so that totals are exact. Nothing is counted on the
// call path: a guard's spend is computed from its cumulative counters when
// its snapshot is taken (see CostSnapshot).
type CostPolicy struct {
	// PerCall is the price of one call that reached the dependency.
	PerCall float64 `json:"perCall,omitempty"`
	// PerRetry is the price of one retry attempt (instead of PerCall).
	PerRetry float64 `json:"perRetry,omitempty"`
	// Currency is an ISO 4217 code such as "USD" or "EUR"; required.
	Currency string `json:"currency,omitempty"`
}

// MaxCostPrice is the highest price CostPolicy accepts, per call or retry.
const MaxCostPrice = 1_000_000

// UnmarshalJSON decodes the section strictly (see Policy.UnmarshalJSON).
func (p *CostPolicy) UnmarshalJSON(data []byte) error {
	type plain CostPolicy
	return decodeSection(data, (*plain)(p))
}

// validate names the first bad field of p.
func (p *CostPolicy) validate() error {
	if _, err := costMicros("cost.perCall", p.PerCall); err != nil {
		return err
	}
	if _, err := costMicros("cost.perRetry", p.PerRetry); err != nil {
		return err
	}
	if len(p.Currency) != 3 || !isUpper(p.Currency) {
		if p.Currency == "" {
			return errors.New("cost.currency: required, an ISO 4217 code such as \"USD\"")
		}
		return fmt.Errorf("cost.currency: %q is not an ISO 4217 code such as \"USD\" (three capital letters)", p.Currency)
	}
	return nil
}

func isUpper(s string) bool {
	for i := range len(s) {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// costMicros converts a price to micro-units, refusing one that is
// negative, not finite, above MaxCostPrice or finer than a micro-unit.
func costMicros(field string, v float64) (int64, error) {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0) || v < 0:
		return 0, fmt.Errorf("%s: %v must be a price of zero or more", field, v)
	case v > MaxCostPrice:
		return 0, fmt.Errorf("%s: %v is above the highest price, %d", field, v, MaxCostPrice)
	}
	m := math.Round(v * 1e6)
	// The decimal the user wrote, at six places, must give back v.
	if back, _ := strconv.ParseFloat(strconv.FormatFloat(m/1e6, 'f', 6, 64), 64); back != v {
		return 0, fmt.Errorf("%s: %v has more than six decimals (prices are kept in millionths)", field, v)
	}
	return int64(m), nil
}

// micros returns the prices in micro-units; p has been validated.
func (p *CostPolicy) micros() (perCall, perRetry int64) {
	perCall, _ = costMicros("", p.PerCall)
	perRetry, _ = costMicros("", p.PerRetry)
	return perCall, perRetry
}

// CostSnapshot is what a guard's calls cost, computed from its cumulative
// counters when the snapshot is taken. Amounts are in micro-units of
// Currency (FormatMicros writes them as decimals); a sum that would
// overflow saturates at math.MaxInt64.
//
// What is counted:
//
//   - Calls are the calls the guard admitted (every attempt, retries
//     included) less the retries; Spent prices them at PerCall.
//   - Retries are the retry attempts Do made; RetrySpent prices them at
//     PerRetry. A retry that the guard's own gates rejected counts here
//     too: the retrier cannot tell.
//   - AvoidedByBreaker prices at PerCall the calls the breaker rejected
//     (open or half-open); AvoidedByRateLimit those the rate limit
//     rejected. They are what those calls would have cost had they run.
type CostSnapshot struct {
	Currency           string
	PerCall, PerRetry  int64 // prices, in micro-units
	Calls, Retries     uint64
	Spent, RetrySpent  int64
	AvoidedByBreaker   int64
	AvoidedByRateLimit int64
}

// Total returns Spent + RetrySpent, saturating.
func (c *CostSnapshot) Total() int64 { return addSat(c.Spent, c.RetrySpent) }

// costOf fills s.Cost from s's counters and the policy p.
func costOf(p *CostPolicy, s *GuardSnapshot) *CostSnapshot {
	if p == nil {
		return nil
	}
	perCall, perRetry := p.micros()
	c := &CostSnapshot{Currency: p.Currency, PerCall: perCall, PerRetry: perRetry, Retries: s.Retries}
	if s.Breaker.Admitted > s.Retries {
		c.Calls = s.Breaker.Admitted - s.Retries
	}
	c.Spent = mulSat(c.Calls, perCall)
	c.RetrySpent = mulSat(c.Retries, perRetry)
	c.AvoidedByBreaker = mulSat(s.Rejected.Open+s.Rejected.HalfOpen, perCall)
	c.AvoidedByRateLimit = mulSat(s.Rejected.Limited, perCall)
	return c
}

// mulSat returns n × price, saturating at math.MaxInt64.
func mulSat(n uint64, price int64) int64 {
	hi, lo := bits.Mul64(n, uint64(price))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}

func addSat(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxInt64
}

// FormatMicros writes an amount in micro-units as a decimal with six
// places: 1234567 is "1.234567".
func FormatMicros(m int64) string {
	neg := m < 0
	u := uint64(m)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u/1e6, 10) + "." + fmt.Sprintf("%06d", u%1e6)
	if neg {
		s = "-" + s
	}
	return s
}
