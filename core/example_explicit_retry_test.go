package core_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// ExampleGuard_RetryAt runs one call with retries on a clock the caller
// keeps, as a simulation does: BeginAt starts the call, each attempt goes
// through AllowAt and DoneAt, and RetryAt says whether Do would retry and
// after how long. The jitter draw u is the caller's, so the run is
// deterministic.
func ExampleGuard_RetryAt() {
	reg, _ := core.NewRegistry(core.WithDefaultPolicy(core.Policy{Name: "p",
		Retry: &core.RetryPolicy{MaxAttempts: 3, InitialDelay: core.Duration(100 * time.Millisecond), Jitter: "none"}}))
	g := reg.MustGuard("payments")
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := g.BeginAt(at)
	for {
		reg.AdvanceAt(at)
		p, err := g.AllowAt(ctx, at)
		if err == nil {
			at = at.Add(20 * time.Millisecond) // the attempt's latency
			err = errors.New("unavailable")
			p.DoneAt(at, err)
		}
		d, err := g.RetryAt(at, &s, err, 0.5)
		if err != nil {
			fmt.Printf("gave up after attempt %d at %s: %v\n", s.Attempts, at.Format("15:04:05.000"), err)
			break
		}
		fmt.Printf("attempt %d failed; retry in %v\n", s.Attempts-1, d)
		at = at.Add(d)
	}
	fmt.Println("retries:", reg.SnapshotAt(at)[0].Retries)
	// Output:
	// attempt 1 failed; retry in 100ms
	// attempt 2 failed; retry in 200ms
	// gave up after attempt 3 at 12:00:00.360: unavailable
	// retries: 2
}
