package shed_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/shed"
)

func Example() {
	s, err := shed.New(shed.Config{MaxInFlight: 64, MaxQueue: 256})
	if err != nil {
		log.Fatal(err)
	}
	handle := func(ctx context.Context) error {
		t, err := s.Acquire(ctx, shed.Critical)
		if err != nil {
			return err // a *shed.Rejection (errors.Is(err, shed.ErrShed)), or ctx.Err()
		}
		defer t.Done()
		// ... serve the request ...
		return nil
	}
	fmt.Println(handle(context.Background()))
	// Output: <nil>
}

// A server with its own queue (a worker pool) reports each request's wait
// with ObserveAt and asks AllowAt at each arrival, both with explicit time.
func ExampleShedder_AllowAt() {
	s, err := shed.New(shed.Config{}) // target 5ms, interval 100ms
	if err != nil {
		log.Fatal(err)
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// One interval: 60 sheddable and 40 critical arrivals, and a standing
	// queue (every wait above 20ms) from which the workers took 50.
	for i := range 100 {
		c := shed.Sheddable
		if i%5 < 2 {
			c = shed.Critical
		}
		_ = s.AllowAt(start, c)
	}
	for range 50 {
		s.ObserveAt(start.Add(50*time.Millisecond), 20*time.Millisecond)
	}
	// The next interval: shed what the workers cannot take, sheddable first.
	next := start.Add(100 * time.Millisecond)
	_ = s.AllowAt(next, shed.Default)
	fmt.Printf("shed %.0f%% of all requests: %.0f%% of sheddable, %.0f%% of critical\n",
		100*s.DropShare(), 100*s.ShedShare(shed.Sheddable), 100*s.ShedShare(shed.Critical))
	// Output: shed 54% of all requests: 90% of sheddable, 0% of critical
}
