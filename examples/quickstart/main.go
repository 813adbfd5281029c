// Command quickstart shows a breakerbox guard protecting calls to a flaky
// dependency: the breaker opens when the dependency fails, rejects calls
// fast while it is open, probes it after the open duration, and closes once
// it answers again.
//
// Run it with `go run ./quickstart` in the examples module.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// payments is a fake payment provider that is down while down is true.
type payments struct{ down atomic.Bool }

func (p *payments) charge(ctx context.Context, cents int) (string, error) {
	if p.down.Load() {
		return "", errors.New("payments: 503 service unavailable")
	}
	return fmt.Sprintf("receipt for %d cents", cents), nil
}

func main() {
	reg, err := core.NewRegistry(
		core.WithPolicies(core.Policy{
			Name:  "payments",
			Match: []string{"payments.*"},
			Tags:  []string{"stripe"},
			Breaker: &core.BreakerPolicy{
				WindowSize:   10,
				MinCalls:     5,
				FailureRate:  50,
				OpenDuration: core.Duration(300 * time.Millisecond),
			},
			Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 4},
		}),
		core.WithHooks(core.Hooks{
			OnStateChange: func(_ context.Context, e core.StateChange) {
				fmt.Printf("   >> %s: %s -> %s (%s)\n", e.Guard, e.From, e.To, e.Reason)
			},
		}),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	guard := reg.MustGuard("payments.charge")
	provider := &payments{}
	ctx := context.Background()

	call := func(i int) {
		receipt, err := core.Do(ctx, guard, func(ctx context.Context) (string, error) {
			return provider.charge(ctx, 100*i)
		})
		var rejected *core.RejectedError
		switch {
		case errors.As(err, &rejected):
			fmt.Printf("call %2d: rejected fast by %q (%s), retry in %s\n", i, rejected.Guard, rejected.ErrorType(), rejected.RetryAfter().Round(time.Millisecond))
		case err != nil:
			fmt.Printf("call %2d: failed: %v\n", i, err)
		default:
			fmt.Printf("call %2d: ok: %s\n", i, receipt)
		}
	}

	fmt.Println("1. The provider is healthy.")
	for i := 1; i <= 3; i++ {
		call(i)
	}
	fmt.Println("2. The provider goes down: the breaker opens after enough failures.")
	provider.down.Store(true)
	for i := 4; i <= 12; i++ {
		call(i)
	}
	fmt.Println("3. The provider recovers; after the open duration one probe closes the breaker.")
	provider.down.Store(false)
	for guard.Breaker().State() == breaker.Open { // the open duration's timer half-opens it
		time.Sleep(10 * time.Millisecond)
	}
	for i := 13; i <= 15; i++ {
		call(i)
	}
	fmt.Println("4. An operator forces every guard tagged \"stripe\" open for maintenance.")
	if _, err := reg.ForceOpen(core.Tag("stripe"), breaker.Manual{Actor: "alice", Reason: "provider maintenance"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	call(16)
	if _, err := reg.Release(core.Tag("stripe"), breaker.Manual{Actor: "alice", Reason: "maintenance done"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	call(17)

	fmt.Println("5. What an exporter or the admin API sees:")
	for _, s := range reg.Snapshot() {
		b := s.Breaker
		fmt.Printf("   %s [%s] admitted=%d succeeded=%d failed=%d rejected=%d transitions=%d\n",
			s.Name, b.State, b.Admitted, b.Succeeded, b.Failed, s.Rejected.Total(), b.Transitions)
	}
}
