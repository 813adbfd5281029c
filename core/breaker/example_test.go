package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

func Example() {
	b, err := breaker.New(breaker.Config{
		WindowSize:   10, // judge the last 10 calls
		MinCalls:     5,  // once there are at least 5
		FailureRate:  50, // open at 50% failures
		OpenDuration: 30 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for i := range 6 {
		p, err := b.Allow(ctx)
		if err != nil {
			fmt.Println("call", i, "rejected:", err)
			continue
		}
		p.Done(errors.New("connection refused")) // the dependency is down
	}
	fmt.Println(b.State())
	// Output:
	// call 5 rejected: breaker: open
	// open
}

// A call guarded by hand: Allow before it, Permit.Done after it.
func ExampleBreaker_Allow() {
	b, err := breaker.New(breaker.Config{})
	if err != nil {
		panic(err)
	}
	call := func(ctx context.Context) error { return nil } // the dependency
	guarded := func(ctx context.Context) error {
		p, err := b.Allow(ctx)
		if err != nil {
			return err // breaker.ErrOpen
		}
		err = call(ctx)
		p.Done(err)
		return err
	}

	fmt.Println(guarded(context.Background()))
	b.ForceOpen(breaker.Manual{Actor: "alice", Reason: "maintenance"})
	fmt.Println(guarded(context.Background()))
	// Output:
	// <nil>
	// breaker: open
}

func ExampleBreaker_ForceOpen() {
	b, _ := breaker.New(breaker.Config{})
	t := b.ForceOpen(breaker.Manual{Actor: "alice", Reason: "database maintenance"})
	fmt.Println(t)
	_, err := b.Allow(context.Background())
	fmt.Println(errors.Is(err, breaker.ErrOpen))
	fmt.Println(b.Release(breaker.Manual{Actor: "alice", Reason: "maintenance done"}))
	// Output:
	// closed -> forced-open: database maintenance (by alice)
	// true
	// forced-open -> closed: maintenance done (by alice)
}

// A breaker can be driven in explicit time, for tests and simulations.
func ExampleBreaker_AllowAt() {
	b, _ := breaker.New(breaker.Config{WindowSize: 1, MinCalls: 1, OpenDuration: time.Minute})
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

	p, _ := b.AllowAt(ctx, now)
	p.DoneAt(now, errors.New("timeout"))
	fmt.Println(b.State())

	later := now.Add(time.Minute)
	p, err := b.AllowAt(ctx, later) // the probe
	fmt.Println(b.State(), err)
	p.DoneAt(later, nil)
	fmt.Println(b.State())
	// Output:
	// open
	// half-open <nil>
	// closed
}

// Adapters classify calls by their status codes.
func ExampleConfig_classifier() {
	b, _ := breaker.New(breaker.Config{
		Classifier: func(o breaker.Outcome) breaker.Result {
			switch {
			case o.Err != nil, o.HasCode && o.Code >= 500:
				return breaker.Failure
			case o.HasCode && o.Code == 429:
				return breaker.Ignore
			}
			return breaker.Success
		},
	})
	p, _ := b.Allow(context.Background())
	p.Finish(breaker.Outcome{Code: 503, HasCode: true})
	s := b.Snapshot()
	fmt.Println(s.Failed, s.Succeeded)
	// Output: 1 0
}
