package core_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// A guard with a cached fallback answers a failed call with the last good
// value of its key, and DoResult says the answer is stale.
func ExampleDoResult() {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:  "profiles",
		Cache: &core.CachePolicy{MaxStaleness: core.Duration(time.Hour), MaxEntries: 10_000},
	}))
	if err != nil {
		log.Fatal(err)
	}
	g := reg.MustGuard("profiles")
	ctx := core.CacheKey(context.Background(), "user/42")

	name, res, err := core.DoResult(ctx, g, func(context.Context) (string, error) { return "Ada", nil })
	fmt.Println(name, res.Stale, err)
	name, res, err = core.DoResult(ctx, g, func(context.Context) (string, error) { return "", errors.New("profiles down") })
	fmt.Println(name, res.Stale, res.Err, err)
	// Output:
	// Ada false <nil>
	// Ada true profiles down <nil>
}

// A guard whose policy hedges starts a second attempt of an idempotent
// call that has not answered after the delay (here the policy's floor,
// 20ms, until the guard has seen enough calls for its p95).
func ExampleDoIdempotent() {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:  "quotes",
		Hedge: &core.HedgePolicy{Delay: core.Duration(20 * time.Millisecond), Percentile: 95, MaxHedges: 1},
	}))
	if err != nil {
		log.Fatal(err)
	}
	quote, err := core.DoIdempotent(context.Background(), reg.MustGuard("quotes"), func(ctx context.Context) (float64, error) {
		return 41.5, nil // a read: safe to send twice
	})
	fmt.Println(quote, err)
	// Output: 41.5 <nil>
}
