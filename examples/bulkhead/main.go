// Command bulkhead shows a bulkhead limiting calls to a slow dependency: two
// calls run at once, one more waits in the queue, and the next is rejected
// at once with bulkhead.ErrFull, which matches core.ErrRejected.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/bulkhead"
)

func main() {
	b, err := bulkhead.New(bulkhead.Config{MaxConcurrent: 2, MaxQueue: 1, MaxWait: 5 * time.Second})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	// Two slow calls take both slots.
	for i := 1; i <= 2; i++ {
		if err := b.Acquire(ctx); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("call %d: running\n", i)
	}

	// A third waits for a slot.
	admitted := make(chan error)
	go func() { admitted <- b.Acquire(ctx) }()
	for b.Snapshot().Queued == 0 {
		time.Sleep(time.Millisecond)
	}
	fmt.Println("call 3: queued")

	// A fourth finds the queue full: rejected at once, nothing waits.
	err = b.Acquire(ctx)
	fmt.Printf("call 4: %v (rejected: %t)\n", err, errors.Is(err, core.ErrRejected))

	// Call 1 ends: its slot goes straight to the oldest waiter.
	b.Release()
	fmt.Println("call 1: done")
	if err := <-admitted; err != nil {
		log.Fatal(err)
	}
	fmt.Println("call 3: running")
	b.Release()
	b.Release()

	s := b.Snapshot()
	fmt.Printf("in use %d of %d; %d waited, %d rejected\n", s.InUse, s.MaxConcurrent, s.Waited, s.Rejected)
}
