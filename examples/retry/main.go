// Command retry shows retries with exponential backoff: a call that fails
// twice and then succeeds, the schedule of delays, a retry-after hint from
// the server stretching a delay, and an error that is not retried at all.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/core/retry"
)

// busyError is a failure that says when to come back, as a 503 with a
// Retry-After does.
type busyError struct{ after time.Duration }

func (e busyError) Error() string             { return "upstream busy" }
func (e busyError) RetryAfter() time.Duration { return e.after }

var errInvalid = errors.New("invalid request")

func main() {
	r, err := retry.New(retry.Config{
		MaxAttempts:  4,
		InitialDelay: 10 * time.Millisecond,
		Multiplier:   2,
		MaxDelay:     time.Second,
		Jitter:       retry.NoJitter, // deterministic here; keep the default full jitter in real code
		RetryOn:      func(err error) bool { return !errors.Is(err, errInvalid) && retry.DefaultRetryOn(err) },
		OnRetry: func(_ context.Context, a retry.Attempt) {
			fmt.Printf("  attempt %d after %v (previous: %v)\n", a.Number, a.Delay, a.Err)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print("the schedule:")
	for n := 2; n <= 4; n++ {
		fmt.Printf(" %v", r.Delay(n, 0, 0))
	}
	fmt.Println()
	ctx := context.Background()

	fmt.Println("a call that fails twice:")
	calls := 0
	err = r.Do(ctx, func(context.Context) error {
		if calls++; calls <= 2 {
			return errors.New("connection reset")
		}
		return nil
	})
	fmt.Printf("  result: %v after %d calls\n", err, calls)

	fmt.Println("a server that asks for 50ms:")
	calls = 0
	err = r.Do(ctx, func(context.Context) error {
		if calls++; calls == 1 {
			return busyError{after: 50 * time.Millisecond}
		}
		return nil
	})
	fmt.Printf("  result: %v after %d calls\n", err, calls)

	fmt.Println("an error that retrying cannot fix:")
	calls = 0
	err = r.Do(ctx, func(context.Context) error { calls++; return errInvalid })
	fmt.Printf("  result: %v after %d call\n", err, calls)
}
