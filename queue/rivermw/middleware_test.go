package rivermw

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
)

func TestDeferredErrorIsARiverSnooze(t *testing.T) {
	rej := &core.RejectedError{Guard: "charge", Reason: breaker.ErrOpen}
	err := fmt.Errorf("outer: %w", &DeferredError{Guard: "charge", Delay: 3 * time.Second, Err: rej})
	var snooze *river.JobSnoozeError
	if !errors.As(err, &snooze) || snooze.Duration != 3*time.Second {
		t.Fatalf("River reads no snooze of 3s from %v (%+v)", err, snooze)
	}
	if !errors.Is(err, core.ErrRejected) || !errors.Is(err, breaker.ErrOpen) {
		t.Errorf("the rejection is not reachable: %v", err)
	}
	if d, ok := Deferred(err); !ok || d != 3*time.Second {
		t.Errorf("Deferred = %v, %v", d, ok)
	}
	if d, ok := core.RetryAfter(err); !ok || d != 3*time.Second {
		t.Errorf("core.RetryAfter = %v, %v", d, ok)
	}
	if !strings.Contains(err.Error(), `rivermw: job snoozed 3s by guard "charge"`) {
		t.Errorf("message %q", err)
	}
	if _, ok := Deferred(errors.New("other")); ok {
		t.Error("Deferred of another error")
	}
	// A negative delay (only a hand-made DeferredError has one) snoozes
	// for zero rather than making River panic.
	neg := &DeferredError{Delay: -time.Second, Err: rej}
	if !errors.As(neg, &snooze) || snooze.Duration != 0 {
		t.Errorf("negative delay: snooze %+v", snooze)
	}
}

func TestDelayBounds(t *testing.T) {
	open := &core.RejectedError{Guard: "g", Reason: breaker.ErrOpen}
	hint := func(d time.Duration) error { return fmt.Errorf("wrapped: %w", retryAfterErr(d)) }
	tests := []struct {
		name string
		opts []Option
		err  error
		u    float64
		want time.Duration
	}{
		{"no hint: min", nil, open, 0, DefaultMinDelay},
		{"hint", nil, hint(5 * time.Second), 0, 5 * time.Second},
		{"jitter adds", nil, hint(5 * time.Second), 0.5, 5*time.Second + time.Duration(0.5*DefaultJitter*float64(5*time.Second))},
		{"capped", []Option{WithDelays(time.Second, time.Minute)}, hint(time.Hour), 0, time.Minute},
		{"raised", []Option{WithDelays(3*time.Second, time.Minute)}, hint(time.Second), 0, 3 * time.Second},
		{"min zero keeps default", []Option{WithDelays(0, time.Minute)}, hint(time.Millisecond), 0, DefaultMinDelay},
		{"max below min", []Option{WithDelays(3*time.Second, time.Second)}, hint(time.Hour), 0, 3 * time.Second},
		{"no jitter", []Option{WithJitter(0)}, hint(time.Second), 0.9, time.Second},
		{"jitter clamped", []Option{WithJitter(5)}, hint(time.Second), 1, 2 * time.Second},
		{"negative jitter", []Option{WithJitter(-1)}, hint(time.Second), 1, time.Second},
	}
	for _, tt := range tests {
		c := newConfig(tt.opts)
		c.rand = func() float64 { return tt.u }
		if got := c.delay(tt.err); got != tt.want {
			t.Errorf("%s: delay = %v, want %v", tt.name, got, tt.want)
		}
	}
}

type retryAfterErr time.Duration

func (e retryAfterErr) Error() string             { return "busy" }
func (e retryAfterErr) RetryAfter() time.Duration { return time.Duration(e) }

// TestMiddlewareIgnoresJobVerdicts: a job that cancels or snoozes itself
// says nothing about its dependency; without the default classifier they
// are failures.
func TestMiddlewareIgnoresJobVerdicts(t *testing.T) {
	reg := registry(t, time.Minute)
	mw := Middleware(reg, WithGuardName(func(kind string) string { return "svc:" + kind }))
	job := &rivertype.JobRow{Kind: "email"}
	for _, verdict := range []error{river.JobCancel(errors.New("bad address")), river.JobSnooze(time.Second)} {
		err := mw.Work(context.Background(), job, func(context.Context) error { return verdict })
		if err != verdict {
			t.Errorf("Work returned %v, want the job's %v", err, verdict)
		}
	}
	g, ok := reg.Lookup("svc:email")
	if !ok {
		t.Fatal("WithGuardName not used")
	}
	if s := g.Breaker().Snapshot(); s.Ignored != 2 || s.Failed != 0 || s.State != breaker.Closed {
		t.Errorf("snapshot %+v, want two ignored calls", s)
	}
	strict := Middleware(reg, WithClassifier(nil))
	_ = strict.Work(context.Background(), &rivertype.JobRow{Kind: "sms"}, func(context.Context) error { return river.JobCancel(errDown) })
	if s := reg.MustGuard("sms").Breaker().Snapshot(); s.Failed != 1 {
		t.Errorf("WithClassifier(nil): snapshot %+v, want one failure", s)
	}
	if err := Middleware(nil).Work(context.Background(), job, func(context.Context) error { return nil }); err == nil || !strings.Contains(err.Error(), "reg is nil") {
		t.Errorf("nil registry: %v", err)
	}
}

// TestMiddlewareBulkheadFullSnoozesWithMinDelay: a rejection without a
// retry-after snoozes for the least delay.
func TestMiddlewareBulkheadFullSnoozesWithMinDelay(t *testing.T) {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name: "narrow", Match: []string{"*"}, Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1},
	}))
	if err != nil {
		t.Fatal(err)
	}
	mw := Middleware(reg, WithJitter(0), WithDelays(2*time.Second, time.Minute))
	job := &rivertype.JobRow{Kind: "export"}
	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error)
	go func() {
		done <- mw.Work(context.Background(), job, func(context.Context) error {
			close(inside)
			<-release
			return nil
		})
	}()
	<-inside
	ran := false
	err = mw.Work(context.Background(), job, func(context.Context) error { ran = true; return nil })
	var snooze *river.JobSnoozeError
	if ran || !errors.As(err, &snooze) || snooze.Duration != 2*time.Second || !errors.Is(err, bulkhead.ErrFull) {
		t.Errorf("second job: ran %v, err %v", ran, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestMiddlewareAdmitsWithoutAllocating: a job admitted by a closed guard
// costs no allocation in the middleware.
func TestMiddlewareAdmitsWithoutAllocating(t *testing.T) {
	mw := Middleware(registry(t, time.Minute))
	job := &rivertype.JobRow{Kind: "alloc"}
	inner := func(context.Context) error { return nil }
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = mw.Work(ctx, job, inner) }); n != 0 {
		t.Errorf("%v allocations per admitted job, want 0", n)
	}
}

func BenchmarkMiddleware(b *testing.B) {
	reg := registry(b, time.Minute)
	mw := Middleware(reg)
	job := &rivertype.JobRow{Kind: "bench"}
	inner := func(context.Context) error { return nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = mw.Work(ctx, job, inner)
	}
}
