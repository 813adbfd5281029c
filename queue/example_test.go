package queue_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/queue"
)

// Wrap guards a job of any type for any queue: while the guard is open the
// job does not run and comes back with a delay to hand to the queue.
func ExampleWrap() {
	reg, _ := core.NewRegistry()
	g := reg.MustGuard("invoices")
	send := queue.Wrap(g, func(ctx context.Context, invoice string) error {
		fmt.Println("sent", invoice)
		return nil
	}, queue.WithDelays(time.Second, time.Minute), queue.WithJitter(0))

	_ = send(context.Background(), "INV-1")
	g.ForceOpen(breaker.Manual{Actor: "ops", Reason: "mail provider down"})
	err := send(context.Background(), "INV-2")
	if d, ok := queue.Deferred(err); ok {
		fmt.Println("deferred for", d, "-", errors.Is(err, core.ErrRejected))
	}
	// Output:
	// sent INV-1
	// deferred for 1s - true
}

// An asynq server whose tasks run through guards named after their types,
// with the queue paused while the payments guard is open.
func ExampleMiddleware() {
	redis := asynq.RedisClientOpt{Addr: "127.0.0.1:6379"}
	reg, _ := core.NewRegistry()

	mux := asynq.NewServeMux()
	mux.Use(queue.Middleware(reg))
	mux.HandleFunc("payments:charge", func(ctx context.Context, t *asynq.Task) error {
		return nil // call the payment provider
	})
	srv := asynq.NewServer(redis, queue.Configure(asynq.Config{Queues: map[string]int{"payments": 1}}))

	pauser, _ := queue.NewPauser(reg, asynq.NewInspector(redis), map[string][]string{"payments:charge": {"payments"}})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { _ = pauser.Run(ctx) }()
	_ = srv.Run(mux)
}
