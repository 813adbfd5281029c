// Package rivermw runs River jobs (github.com/riverqueue/river, a job queue
// on Postgres or SQLite) through breakerbox guards, so that a job whose
// dependency is failing waits in its queue instead of failing, and comes
// back when the dependency has had time to recover.
//
// Middleware is a River worker middleware: it works each job through a
// guard of a core.Registry named after the job's kind. When the guard
// rejects the job (an open breaker, a full bulkhead, a rate limit), the
// worker does not run and the job is snoozed (river.JobSnooze) until the
// rejection's retry-after, which for an open breaker is the rest of its
// open time: River puts it back in its queue without counting an attempt,
// so deferrals never use up MaxAttempts and no job is dropped. When the
// guard admits the job, the worker's error (or panic) is reported to the
// guard, so failing jobs open the breaker.
//
// A Pauser goes further: it pauses a queue while its guard is open
// (Client.QueuePause), so clients stop fetching jobs that would only be
// snoozed, and resumes it (Client.QueueResume) when the breaker half-opens,
// so that the queue's own jobs can probe the dependency.
//
// From NewPauser's example, which runs River on SQLite (with Postgres, the
// driver is riverpgxv5.New(pool)):
//
//	client, err := river.NewClient(riversqlite.New(db), &river.Config{
//		Queues:     map[string]river.QueueConfig{"payments": {MaxWorkers: 10}},
//		Workers:    workers, // a worker for ChargeArgs, whose kind is "charge"
//		Middleware: []rivertype.Middleware{rivermw.Middleware(reg)},
//		Logger:     slog.New(slog.DiscardHandler), // your service's logger
//	})
//	if err != nil {
//		log.Fatal(err)
//	}
//	pauser, err := rivermw.NewPauser(reg, client, map[string][]string{"charge": {"payments"}})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer pauser.Close()
//	go pauser.Run(ctx) // until ctx ends
//	if err := client.Start(ctx); err != nil {
//		log.Fatal(err)
//	}
//
// The package is named rivermw, not river, so that it reads apart from
// River's own package in the same file. It is a module of its own (it
// needs River); neither the root module nor the asynq integration in
// package queue depends on River.
package rivermw
