package queue

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// TestPanickingJobReportedOnce: a job that panics, under Wrap or under
// Middleware, is one failure with core.ErrPanicked, frees its bulkhead
// slot, and its panic goes on.
func TestPanickingJobReportedOnce(t *testing.T) {
	var mu sync.Mutex
	var seen []core.Completion
	reg, err := core.NewRegistry(
		core.WithPolicies(core.Policy{Name: "jobs", Match: []string{"*"}, Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1}}),
		core.WithHooks(core.Hooks{OnDone: func(_ context.Context, c core.Completion) {
			mu.Lock()
			seen = append(seen, c)
			mu.Unlock()
		}}))
	if err != nil {
		t.Fatal(err)
	}
	wrapped := Wrap(reg.MustGuard("wrap"), func(context.Context, string) error { panic("boom") })
	mw := Middleware(reg)(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { panic("boom") }))
	for name, run := range map[string]func() error{
		"wrap":       func() error { return wrapped(context.Background(), "x") },
		"email:send": func() error { return mw.ProcessTask(context.Background(), asynq.NewTask("email:send", nil)) },
	} {
		func() {
			defer func() {
				if v := recover(); v != "boom" {
					t.Errorf("%s: recovered %v, want the job's panic", name, v)
				}
			}()
			_ = run()
		}()
		mu.Lock()
		got := seen
		seen = nil
		mu.Unlock()
		if len(got) != 1 || got[0].Guard != name || got[0].Result != breaker.Failure || !errors.Is(got[0].Err, core.ErrPanicked) {
			t.Errorf("%s: completions %+v, want one failure with core.ErrPanicked", name, got)
		}
		g, _ := reg.Lookup(name)
		if s := g.Snapshot(); s.Breaker.Failed != 1 || s.Breaker.Succeeded+s.Breaker.Ignored != 0 || s.Bulkhead.InUse != 0 {
			t.Errorf("%s: breaker %+v, bulkhead in use %d; want one failure and a free slot", name, s.Breaker, s.Bulkhead.InUse)
		}
	}
}
