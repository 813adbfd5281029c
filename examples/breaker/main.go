// Command breaker shows the circuit-breaker state machine on its own, on an
// explicit clock (AllowAt, DoneAt), so that its output never varies: the
// breaker opens when half of the last calls failed, rejects calls while
// open, lets a probe through after the open duration, and closes when the
// probe succeeds.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

func main() {
	b, err := breaker.New(breaker.Config{
		WindowSize:   10, // the last 10 calls...
		MinCalls:     4,  // ...once there are at least 4...
		FailureRate:  50, // ...open the breaker when half of them failed,
		OpenDuration: 30 * time.Second,
		OnStateChange: func(_ context.Context, t breaker.Transition) {
			fmt.Printf("  >> %s -> %s (%s)\n", t.From, t.To, t.Reason)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	call := func(outcome error) {
		p, err := b.AllowAt(context.Background(), now)
		if errors.Is(err, breaker.ErrOpen) {
			fmt.Printf("%s rejected: %v\n", now.Format("15:04:05"), err)
			return
		}
		fmt.Printf("%s admitted, outcome: %v\n", now.Format("15:04:05"), outcome)
		p.DoneAt(now, outcome) // may change the state
	}
	upstreamDown := errors.New("upstream: 503")

	call(nil)
	call(upstreamDown)
	call(nil)
	call(upstreamDown) // 2 of 4 failed: 50%
	now = now.Add(10 * time.Second)
	call(nil) // rejected: open for 30s
	now = now.Add(25 * time.Second)
	call(nil) // the probe, which closes it
	call(nil)

	s := b.Snapshot()
	fmt.Printf("state %s: %d admitted, %d failed, %d rejected, %d transitions\n",
		s.State, s.Admitted, s.Failed, s.Rejected, s.Transitions)
}
