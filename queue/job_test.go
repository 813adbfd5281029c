package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hibiken/asynq"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
)

var errDown = errors.New("dependency down")

func registry(t testing.TB, open time.Duration) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:    "jobs",
		Match:   []string{"*"},
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1, DisableFailureRate: true, OpenDuration: core.Duration(open), OpenBackoff: 1},
	}, core.Policy{
		Name:     "narrow",
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1},
	}))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestWrapDefersWhileOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := registry(t, 30*time.Second)
		g := reg.MustGuard("charge")
		var ran []int
		job := Wrap(g, func(_ context.Context, id int) error {
			ran = append(ran, id)
			if id == 1 {
				return errDown
			}
			return nil
		}, WithJitter(0))
		ctx := context.Background()
		if err := job(ctx, 1); !errors.Is(err, errDown) {
			t.Fatalf("job 1: %v", err)
		}
		time.Sleep(10 * time.Second)
		err := job(ctx, 2)
		d, ok := Deferred(err)
		if !ok || d != 20*time.Second {
			t.Fatalf("job 2: %v (delay %v), want deferred 20s", err, d)
		}
		if !errors.Is(err, core.ErrRejected) || !errors.Is(err, breaker.ErrOpen) {
			t.Errorf("deferral does not wrap the rejection: %v", err)
		}
		if ra, _ := core.RetryAfter(err); ra != 20*time.Second {
			t.Errorf("core.RetryAfter = %v", ra)
		}
		var de *DeferredError
		if !errors.As(err, &de) || de.Guard != "charge" || !strings.Contains(de.Error(), `deferred 20s by guard "charge"`) {
			t.Errorf("error %v", err)
		}
		time.Sleep(d)
		synctest.Wait() // let the breaker's open timer fire first
		if err := job(ctx, 2); err != nil {
			t.Fatalf("job 2 after the delay: %v", err)
		}
		if fmt.Sprint(ran) != "[1 2]" {
			t.Errorf("ran %v: job 2 must not run while deferred", ran)
		}
		if st := g.Breaker().State(); st != breaker.Closed {
			t.Errorf("state %v", st)
		}
	})
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
		{"max below min", []Option{WithDelays(3*time.Second, time.Second)}, hint(time.Hour), 0, 3 * time.Second},
		{"no jitter", []Option{WithJitter(0)}, hint(time.Second), 0.9, time.Second},
		{"jitter clamped", []Option{WithJitter(5)}, hint(time.Second), 1, 2 * time.Second},
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

func TestWrapBulkheadFullDefersWithMinDelay(t *testing.T) {
	reg := registry(t, time.Minute)
	g, err := reg.Guard("narrow-job", core.UsePolicy("narrow"))
	if err != nil {
		t.Fatal(err)
	}
	inside := make(chan struct{})
	release := make(chan struct{})
	job := Wrap(g, func(_ context.Context, block bool) error {
		if block {
			close(inside)
			<-release
		}
		return nil
	}, WithJitter(0), WithDelays(2*time.Second, time.Minute))
	done := make(chan error)
	go func() { done <- job(context.Background(), true) }()
	<-inside
	err = job(context.Background(), false)
	if d, ok := Deferred(err); !ok || d != 2*time.Second || !errors.Is(err, bulkhead.ErrFull) {
		t.Errorf("second job: %v (%v)", err, d)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWrapPanicCountsAsFailure(t *testing.T) {
	reg := registry(t, time.Minute)
	g := reg.MustGuard("p")
	job := Wrap(g, func(context.Context, string) error { panic("boom") })
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v", r)
			}
		}()
		_ = job(context.Background(), "x")
	}()
	if st := g.Breaker().State(); st != breaker.Open {
		t.Errorf("state after panic = %v, want open (one failure trips)", st)
	}
}

func TestMiddlewareClassifiesSkipRetryAsIgnored(t *testing.T) {
	reg := registry(t, time.Minute)
	h := Middleware(reg)(asynq.HandlerFunc(func(_ context.Context, t *asynq.Task) error {
		return fmt.Errorf("bad payload: %w", asynq.SkipRetry)
	}))
	if err := h.ProcessTask(context.Background(), asynq.NewTask("email:send", nil)); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("err %v", err)
	}
	g, _ := reg.Lookup("email:send")
	if s := g.Breaker().Snapshot(); s.State != breaker.Closed || s.Ignored != 1 {
		t.Errorf("snapshot %+v", s)
	}
	named := Middleware(reg, WithGuardName(func(tt string) string { return "svc:" + strings.Split(tt, ":")[0] }))
	_ = named(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil })).ProcessTask(context.Background(), asynq.NewTask("sms:send", nil))
	if _, ok := reg.Lookup("svc:sms"); !ok {
		t.Error("WithGuardName not used")
	}
}

func TestConfigure(t *testing.T) {
	def := &DeferredError{Guard: "g", Delay: 7 * time.Second, Err: breaker.ErrOpen}
	cfg := Configure(asynq.Config{RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Millisecond }})
	if d := cfg.RetryDelayFunc(3, fmt.Errorf("x: %w", def), nil); d != 7*time.Second {
		t.Errorf("deferred delay %v", d)
	}
	if d := cfg.RetryDelayFunc(3, errDown, nil); d != time.Millisecond {
		t.Errorf("other delay %v", d)
	}
	if cfg.IsFailure(def) || !cfg.IsFailure(errDown) {
		t.Error("IsFailure")
	}
	if d := RetryDelay(nil)(0, errDown, asynq.NewTask("t", nil)); d < 15*time.Second {
		t.Errorf("default delay %v", d)
	}
	if f := IsFailure(func(error) bool { return false }); f(errDown) {
		t.Error("IsFailure ignores next")
	}
}

// fakeInspector records pause calls and can refuse them.
type fakeInspector struct {
	mu     sync.Mutex
	paused map[string]bool
	calls  []string
	refuse int // refuse this many calls
}

func (f *fakeInspector) PauseQueue(q string) error   { return f.set(q, true) }
func (f *fakeInspector) UnpauseQueue(q string) error { return f.set(q, false) }

func (f *fakeInspector) set(q string, p bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.refuse > 0 {
		f.refuse--
		return errors.New("redis down")
	}
	if f.paused[q] == p {
		return fmt.Errorf("queue %q already in that state", q)
	}
	f.paused[q] = p
	f.calls = append(f.calls, fmt.Sprintf("%s=%v", q, p))
	return nil
}

func (f *fakeInspector) GetQueueInfo(q string) (*asynq.QueueInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &asynq.QueueInfo{Queue: q, Paused: f.paused[q]}, nil
}

func (f *fakeInspector) log() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, " ")
}

func TestPauser(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := registry(t, 10*time.Second)
		insp := &fakeInspector{paused: map[string]bool{"stale": true}}
		p, err := NewPauser(reg, insp, map[string][]string{"pay": {"payments", "refunds"}, "refund": {"refunds"}, "old": {"stale"}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- p.Run(ctx) }()
		synctest.Wait()
		if l := insp.log(); l != "stale=false" {
			t.Fatalf("start: %q (a queue left paused with its guard closed must resume)", l)
		}
		pay, refund := reg.MustGuard("pay"), reg.MustGuard("refund")
		pay.Breaker().ForceOpen(breaker.Manual{})
		synctest.Wait()
		if l := insp.log(); l != "stale=false payments=true refunds=true" {
			t.Fatalf("after open: %q", l)
		}
		refund.ForceOpen(breaker.Manual{})
		pay.Release(breaker.Manual{})
		synctest.Wait()
		if l := insp.log(); l != "stale=false payments=true refunds=true payments=false" {
			t.Fatalf("refunds must stay paused while refund is open: %q", l)
		}
		// Redis refuses twice: the pauser retries every second.
		insp.mu.Lock()
		insp.refuse = 2
		insp.mu.Unlock()
		refund.Release(breaker.Manual{})
		synctest.Wait()
		if s := p.Stats(); s.Failures != 1 || s.LastError == nil {
			t.Fatalf("stats %+v", s)
		}
		time.Sleep(2 * DefaultPauseRetry)
		synctest.Wait()
		if l := insp.log(); !strings.HasSuffix(l, "refunds=false") {
			t.Fatalf("after retries: %q", l)
		}
		if s := p.Stats(); s.Pauses != 2 || s.Unpauses != 3 || s.Failures != 2 {
			t.Errorf("stats %+v", s)
		}
		// An automatic trip pauses; half-open resumes so tasks can probe.
		_ = pay.Do(context.Background(), func(context.Context) error { return errDown })
		synctest.Wait()
		time.Sleep(10 * time.Second)
		synctest.Wait() // the open timer has fired
		if st := pay.Breaker().State(); st != breaker.HalfOpen {
			t.Fatalf("state %v", st)
		}
		if l := insp.log(); !strings.HasSuffix(l, "payments=true refunds=true payments=false refunds=false") {
			t.Fatalf("trip then half-open: %q", l)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run = %v", err)
		}
	})
}

func TestNewPauserErrors(t *testing.T) {
	reg := registry(t, time.Second)
	if _, err := NewPauser(nil, &fakeInspector{}, nil); err == nil {
		t.Error("nil registry")
	}
	if _, err := NewPauser(reg, &fakeInspector{}, map[string][]string{"": {"q"}}); err == nil {
		t.Error("empty guard")
	}
	if _, err := NewPauser(reg, &fakeInspector{}, map[string][]string{"g": {""}}); err == nil || !strings.Contains(err.Error(), `"g": a queue name is empty`) {
		t.Errorf("empty queue: %v", err)
	}
}

func BenchmarkWrap(b *testing.B) {
	reg := registry(b, time.Minute)
	job := Wrap(reg.MustGuard("bench"), func(context.Context, int) error { return nil })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_ = job(ctx, 1)
	}
}

func BenchmarkWrapParallel(b *testing.B) {
	reg := registry(b, time.Minute)
	job := Wrap(reg.MustGuard("bench"), func(context.Context, int) error { return nil })
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_ = job(ctx, 1)
		}
	})
}
