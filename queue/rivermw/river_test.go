package rivermw

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", pure Go

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// These tests run River on a real database: SQLite through River's own
// SQLite driver and the pure-Go modernc.org/sqlite, in a file in the
// test's temporary directory. Nothing is installed or skipped.

var errDown = errors.New("dependency down")

// waitLimit bounds every wait of these tests; none is a timing assertion.
const waitLimit = 30 * time.Second

// openDB opens a migrated SQLite database for River in a temporary file.
func openDB(t *testing.T) *sql.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "river.sqlite")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	// River's SQLite driver asks for one connection: SQLite runs one
	// writer at a time.
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	migrator, err := rivermigrate.New(riversqlite.New(db), &rivermigrate.Config{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// registry's guards trip on one failure and stay open for open.
func registry(t testing.TB, open time.Duration) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:     "jobs",
		Match:    []string{"*"},
		Breaker:  &core.BreakerPolicy{ConsecutiveFailures: 1, DisableFailureRate: true, OpenDuration: core.Duration(open), OpenBackoff: 1},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 4},
	}))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// chargeArgs is a job that calls a dependency.
type chargeArgs struct {
	Order int `json:"order"`
}

func (chargeArgs) Kind() string { return "charge" }

// noteArgs is a job of another kind, in another queue.
type noteArgs struct{}

func (noteArgs) Kind() string { return "note" }

// funcWorker works jobs of kind T with fn.
type funcWorker[T river.JobArgs] struct {
	river.WorkerDefaults[T]
	fn func(ctx context.Context, job *river.Job[T]) error
}

func (w *funcWorker[T]) Work(ctx context.Context, job *river.Job[T]) error { return w.fn(ctx, job) }

// setup configures a client for a test.
type setup struct {
	charge     func(ctx context.Context, job *river.Job[chargeArgs]) error
	middleware []rivertype.Middleware
	queues     map[string]river.QueueConfig
}

// startClient starts a River client on db that works charge jobs in the
// "payments" queue and note jobs in the "other" queue, polling for jobs
// every 20ms, and stops it when the test ends.
func startClient(t *testing.T, db *sql.DB, s setup) *river.Client[*sql.Tx] {
	t.Helper()
	workers := river.NewWorkers()
	charge := s.charge
	if charge == nil {
		charge = func(context.Context, *river.Job[chargeArgs]) error { return nil }
	}
	river.AddWorker(workers, &funcWorker[chargeArgs]{fn: charge})
	river.AddWorker(workers, &funcWorker[noteArgs]{fn: func(context.Context, *river.Job[noteArgs]) error { return nil }})
	queues := s.queues
	if queues == nil {
		queues = map[string]river.QueueConfig{"payments": {MaxWorkers: 2}, "other": {MaxWorkers: 1}}
	}
	client, err := river.NewClient(riversqlite.New(db), &river.Config{
		Queues:            queues,
		Workers:           workers,
		Middleware:        s.middleware,
		FetchPollInterval: 20 * time.Millisecond,
		FetchCooldown:     10 * time.Millisecond,
		Logger:            quietLogger(),
		TestOnly:          true,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Cancelling Start's context stops the client: it lives as long as
	// the test.
	if err := client.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		if err := client.StopAndCancel(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return client
}

// waitEvent returns the first event of kind for the job id (0: any job),
// failing the test when ctx ends first.
func waitEvent(t *testing.T, ctx context.Context, events <-chan *river.Event, kind river.EventKind, id int64) *river.Event {
	t.Helper()
	for {
		select {
		case e, ok := <-events:
			if !ok {
				t.Fatalf("waiting for %s of job %d: the subscription ended", kind, id)
			}
			if e.Kind == kind && (id == 0 || e.Job != nil && e.Job.ID == id) {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("no %s event for job %d: %v", kind, id, ctx.Err())
		}
	}
}

// waitFor polls cond every 10ms until it holds, failing the test when ctx
// ends first; it measures nothing.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
	}
}

// TestRiverJobThroughClosedGuardCountsItsFailure: a job admitted by a
// closed guard runs, and its error is a failure of the guard (enough to
// trip it), as well as a failed attempt in River.
func TestRiverJobThroughClosedGuardCountsItsFailure(t *testing.T) {
	reg := registry(t, time.Minute)
	var ran atomic.Int32
	client := startClient(t, openDB(t), setup{
		middleware: []rivertype.Middleware{Middleware(reg)},
		charge: func(context.Context, *river.Job[chargeArgs]) error {
			ran.Add(1)
			return errDown
		},
	})
	events, cancelSub := client.Subscribe(river.EventKindJobFailed, river.EventKindJobSnoozed)
	defer cancelSub()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	res, err := client.Insert(ctx, chargeArgs{Order: 1}, &river.InsertOpts{Queue: "payments", MaxAttempts: 5})
	if err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, ctx, events, river.EventKindJobFailed, res.Job.ID)
	// River makes a retry due soon available at once, later ones retryable.
	if st := e.Job.State; e.Job.Attempt != 1 || len(e.Job.Errors) != 1 || st != rivertype.JobStateRetryable && st != rivertype.JobStateAvailable {
		t.Errorf("job after its attempt: attempt %d, errors %v, state %s; want 1, one error, to be retried", e.Job.Attempt, e.Job.Errors, st)
	}
	g, ok := reg.Lookup("charge")
	if !ok {
		t.Fatal(`no guard "charge": the middleware did not name the guard after the job's kind`)
	}
	s := g.Snapshot()
	if s.Breaker.Admitted != 1 || s.Breaker.Failed != 1 || s.Breaker.State != breaker.Open {
		t.Errorf("guard: admitted %d, failed %d, state %s; want 1, 1, open (one failure trips)", s.Breaker.Admitted, s.Breaker.Failed, s.Breaker.State)
	}
	if s.Bulkhead.InUse != 0 {
		t.Errorf("bulkhead slots in use: %d", s.Bulkhead.InUse)
	}
	if n := ran.Load(); n != 1 {
		t.Errorf("worker ran %d times", n)
	}
}

// TestRiverPanickingJobIsOneFailure: River recovers a worker's panic
// outside the middleware; the guard must still count it, once, as a
// failure, and free its bulkhead slot.
func TestRiverPanickingJobIsOneFailure(t *testing.T) {
	var mu sync.Mutex
	var done []core.Completion
	reg := registry(t, time.Minute)
	reg.AddHooks(core.Hooks{OnDone: func(_ context.Context, c core.Completion) {
		mu.Lock()
		done = append(done, c)
		mu.Unlock()
	}})
	client := startClient(t, openDB(t), setup{
		middleware: []rivertype.Middleware{Middleware(reg)},
		charge:     func(context.Context, *river.Job[chargeArgs]) error { panic("boom") },
	})
	events, cancelSub := client.Subscribe(river.EventKindJobFailed)
	defer cancelSub()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	res, err := client.Insert(ctx, chargeArgs{}, &river.InsertOpts{Queue: "payments", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, ctx, events, river.EventKindJobFailed, res.Job.ID)
	if e.Job.State != rivertype.JobStateDiscarded {
		t.Errorf("job state %s, want discarded (its only attempt panicked)", e.Job.State)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(done) != 1 || done[0].Result != breaker.Failure || !errors.Is(done[0].Err, core.ErrPanicked) {
		t.Errorf("completions %+v, want one failure with core.ErrPanicked", done)
	}
	if s := reg.MustGuard("charge").Snapshot(); s.Breaker.Failed != 1 || s.Bulkhead.InUse != 0 {
		t.Errorf("guard: failed %d, bulkhead in use %d; want 1 and 0", s.Breaker.Failed, s.Bulkhead.InUse)
	}
}

// TestRiverJobSnoozedWhileOpenRunsAfterRecovery: while the guard is open
// the job does not run; River snoozes it until the breaker's retry-after,
// without failing it or counting an attempt, and works it once the
// breaker half-opens, closing the breaker with its success.
func TestRiverJobSnoozedWhileOpenRunsAfterRecovery(t *testing.T) {
	reg := registry(t, time.Minute)
	var ran atomic.Int32
	var mu sync.Mutex
	var delays []time.Duration
	observe := river.WorkerMiddlewareFunc(func(ctx context.Context, job *rivertype.JobRow, doInner func(context.Context) error) error {
		err := doInner(ctx)
		if d, ok := Deferred(err); ok {
			mu.Lock()
			delays = append(delays, d)
			mu.Unlock()
		}
		return err
	})
	client := startClient(t, openDB(t), setup{
		// observe is outermost: it sees what River sees.
		middleware: []rivertype.Middleware{observe, Middleware(reg, WithDelays(10*time.Millisecond, time.Minute))},
		charge: func(context.Context, *river.Job[chargeArgs]) error {
			ran.Add(1)
			return nil
		},
	})
	events, cancelSub := client.Subscribe(river.EventKindJobSnoozed, river.EventKindJobCompleted, river.EventKindJobFailed)
	defer cancelSub()
	g := reg.MustGuard("charge")
	const openFor = time.Second
	g.OpenFor(openFor, breaker.Manual{Actor: "test", Reason: "provider down"})
	openUntil := g.Breaker().Snapshot().OpenUntil

	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	res, err := client.Insert(ctx, chargeArgs{Order: 2}, &river.InsertOpts{Queue: "payments", MaxAttempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	e := waitEvent(t, ctx, events, river.EventKindJobSnoozed, res.Job.ID)
	if n := ran.Load(); n != 0 {
		t.Fatalf("worker ran %d times while the guard was open", n)
	}
	job := e.Job
	if job.Attempt != 0 || len(job.Errors) != 0 {
		t.Errorf("snoozed job: attempt %d, errors %v; a snooze must not count an attempt or record an error", job.Attempt, job.Errors)
	}
	if job.State == rivertype.JobStateRetryable || job.State == rivertype.JobStateDiscarded {
		t.Errorf("snoozed job state %s", job.State)
	}
	// The job is back no earlier than the breaker's retry-after (SQLite
	// keeps milliseconds).
	if job.ScheduledAt.Before(openUntil.Truncate(time.Millisecond)) {
		t.Errorf("snoozed until %v, before the breaker half-opens at %v", job.ScheduledAt, openUntil)
	}
	mu.Lock()
	d := delays[0]
	mu.Unlock()
	if d <= 0 || d > openFor+openFor/5 {
		t.Errorf("snooze delay %v: want the breaker's retry-after (at most %v plus jitter)", d, openFor)
	}

	e = waitEvent(t, ctx, events, river.EventKindJobCompleted, res.Job.ID)
	if n := ran.Load(); n != 1 {
		t.Errorf("worker ran %d times, want once", n)
	}
	if e.Job.Attempt != 1 || len(e.Job.Errors) != 0 {
		t.Errorf("completed job: attempt %d, errors %v; want 1 and none: snoozes used no attempt", e.Job.Attempt, e.Job.Errors)
	}
	s := g.Snapshot()
	if s.Breaker.Rejected < 1 || s.Breaker.Failed != 0 || s.Breaker.Succeeded != 1 || s.Breaker.State != breaker.Closed {
		t.Errorf("guard: rejected %d, failed %d, succeeded %d, state %s; want ≥1, 0, 1, closed",
			s.Breaker.Rejected, s.Breaker.Failed, s.Breaker.Succeeded, s.Breaker.State)
	}
}
