package core_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
)

func Example() {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:     "payments",
		Match:    []string{"payments.*"},
		Tags:     []string{"stripe"},
		Breaker:  &core.BreakerPolicy{WindowSize: 20, MinCalls: 5, FailureRate: 50, OpenDuration: core.Duration(30 * time.Second)},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 10},
	}))
	if err != nil {
		log.Fatal(err)
	}
	charge := reg.MustGuard("payments.charge")

	receipt, err := core.Do(context.Background(), charge, func(ctx context.Context) (string, error) {
		return "receipt-42", nil // call the payment provider here
	})
	fmt.Println(receipt, err)
	// Output: receipt-42 <nil>
}

// Adapters split admission and report, with no closure.
func ExampleGuard_Allow() {
	reg, _ := core.NewRegistry()
	g := reg.MustGuard("inventory")

	p, err := g.Allow(context.Background())
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	p.Finish(breaker.Outcome{Code: 200, HasCode: true}) // e.g. an HTTP status
	fmt.Println(g.Snapshot().Breaker.Succeeded)
	// Output: 1
}

// An adapter's guarded call: Allow, a deferred Settle, and Done with the
// call's error.
func ExamplePermit() {
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	g := reg.MustGuard("inventory")
	call := func(ctx context.Context) error { return errors.New("inventory: 503") }

	guarded := func(ctx context.Context) error {
		p, err := g.Allow(ctx)
		if err != nil {
			return err
		}
		defer p.Settle() // does nothing once Done has reported
		err = call(ctx)
		p.Done(err)
		return err
	}
	fmt.Println(guarded(context.Background()))
	fmt.Println(g.Snapshot().Breaker.Failed)
	// Output:
	// inventory: 503
	// 1
}

// Settle, deferred right after Allow, counts a call that panics or returns
// without reporting, and does nothing once Done has reported the call, the
// way defer tx.Rollback() does nothing after tx.Commit().
func ExamplePermit_Settle() {
	reg, _ := core.NewRegistry(core.WithHooks(core.Hooks{
		OnDone: func(_ context.Context, c core.Completion) { fmt.Println(c.Result, c.Err) },
	}))
	g := reg.MustGuard("inventory")

	lookup := func(sku string) error {
		p, err := g.Allow(context.Background())
		if err != nil {
			return err
		}
		defer p.Settle()
		switch sku {
		case "":
			return errors.New("no sku") // a path that forgot p.Done
		case "bug":
			panic("index out of range") // Settle reports it and panics again
		}
		p.Done(nil) // call the inventory service here; Settle then does nothing
		return nil
	}

	_ = lookup("A-1")
	_ = lookup("")
	func() {
		defer func() { fmt.Println("recovered:", recover()) }()
		_ = lookup("bug")
	}()
	s := g.Snapshot().Breaker
	fmt.Println("succeeded:", s.Succeeded, "failed:", s.Failed)
	// Output:
	// success <nil>
	// failure core: call ended without reporting its outcome
	// failure core: guarded function panicked
	// recovered: index out of range
	// succeeded: 1 failed: 2
}

// Operators act on groups of guards by tag.
func ExampleRegistry_ForceOpen() {
	reg, _ := core.NewRegistry(core.WithPolicies(core.Policy{Name: "stripe", Match: []string{"stripe.*"}, Tags: []string{"stripe"}}))
	reg.MustGuard("stripe.charge")
	reg.MustGuard("stripe.refund")
	reg.MustGuard("inventory")

	changes, _ := reg.ForceOpen(core.Tag("stripe"), breaker.Manual{Actor: "alice", Reason: "provider incident"})
	for _, c := range changes {
		fmt.Println(c.Guard, c.Transition)
	}
	_, err := core.Do(context.Background(), reg.MustGuard("stripe.charge"), func(context.Context) (int, error) { return 0, nil })
	var rejected *core.RejectedError
	fmt.Println(errors.Is(err, core.ErrRejected), errors.As(err, &rejected) && rejected.Guard == "stripe.charge")
	// Output:
	// stripe.charge closed -> forced-open: provider incident (by alice)
	// stripe.refund closed -> forced-open: provider incident (by alice)
	// true true
}

func ExampleRegistry_Snapshot() {
	reg, _ := core.NewRegistry()
	g := reg.MustGuard("search")
	_ = g.Do(context.Background(), func(context.Context) error { return nil })
	_ = g.Do(context.Background(), func(context.Context) error { return errors.New("timeout") })
	for _, s := range reg.Snapshot() {
		fmt.Printf("%s %s admitted=%d failed=%d rate=%.0f%%\n", s.Name, s.Breaker.State, s.Breaker.Admitted, s.Breaker.Failed, s.Breaker.FailureRate)
	}
	// Output: search closed admitted=2 failed=1 rate=50%
}

// Hooks observe every guard of a registry.
func ExampleHooks() {
	reg, _ := core.NewRegistry(
		core.WithPolicies(core.Policy{Name: "api", Breaker: &core.BreakerPolicy{WindowSize: 2, MinCalls: 2}}),
		core.WithHooks(core.Hooks{
			OnStateChange: func(_ context.Context, e core.StateChange) {
				fmt.Printf("%s: %s -> %s (%s)\n", e.Guard, e.From, e.To, e.Reason)
			},
		}),
	)
	g := reg.MustGuard("api")
	for range 2 {
		_ = g.Do(context.Background(), func(context.Context) error { return errors.New("502") })
	}
	// Output: api: closed -> open (failure rate 100% >= 50% over 2 calls)
}

// A full guard: rate limit, bulkhead, breaker, per-attempt timeout, retries
// with a budget, and a fallback, all from one policy.
func ExampleDo_fullGuard() {
	reg, err := core.NewRegistry(
		core.WithFallback("cached-price", func(ctx context.Context, c fallback.Cause) (any, error) {
			return 999, nil // last known price, in cents
		}),
		core.WithPolicies(core.Policy{
			Name:      "pricing",
			RateLimit: &core.RateLimitPolicy{Limit: 100, Burst: 20},
			Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 8},
			Breaker:   &core.BreakerPolicy{WindowSize: 20, MinCalls: 10},
			Timeout:   core.Duration(200 * time.Millisecond),
			Retry: &core.RetryPolicy{MaxAttempts: 3, InitialDelay: core.Duration(time.Millisecond),
				Budget: &core.RetryBudgetPolicy{Ratio: 0.2}},
			Fallbacks: []core.FallbackRef{{Name: "cached-price"}},
		}),
	)
	if err != nil {
		panic(err)
	}
	g := reg.MustGuard("pricing")
	price, err := core.Do(context.Background(), g, func(ctx context.Context) (int, error) {
		return 0, errors.New("pricing service: 502")
	})
	fmt.Println(price, err, g.Snapshot().Retries)
	// Output: 999 <nil> 2
}
