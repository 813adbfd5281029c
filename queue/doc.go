// Package queue runs background jobs through breakerbox guards, so that a
// job whose dependency is failing waits in its queue instead of failing,
// and comes back when the dependency has had time to recover.
//
// Wrap guards a job function of any type for any queue library: when the
// guard rejects the job, the function does not run and returns a
// *DeferredError whose Delay is the rejection's retry-after (for an open
// breaker, the rest of its open time), bounded and jittered. The queue
// should put the job back with that delay and not count a failed attempt.
//
// For github.com/hibiken/asynq (Redis), Middleware does this for every task
// of a server, and Configure sets the server's RetryDelayFunc and IsFailure
// so that a deferred task returns to the retry set after exactly its delay
// without using up its MaxRetry. A Pauser goes further: it pauses a queue
// while its guard is open (asynq's Inspector.PauseQueue), so workers stop
// taking tasks that would only be deferred, and resumes it when the breaker
// half-opens, so that the queue's own tasks can probe the dependency.
//
// From Middleware's example (compiled; it needs a Redis server to run):
//
//	reg, err := core.NewRegistry(core.WithPolicies(policies...))
//	if err != nil {
//		log.Fatal(err)
//	}
//	mux := asynq.NewServeMux()
//	mux.Use(queue.Middleware(reg))
//	mux.HandleFunc("payments:charge", charge)
//	srv := asynq.NewServer(redisOpt, queue.Configure(asynq.Config{Queues: map[string]int{"payments": 1}}))
//	pauser, err := queue.NewPauser(reg, asynq.NewInspector(redisOpt), map[string][]string{"payments:charge": {"payments"}})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer pauser.Close()
//	go pauser.Run(ctx) // until ctx ends
//	if err := srv.Run(mux); err != nil {
//		log.Fatal(err)
//	}
//
// For github.com/riverqueue/river (Postgres or SQLite), the module
// github.com/breakerbox/breakerbox/queue/rivermw has the same two pieces: a
// worker middleware that snoozes a rejected job until its guard's
// retry-after (River does not count a snooze as an attempt), and a Pauser
// built on River's QueuePause and QueueResume. It is a module of its own,
// so that asynq users do not download River, nor River users asynq.
//
// The package is a module of its own (it needs asynq); the root module
// stays free of the dependency.
package queue
