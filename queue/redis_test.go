package queue

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// startRedis runs redis-server on a free loopback port with a temporary
// directory and no persistence, and stops it when the test ends. Without
// redis-server the test is skipped, except on CI (CI=true), where it fails.
func startRedis(t *testing.T) asynq.RedisClientOpt {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		msg := "redis-server not installed (apt-get install redis-server; .ci/run does it)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	ln.Close()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--dir", t.TempDir(),
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning")
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("redis-server exited: %v\n%s", err, out.String())
		default:
		}
		if c, err := net.Dial("tcp", addr); err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return asynq.RedisClientOpt{Addr: addr}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dependency is a fake downstream service that is up or down.
type dependency struct {
	down  atomic.Bool
	calls atomic.Int64
}

func (d *dependency) call() error {
	d.calls.Add(1)
	if d.down.Load() {
		return errDown
	}
	return nil
}

// quietLogger drops asynq's logs.
type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(...any) {}

// serverConfig checks for due retries often, so the tests run in seconds.
func serverConfig(concurrency int) asynq.Config {
	return Configure(asynq.Config{
		Concurrency:              concurrency,
		Queues:                   map[string]int{"payments": 1},
		TaskCheckInterval:        20 * time.Millisecond,
		DelayedTaskCheckInterval: 50 * time.Millisecond,
		// Real failures retry quickly; deferrals use their own delay.
		RetryDelayFunc:  func(int, error, *asynq.Task) time.Duration { return 50 * time.Millisecond },
		Logger:          quietLogger{},
		ShutdownTimeout: 5 * time.Second,
	})
}

// waitFor polls cond (bounded) until it holds; it measures nothing.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAsynqJobRetriedAfterOpenDuration: the dependency is down, the job's
// first attempt fails and opens the breaker; its retry is deferred by the
// open breaker until the open duration has passed, and then, the
// dependency having recovered, the job completes. Deferrals do not count
// as failed attempts.
func TestAsynqJobRetriedAfterOpenDuration(t *testing.T) {
	redis := startRedis(t)
	const openFor = time.Second
	reg := registry(t, openFor)
	dep := &dependency{}
	dep.down.Store(true)

	var mu sync.Mutex
	var openedAt, completedAt time.Time
	var deferrals int
	reg.AddHooks(core.Hooks{OnStateChange: func(_ context.Context, e core.StateChange) {
		if e.To == breaker.Open {
			mu.Lock()
			openedAt = e.At
			mu.Unlock()
			dep.down.Store(false) // recovers while the breaker is open
		}
	}})
	mux := asynq.NewServeMux()
	mux.Use(func(next asynq.Handler) asynq.Handler { // outermost: observe deferrals
		return asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) error {
			err := next.ProcessTask(ctx, task)
			mu.Lock()
			defer mu.Unlock()
			if _, ok := Deferred(err); ok {
				deferrals++
			}
			if err == nil {
				completedAt = time.Now()
			}
			return err
		})
	})
	mux.Use(Middleware(reg))
	mux.HandleFunc("payments:charge", func(ctx context.Context, task *asynq.Task) error { return dep.call() })

	srv := asynq.NewServer(redis, serverConfig(1))
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	client := asynq.NewClient(redis)
	defer client.Close()
	info, err := client.Enqueue(asynq.NewTask("payments:charge", []byte(`{"order":1}`)),
		asynq.Queue("payments"), asynq.MaxRetry(2), asynq.Retention(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(redis)
	defer insp.Close()
	waitFor(t, "the job to complete", 30*time.Second, func() bool {
		ti, err := insp.GetTaskInfo("payments", info.ID)
		return err == nil && ti.State == asynq.TaskStateCompleted
	})
	ti, err := insp.GetTaskInfo("payments", info.ID)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if openedAt.IsZero() || completedAt.Before(openedAt.Add(openFor)) {
		t.Errorf("completed at %v, opened at %v: the job ran before the open duration passed", completedAt, openedAt)
	}
	if deferrals < 1 {
		t.Errorf("deferrals = %d: the retry 50ms after the failure must meet the open breaker", deferrals)
	}
	if ti.Retried != 1 {
		t.Errorf("task retried %d times, want 1: deferrals must not use up MaxRetry", ti.Retried)
	}
	// One failed call, one successful probe: the rejected attempts never
	// reached the dependency.
	if n := dep.calls.Load(); n != 2 {
		t.Errorf("dependency called %d times, want 2", n)
	}
}

// TestAsynqNoJobLostWhenBreakerOpensMidBatch: a batch of jobs runs, the
// dependency goes down in the middle, the breaker opens and the Pauser
// pauses the queue; after recovery every job has completed, none is
// archived, and the dependency saw exactly one success per job.
func TestAsynqNoJobLostWhenBreakerOpensMidBatch(t *testing.T) {
	redis := startRedis(t)
	reg := registry(t, 500*time.Millisecond)
	dep := &dependency{}
	var (
		mu   sync.Mutex
		done = map[string]int{}
	)
	const jobs = 40
	const failAfter = 10 // successes before the dependency goes down
	var wentDown atomic.Bool
	mux := asynq.NewServeMux()
	mux.Use(Middleware(reg))
	mux.HandleFunc("payments:charge", func(ctx context.Context, task *asynq.Task) error {
		mu.Lock()
		n := len(done)
		mu.Unlock()
		if n >= failAfter && wentDown.CompareAndSwap(false, true) {
			dep.down.Store(true)
		}
		if err := dep.call(); err != nil {
			return err
		}
		mu.Lock()
		done[string(task.Payload())]++
		mu.Unlock()
		return nil
	})
	var opens atomic.Int32
	reg.AddHooks(core.Hooks{OnStateChange: func(_ context.Context, e core.StateChange) {
		if e.To == breaker.Open && opens.Add(1) == 1 {
			time.AfterFunc(200*time.Millisecond, func() { dep.down.Store(false) })
		}
	}})

	insp := asynq.NewInspector(redis)
	defer insp.Close()
	pauser, err := NewPauser(reg, insp, map[string][]string{"payments:charge": {"payments"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = pauser.Run(ctx) }()

	client := asynq.NewClient(redis)
	defer client.Close()
	for i := range jobs {
		if _, err := client.Enqueue(asynq.NewTask("payments:charge", []byte(fmt.Sprint(i))),
			asynq.Queue("payments"), asynq.MaxRetry(10), asynq.Retention(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	srv := asynq.NewServer(redis, serverConfig(4))
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	waitFor(t, "every job to complete", 60*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(done) == jobs
	})
	waitFor(t, "asynq to record every completion", 10*time.Second, func() bool {
		q, err := insp.GetQueueInfo("payments")
		return err == nil && q.Completed == jobs
	})
	q, err := insp.GetQueueInfo("payments")
	if err != nil {
		t.Fatal(err)
	}
	if q.Archived != 0 || q.Pending != 0 || q.Retry != 0 || q.Active != 0 || q.Scheduled != 0 {
		t.Errorf("queue %+v: jobs left behind", q)
	}
	mu.Lock()
	for i := range jobs {
		if n := done[fmt.Sprint(i)]; n != 1 {
			t.Errorf("job %d succeeded %d times", i, n)
		}
	}
	mu.Unlock()
	if opens.Load() == 0 {
		t.Fatal("the breaker never opened")
	}
	s := pauser.Stats()
	if s.Pauses == 0 || s.Unpauses == 0 {
		t.Errorf("pauser %+v: the queue was not paused and resumed", s)
	}
	if q.Paused {
		t.Error("queue still paused")
	}
	if st := reg.MustGuard("payments:charge").Breaker().State(); st != breaker.Closed {
		t.Errorf("breaker %v", st)
	}
}
