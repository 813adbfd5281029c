package rivermw_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/queue/rivermw"
)

// ChargeArgs is a River job that charges an order.
type ChargeArgs struct {
	Order int `json:"order"`
}

// Kind names the job, and its guard.
func (ChargeArgs) Kind() string { return "charge" }

// InsertOpts puts charges in the payments queue.
func (ChargeArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{Queue: "payments"} }

// A River client on SQLite whose jobs run through guards named after their
// kinds: while the payments provider's guard is open, a charge is snoozed,
// not failed, and it runs once the guard admits calls again. With Postgres,
// only the driver changes (riverpgxv5.New(pool)).
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, cleanup := sqliteDB(ctx)
	defer cleanup()

	reg, err := core.NewRegistry() // add core.WithPolicies(...) for real thresholds
	if err != nil {
		log.Fatal(err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[ChargeArgs]) error {
		fmt.Println("charged order", job.Args.Order)
		return nil // the provider's error, if any, counts against the guard
	}))
	client, err := river.NewClient(riversqlite.New(db), &river.Config{
		Queues:  map[string]river.QueueConfig{"payments": {MaxWorkers: 5}},
		Workers: workers,
		Middleware: []rivertype.Middleware{
			rivermw.Middleware(reg, rivermw.WithDelays(100*time.Millisecond, time.Minute)),
		},
		FetchCooldown:     50 * time.Millisecond, // SQLite has no LISTEN: poll often
		FetchPollInterval: 50 * time.Millisecond,
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := client.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer func() { _ = client.Stop(context.WithoutCancel(ctx)) }()
	events, unsubscribe := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobSnoozed)
	defer unsubscribe()
	next := func() *river.Event {
		select {
		case e := <-events:
			return e
		case <-ctx.Done():
			log.Fatal(ctx.Err())
			return nil
		}
	}

	if _, err := client.Insert(ctx, ChargeArgs{Order: 1}, nil); err != nil {
		log.Fatal(err)
	}
	next() // completed

	guard := reg.MustGuard("charge")
	guard.ForceOpen(breaker.Manual{Actor: "ops", Reason: "provider outage"})
	if _, err := client.Insert(ctx, ChargeArgs{Order: 2}, nil); err != nil {
		log.Fatal(err)
	}
	e := next()
	fmt.Printf("order 2 %s, attempts used: %d\n", e.Kind, e.Job.Attempt)

	guard.Release(breaker.Manual{Actor: "ops"})
	for next().Kind != river.EventKindJobCompleted {
	}
	// Output:
	// charged order 1
	// order 2 job_snoozed, attempts used: 0
	// charged order 2
}

// A Pauser pauses the payments queue while the charge guard is open, so
// that clients stop fetching charges, and resumes it when the guard admits
// calls again (half-open included, so that charges can probe the provider).
func ExampleNewPauser() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, cleanup := sqliteDB(ctx) // Postgres: riverpgxv5.New(pool) below
	defer cleanup()
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[ChargeArgs]) error {
		return nil // charge the order
	}))

	client, err := river.NewClient(riversqlite.New(db), &river.Config{
		Queues:     map[string]river.QueueConfig{"payments": {MaxWorkers: 10}},
		Workers:    workers, // a worker for ChargeArgs, whose kind is "charge"
		Middleware: []rivertype.Middleware{rivermw.Middleware(reg)},
		Logger:     slog.New(slog.DiscardHandler), // your service's logger
	})
	if err != nil {
		log.Fatal(err)
	}
	pauser, err := rivermw.NewPauser(reg, client, map[string][]string{"charge": {"payments"}})
	if err != nil {
		log.Fatal(err)
	}
	defer pauser.Close()
	go pauser.Run(ctx) // until ctx ends
	if err := client.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer func() { _ = client.Stop(context.WithoutCancel(ctx)) }()

	events, unsubscribe := client.Subscribe(river.EventKindQueuePaused, river.EventKindQueueResumed)
	defer unsubscribe()
	next := func() *river.Event {
		select {
		case e := <-events:
			return e
		case <-ctx.Done():
			log.Fatal(ctx.Err())
			return nil
		}
	}
	guard := reg.MustGuard("charge")
	guard.ForceOpen(breaker.Manual{Actor: "ops", Reason: "provider outage"})
	e := next()
	fmt.Println(e.Kind, e.Queue.Name)
	guard.Release(breaker.Manual{Actor: "ops"})
	e = next()
	fmt.Println(e.Kind, e.Queue.Name)
	// Output:
	// queue_paused payments
	// queue_resumed payments
}

// sqliteDB opens a River database in SQLite, in a temporary directory, and
// returns it with the function that removes it.
func sqliteDB(ctx context.Context) (*sql.DB, func()) {
	dir, err := os.MkdirTemp("", "rivermw")
	if err != nil {
		log.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "jobs.sqlite")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		log.Fatal(err)
	}
	db.SetMaxOpenConns(1) // as River's SQLite driver asks
	migrator, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		log.Fatal(err)
	}
	return db, func() { db.Close(); os.RemoveAll(dir) }
}
