package rivermw

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

func TestNewPauserErrors(t *testing.T) {
	reg := registry(t, time.Second)
	var client *river.Client[any] // any non-nil QueueController will do
	tests := []struct {
		name   string
		reg    *core.Registry
		client QueueController
		gq     map[string][]string
		want   string
	}{
		{"nil registry", nil, client, nil, "reg is nil"},
		{"nil client", reg, nil, nil, "client is nil"},
		{"empty guard", reg, client, map[string][]string{"": {"q"}}, "a guard name is empty"},
		{"empty queue", reg, client, map[string][]string{"g": {""}}, `guardQueues["g"]: a queue name is empty`},
		{"every queue", reg, client, map[string][]string{"g": {"a", "*"}}, `guardQueues["g"]: queue name "*" (every queue) is not supported`},
	}
	for _, tt := range tests {
		if _, err := NewPauser(tt.reg, tt.client, tt.gq); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

// TestRiverPauserFollowsGuardState: the pauser resumes a queue left paused
// while its guard is closed, pauses it when the guard opens (the client
// then works other queues but not this one), resumes it on release, and
// again when an open breaker half-opens on its own.
func TestRiverPauserFollowsGuardState(t *testing.T) {
	reg := registry(t, time.Minute)
	var paused atomic.Bool // the pauser's last applied state, as River reports it
	var wrongRuns atomic.Int32
	client := startClient(t, openDB(t), setup{
		middleware: []rivertype.Middleware{Middleware(reg)},
		charge: func(context.Context, *river.Job[chargeArgs]) error {
			if paused.Load() {
				wrongRuns.Add(1)
			}
			return nil
		},
	})
	events, cancelSub := client.Subscribe(river.EventKindQueuePaused, river.EventKindQueueResumed,
		river.EventKindJobCompleted, river.EventKindJobSnoozed)
	defer cancelSub()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()

	// A queue left paused by an earlier run, whose guard is now closed.
	if err := client.QueuePause(ctx, "payments", nil); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ctx, events, river.EventKindQueuePaused, 0)

	p, err := NewPauser(reg, client, map[string][]string{"charge": {"payments"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(runCtx) }()
	waitEvent(t, ctx, events, river.EventKindQueueResumed, 0)

	g := reg.MustGuard("charge")
	g.ForceOpen(breaker.Manual{Actor: "test"})
	e := waitEvent(t, ctx, events, river.EventKindQueuePaused, 0)
	paused.Store(true)
	if e.Queue == nil || e.Queue.Name != "payments" {
		t.Fatalf("paused %+v", e.Queue)
	}
	q, err := client.QueueGet(ctx, "payments")
	if err != nil || q.PausedAt == nil {
		t.Fatalf("queue %+v, %v: not paused in the database", q, err)
	}
	charge, err := client.Insert(ctx, chargeArgs{Order: 3}, &river.InsertOpts{Queue: "payments"})
	if err != nil {
		t.Fatal(err)
	}
	note, err := client.Insert(ctx, noteArgs{}, &river.InsertOpts{Queue: "other"})
	if err != nil {
		t.Fatal(err)
	}
	// The other queue is worked; the paused one is not fetched (a fetched
	// job would be snoozed by the open guard, or counted by the worker).
	for {
		e := waitEvent(t, ctx, events, river.EventKindJobCompleted, 0)
		if e.Job.ID == charge.Job.ID {
			t.Fatal("a job of the paused queue ran")
		}
		if e.Job.ID == note.Job.ID {
			break
		}
	}

	paused.Store(false)
	g.Release(breaker.Manual{Actor: "test"})
	waitEvent(t, ctx, events, river.EventKindQueueResumed, 0)
	waitEvent(t, ctx, events, river.EventKindJobCompleted, charge.Job.ID)
	if s := g.Snapshot(); s.Breaker.Rejected != 0 {
		t.Errorf("guard rejected %d jobs: the paused queue's job was fetched while the guard was open", s.Breaker.Rejected)
	}

	// An open breaker that half-opens by itself resumes the queue.
	g.OpenFor(200*time.Millisecond, breaker.Manual{Actor: "test"})
	waitEvent(t, ctx, events, river.EventKindQueuePaused, 0)
	waitEvent(t, ctx, events, river.EventKindQueueResumed, 0)
	if st := g.Breaker().State(); st != breaker.HalfOpen {
		t.Errorf("resumed in state %s, want half-open", st)
	}

	stop()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v", err)
	}
	if n := wrongRuns.Load(); n != 0 {
		t.Errorf("%d jobs ran while their queue was paused", n)
	}
	if s := p.Stats(); s.Pauses != 2 || s.Resumes != 3 || s.Failures != 0 {
		t.Errorf("stats %+v, want 2 pauses, 3 resumes, no failures", s)
	}
}

// TestRiverPauserRetriesUntilQueueExists: River cannot pause a queue no
// client has worked yet; the pauser counts the refusal, retries, and
// pauses the queue once a client starts working it.
func TestRiverPauserRetriesUntilQueueExists(t *testing.T) {
	reg := registry(t, time.Minute)
	client := startClient(t, openDB(t), setup{middleware: []rivertype.Middleware{Middleware(reg)}})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	p, err := NewPauser(reg, client, map[string][]string{"charge": {"later"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.retry = 20 * time.Millisecond
	reg.MustGuard("charge").ForceOpen(breaker.Manual{})
	go func() { _ = p.Run(ctx) }()
	waitFor(t, ctx, "a refused pause", func() bool { return p.Stats().Failures > 0 })
	if s := p.Stats(); !errors.Is(s.LastError, rivertype.ErrNotFound) {
		t.Errorf("last error %v, want rivertype.ErrNotFound", s.LastError)
	}
	if err := client.Queues().Add("later", river.QueueConfig{MaxWorkers: 1}); err != nil {
		t.Fatal(err)
	}
	// The pause is counted once QueuePause has returned, a moment after the
	// database shows it: wait for both.
	waitFor(t, ctx, "the queue to be paused", func() bool {
		q, err := client.QueueGet(ctx, "later")
		return err == nil && q.PausedAt != nil && p.Stats().Pauses > 0
	})
	if s := p.Stats(); s.Pauses != 1 {
		t.Errorf("stats %+v", s)
	}
}
