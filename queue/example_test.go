package queue_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/hibiken/asynq"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/queue"
)

// Wrap guards a job of any type for any queue: while the guard is open the
// job does not run and comes back with a delay to hand to the queue.
func ExampleWrap() {
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	g := reg.MustGuard("invoices")
	send := queue.Wrap(g, func(ctx context.Context, invoice string) error {
		fmt.Println("sent", invoice)
		return nil
	}, queue.WithDelays(time.Second, time.Minute), queue.WithJitter(0))

	_ = send(context.Background(), "INV-1")
	g.ForceOpen(breaker.Manual{Actor: "ops", Reason: "mail provider down"})
	err = send(context.Background(), "INV-2")
	if d, ok := queue.Deferred(err); ok {
		fmt.Println("deferred for", d, "-", errors.Is(err, core.ErrRejected))
	}
	// Output:
	// sent INV-1
	// deferred for 1s - true
}

// An asynq server whose tasks run through guards named after their types,
// with the queue paused while the payments guard is open. It needs a Redis
// server, so this example is compiled but not run (the package's tests run
// the same set-up against a real one).
func ExampleMiddleware() {
	redisOpt := asynq.RedisClientOpt{Addr: "127.0.0.1:6379"}
	policies := []core.Policy{{
		Name:    "payments",
		Match:   []string{"payments:*"}, // guards are named after task types
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5, OpenDuration: core.Duration(time.Minute)},
	}}
	charge := func(ctx context.Context, t *asynq.Task) error {
		return nil // call the payment provider
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()

	reg, err := core.NewRegistry(core.WithPolicies(policies...))
	if err != nil {
		log.Fatal(err)
	}
	mux := asynq.NewServeMux()
	mux.Use(queue.Middleware(reg))
	mux.HandleFunc("payments:charge", charge)
	srv := asynq.NewServer(redisOpt, queue.Configure(asynq.Config{Queues: map[string]int{"payments": 1}}))
	pauser, err := queue.NewPauser(reg, asynq.NewInspector(redisOpt), map[string][]string{"payments:charge": {"payments"}})
	if err != nil {
		log.Fatal(err)
	}
	defer pauser.Close()
	go pauser.Run(ctx) // until ctx ends
	if err := srv.Run(mux); err != nil {
		log.Fatal(err)
	}
}
