package bulkhead_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/core/bulkhead"
)

func Example() {
	// At most 2 calls at once; 4 more may wait up to 50ms each.
	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 2, MaxQueue: 4, MaxWait: 50 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}

	call := func(ctx context.Context) error {
		if err := b.Acquire(ctx); err != nil {
			return err // bulkhead.ErrFull, or ctx.Err()
		}
		defer b.Release()
		// ... call the dependency ...
		return nil
	}

	fmt.Println(call(context.Background()))
	// Output: <nil>
}

func ExampleBulkhead_TryAcquire() {
	b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})

	fmt.Println(b.TryAcquire()) // takes the only slot
	fmt.Println(b.TryAcquire()) // no slot free: never waits
	b.Release()
	fmt.Println(b.TryAcquire())
	// Output:
	// true
	// false
	// true
}

func ExampleBulkhead_Acquire() {
	b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1, MaxQueue: 1, MaxWait: time.Millisecond})
	ctx := context.Background()

	_ = b.Acquire(ctx) // takes the only slot and keeps it

	// The next caller queues, waits MaxWait and is rejected.
	err := b.Acquire(ctx)
	fmt.Println(err)
	fmt.Println(errors.Is(err, bulkhead.ErrFull))
	var typed interface{ ErrorType() string }
	if errors.As(err, &typed) {
		fmt.Println(typed.ErrorType()) // for the error.type attribute
	}

	// A caller whose context ends gets ctx.Err(), unchanged.
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	fmt.Println(b.Acquire(ctx))
	// Output:
	// bulkhead: full
	// true
	// bulkhead_full
	// context canceled
}

func ExampleBulkhead_Snapshot() {
	b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 2})
	b.TryAcquire()
	b.TryAcquire()
	b.TryAcquire() // rejected

	s := b.Snapshot()
	fmt.Printf("in use %d of %d, rejected %d\n", s.InUse, s.MaxConcurrent, s.Rejected)
	// Output: in use 2 of 2, rejected 1
}

func ExampleBulkhead_SetLimit() {
	b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1})
	b.TryAcquire()
	fmt.Println(b.TryAcquire())

	_ = b.SetLimit(2) // raising the limit frees a slot at once
	fmt.Println(b.TryAcquire())

	fmt.Println(b.SetLimit(0))
	// Output:
	// false
	// true
	// bulkhead: maxConcurrent: 0 must be at least 1
}

func ExampleConfig_Validate() {
	err := bulkhead.Config{MaxConcurrent: 0, MaxQueue: -1, MaxWait: -time.Second}.Validate()
	fmt.Println(err)
	// Output:
	// bulkhead: maxConcurrent: 0 must be at least 1
	// bulkhead: maxQueue: -1 must not be negative
	// bulkhead: maxWait: -1s must not be negative
}

// A middleware that takes a slot in one function and gives it back in
// another passes one Hint to both, so that a large bulkhead takes and
// returns the slot through the same stripe.
func ExampleHint() {
	b, _ := bulkhead.New(bulkhead.Config{MaxConcurrent: 1000})

	h := bulkhead.NewHint()
	if b.TryAcquireHint(h) {
		// ... hand the call on; when it ends, wherever that is:
		b.ReleaseHint(h)
	}
	fmt.Println(b.Snapshot().InUse)
	// Output: 0
}
