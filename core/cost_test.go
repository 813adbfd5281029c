package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core"
)

func TestCostSummedExactly(t *testing.T) {
	// 0.1 + 0.2 != 0.3 in floating point; in micro-units it is exact.
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:      "api",
		Cost:      &core.CostPolicy{PerCall: 0.1, PerRetry: 0.2, Currency: "USD"},
		Retry:     &core.RetryPolicy{MaxAttempts: 3, InitialDelay: core.Duration(1), MaxDelay: core.Duration(1)},
		RateLimit: &core.RateLimitPolicy{Limit: 1000000, Per: core.Duration(1e9)},
	}))
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("x", core.UsePolicy("api"))
	boom := errors.New("boom")
	for range 1000 {
		_ = g.Do(context.Background(), func(context.Context) error { return nil })
	}
	// One call that fails twice then succeeds: two retries.
	n := 0
	_ = g.Do(context.Background(), func(context.Context) error {
		if n++; n < 3 {
			return boom
		}
		return nil
	})
	c := g.Snapshot().Cost
	if c == nil {
		t.Fatal("no cost in the snapshot")
	}
	if c.Calls != 1001 || c.Retries != 2 || c.Spent != 100_100_000 || c.RetrySpent != 400_000 || c.Total() != 100_500_000 {
		t.Fatalf("cost %+v", *c)
	}
	if got := core.FormatMicros(c.Total()); got != "100.500000" {
		t.Fatalf("total %s", got)
	}
	if core.FormatMicros(-1) != "-0.000001" {
		t.Fatal(core.FormatMicros(-1))
	}
}

func TestCostAvoidedByOpenBreakerAndRateLimit(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:      "api",
		Cost:      &core.CostPolicy{PerCall: 0.002, Currency: "EUR"},
		Breaker:   &core.BreakerPolicy{ConsecutiveFailures: 1, DisableFailureRate: true},
		RateLimit: &core.RateLimitPolicy{Limit: 3, Per: core.Duration(3600e9)},
	}))
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("x", core.UsePolicy("api"))
	ok := func(context.Context) error { return nil }
	_ = g.Do(context.Background(), ok)
	_ = g.Do(context.Background(), func(context.Context) error { return errors.New("down") }) // trips
	_ = g.Do(context.Background(), ok)                                                        // breaker rejects
	_ = g.Do(context.Background(), ok)                                                        // rate limit rejects (3 an hour)
	c := g.Snapshot().Cost
	if c.Spent != 4_000 || c.AvoidedByBreaker != 2_000 || c.AvoidedByRateLimit != 2_000 || c.Currency != "EUR" {
		t.Fatalf("cost %+v", *c)
	}
	if reg.MustGuard("plain").Snapshot().Cost != nil {
		t.Fatal("a guard without a cost policy has cost figures")
	}
}

func TestCostPolicyRefusesBadPrices(t *testing.T) {
	for _, tc := range []struct {
		c    core.CostPolicy
		want string
	}{
		{core.CostPolicy{PerCall: -1, Currency: "USD"}, "cost.perCall: -1 must be a price of zero or more"},
		{core.CostPolicy{PerRetry: math.NaN(), Currency: "USD"}, "cost.perRetry: NaN"},
		{core.CostPolicy{PerCall: 0.0000001, Currency: "USD"}, "cost.perCall: 1e-07 has more than six decimals"},
		{core.CostPolicy{PerCall: 2e6, Currency: "USD"}, "cost.perCall: 2e+06 is above the highest price"},
		{core.CostPolicy{PerCall: 1}, "cost.currency: required"},
		{core.CostPolicy{PerCall: 1, Currency: "usd"}, `cost.currency: "usd" is not an ISO 4217 code`},
	} {
		err := core.Policy{Name: "p", Cost: &tc.c}.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.c, err, tc.want)
		}
	}
	if err := (core.Policy{Name: "p", Cost: &core.CostPolicy{PerCall: 0.002, PerRetry: 0.000001, Currency: "USD"}}).Validate(); err != nil {
		t.Fatal(err)
	}
	var p core.Policy
	err := json.Unmarshal([]byte(`{"name":"p","cost":{"perCall":0.002,"perRetries":1,"currency":"USD"}}`), &p)
	if err == nil || !strings.Contains(err.Error(), "perRetries") {
		t.Fatalf("unknown key: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"name":"p","cost":{"perCall":0.002,"perRetry":0.002,"currency":"USD"}}`), &p); err != nil || p.Cost.PerRetry != 0.002 {
		t.Fatalf("%v %+v", err, p.Cost)
	}
}

func TestCostSaturatesInsteadOfOverflowing(t *testing.T) {
	// Not reachable by counting calls, but the arithmetic must hold: the
	// largest price times a huge count saturates.
	c := core.CostSnapshot{Spent: math.MaxInt64, RetrySpent: 1}
	if c.Total() != math.MaxInt64 {
		t.Fatal(c.Total())
	}
}
