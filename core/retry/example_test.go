package retry_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/breakerbox/breakerbox/core/retry"
)

func ExampleRetrier_Do() {
	r, err := retry.New(retry.Config{
		MaxAttempts:  4,
		InitialDelay: time.Millisecond,
		OnRetry: func(_ context.Context, a retry.Attempt) {
			fmt.Printf("attempt %d after: %v\n", a.Number, a.Err)
		},
	})
	if err != nil {
		panic(err)
	}
	calls := 0
	err = r.Do(context.Background(), func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return errors.New("connection reset")
		}
		return nil
	})
	fmt.Println("result:", err, "after", calls, "calls")
	// Output:
	// attempt 2 after: connection reset
	// attempt 3 after: connection reset
	// result: <nil> after 3 calls
}

func ExampleRetrier_Delay() {
	r, _ := retry.New(retry.Config{
		MaxAttempts:  6,
		InitialDelay: 100 * time.Millisecond,
		MaxDelay:     time.Second,
		Jitter:       retry.NoJitter,
	})
	for n := 2; n <= 6; n++ {
		fmt.Printf("before attempt %d: %v\n", n, r.Delay(n, 0, 0))
	}

	// With full jitter (the default), the delay is the same bound scaled
	// by a random draw u in [0, 1).
	full, _ := retry.New(retry.Config{InitialDelay: 100 * time.Millisecond})
	fmt.Println("full jitter, attempt 3, u=0.5:", full.Delay(3, 0, 0.5))
	// Output:
	// before attempt 2: 100ms
	// before attempt 3: 200ms
	// before attempt 4: 400ms
	// before attempt 5: 800ms
	// before attempt 6: 1s
	// full jitter, attempt 3, u=0.5: 100ms
}

// throttled is an error from a dependency that asked to be left alone for a
// while, such as an HTTP 429 with Retry-After.
type throttled struct{ after time.Duration }

func (e *throttled) Error() string             { return "429 too many requests" }
func (e *throttled) RetryAfter() time.Duration { return e.after }

func ExampleRetryAfter() {
	err := fmt.Errorf("GET /quote: %w", &throttled{after: 2 * time.Second})
	d, ok := retry.RetryAfter(err)
	fmt.Println(d, ok)
	// Output: 2s true
}

func ExampleNewBudget() {
	// One budget per dependency, shared by every caller: retries are at most
	// 10% of calls (plus 1 per second) over any 10s.
	budget, err := retry.NewBudget(retry.BudgetConfig{Ratio: 0.1, MinRetriesPerSec: 1, Window: 10 * time.Second})
	if err != nil {
		panic(err)
	}
	r, _ := retry.New(retry.Config{MaxAttempts: 3, InitialDelay: time.Millisecond, Budget: budget})

	down := errors.New("503 service unavailable")
	attempts, refused := 0, 0
	for range 100 {
		err := r.Do(context.Background(), func(context.Context) error {
			attempts++
			return down
		})
		if errors.Is(err, retry.ErrBudgetExhausted) {
			refused++
		}
	}
	// Without the budget: 300 attempts. With it: 100 calls, plus 10% of
	// them, plus the floor of 1/s×10s.
	fmt.Printf("100 calls, %d attempts, %d calls refused a retry\n", attempts, refused)
	err = r.Do(context.Background(), func(context.Context) error { return down })
	fmt.Println(err)
	fmt.Println("wraps the cause:", errors.Is(err, down))
	// Output:
	// 100 calls, 120 attempts, 95 calls refused a retry
	// retry: budget exhausted: 503 service unavailable
	// wraps the cause: true
}

func ExampleParseJitter() {
	j, err := retry.ParseJitter("decorrelated")
	fmt.Println(j, err)
	_, err = retry.ParseJitter("exponential")
	fmt.Println(err)
	// Output:
	// decorrelated <nil>
	// retry: jitter: "exponential" must be none, full or decorrelated
}

func ExampleParseRetryAfter() {
	// A 429 or 503 answer's Retry-After header: seconds or an HTTP date.
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []string{"120", "Sat, 01 Mar 2025 12:00:30 GMT", "99999999999", "soon"} {
		d, ok := retry.ParseRetryAfter(v, now)
		fmt.Println(d, ok)
	}
	// Output:
	// 2m0s true
	// 30s true
	// 24h0m0s true
	// 0s false
}
