package core

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// settleGuard returns a guard with a one-slot bulkhead and a record of the
// completions its OnDone hook saw.
func settleGuard(t *testing.T) (*Guard, func() []Completion) {
	t.Helper()
	var mu sync.Mutex
	var done []Completion
	r := mustRegistry(t,
		WithPolicies(Policy{Name: "p", Bulkhead: &BulkheadPolicy{MaxConcurrent: 1}}),
		WithHooks(Hooks{OnDone: func(_ context.Context, c Completion) {
			mu.Lock()
			done = append(done, c)
			mu.Unlock()
		}}))
	return mustGuard(t, r, "p"), func() []Completion {
		mu.Lock()
		defer mu.Unlock()
		return append([]Completion(nil), done...)
	}
}

// checkOneOutcome fails unless g's breaker counted exactly one outcome, of
// the given result and error, and the bulkhead slot is free.
func checkOneOutcome(t *testing.T, g *Guard, done []Completion, r breaker.Result, err error) {
	t.Helper()
	s := g.Snapshot()
	if n := s.Breaker.Succeeded + s.Breaker.Failed + s.Breaker.Ignored; n != 1 {
		t.Errorf("breaker counted %d outcomes, want 1: %+v", n, s.Breaker)
	}
	if len(done) != 1 || done[0].Result != r || !errors.Is(done[0].Err, err) {
		t.Errorf("completions %+v, want one %v with %v", done, r, err)
	}
	if s.Bulkhead.InUse != 0 {
		t.Errorf("bulkhead in use %d, want 0", s.Bulkhead.InUse)
	}
}

// TestSettleAfterDoneDoesNothing: a deferred Settle after Done leaves the
// one outcome Done reported, and does not free the bulkhead slot twice.
func TestSettleAfterDoneDoesNothing(t *testing.T) {
	g, done := settleGuard(t)
	func() {
		p, err := g.Allow(bg)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Settle()
		p.Done(nil)
	}()
	checkOneOutcome(t, g, done(), breaker.Success, nil)
	// A second release would have let two calls into the one-slot bulkhead.
	held, err := g.Allow(bg)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Done(nil)
	if _, err := g.Allow(bg); !errors.Is(err, ErrRejected) {
		t.Fatalf("second call into a one-slot bulkhead: %v, want a rejection", err)
	}
}

// TestPermitSecondReportDoesNothing: only the first of Done, Finish and
// Report counts; a second report used to count the call twice and free its
// bulkhead slot twice.
func TestPermitSecondReportDoesNothing(t *testing.T) {
	g, done := settleGuard(t)
	p, err := g.Allow(bg)
	if err != nil {
		t.Fatal(err)
	}
	p.Report(breaker.Failure, boom)
	p.Done(nil)
	p.Finish(breaker.Outcome{})
	if !p.Reported() {
		t.Error("Reported() = false after Report")
	}
	checkOneOutcome(t, g, done(), breaker.Failure, boom)
}

// TestSettleReportsPanicOnce: a panic under a deferred Settle is one
// failure with ErrPanicked, and the panic goes on with its own value.
func TestSettleReportsPanicOnce(t *testing.T) {
	g, done := settleGuard(t)
	func() {
		defer func() {
			if v := recover(); v != "kaboom" {
				t.Errorf("recovered %v, want the call's panic", v)
			}
		}()
		p, err := g.Allow(bg)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Settle()
		panic("kaboom")
	}()
	checkOneOutcome(t, g, done(), breaker.Failure, ErrPanicked)
}

// TestSettleReportsAbandonedPermitOnce: a call that returns without
// reporting is one failure with ErrAbandoned; a late Done is ignored.
func TestSettleReportsAbandonedPermitOnce(t *testing.T) {
	g, done := settleGuard(t)
	var p Permit
	func() {
		var err error
		if p, err = g.Allow(bg); err != nil {
			t.Fatal(err)
		}
		defer p.Settle()
		// returns early, forgetting Done
	}()
	p.Done(nil)
	checkOneOutcome(t, g, done(), breaker.Failure, ErrAbandoned)
}

// TestSettleCalledIndirectlyDuringPanic: Settle called from another
// deferred function cannot recover; it reports ErrAbandoned once and the
// panic goes on.
func TestSettleCalledIndirectlyDuringPanic(t *testing.T) {
	g, done := settleGuard(t)
	func() {
		defer func() {
			if v := recover(); v != "kaboom" {
				t.Errorf("recovered %v, want the call's panic", v)
			}
		}()
		p, err := g.Allow(bg)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { p.Settle() }()
		panic("kaboom")
	}()
	checkOneOutcome(t, g, done(), breaker.Failure, ErrAbandoned)
}

// TestDoGoexitIsOneFailure: a guarded function whose goroutine calls
// runtime.Goexit (t.FailNow, say) is counted once, as a failure.
func TestDoGoexitIsOneFailure(t *testing.T) {
	g, done := settleGuard(t)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		_ = g.Do(bg, func(context.Context) error {
			runtime.Goexit()
			return nil
		})
	}()
	<-finished
	checkOneOutcome(t, g, done(), breaker.Failure, ErrAbandoned)
}

// TestDoPanicIsOneFailure: core.Do reports a panic once, as a failure with
// ErrPanicked, on both of its paths (with and without retries).
func TestDoPanicIsOneFailure(t *testing.T) {
	for _, name := range []string{"simple", "composite"} {
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			var done []Completion
			pol := Policy{Name: "p", Bulkhead: &BulkheadPolicy{MaxConcurrent: 1}}
			if name == "composite" {
				pol.Retry = &RetryPolicy{MaxAttempts: 3}
			}
			r := mustRegistry(t, WithPolicies(pol), WithHooks(Hooks{OnDone: func(_ context.Context, c Completion) {
				mu.Lock()
				done = append(done, c)
				mu.Unlock()
			}}))
			g := mustGuard(t, r, "p")
			if g.Composite() != (name == "composite") {
				t.Fatalf("Composite() = %v", g.Composite())
			}
			func() {
				defer func() {
					if v := recover(); v != "kaboom" {
						t.Errorf("recovered %v, want the call's panic", v)
					}
				}()
				_, _ = Do(bg, g, func(context.Context) (int, error) { panic("kaboom") })
			}()
			mu.Lock()
			defer mu.Unlock()
			checkOneOutcome(t, g, done, breaker.Failure, ErrPanicked)
		})
	}
}

// TestZeroPermitSettle: the zero Permit (a rejected call's) reports nothing.
func TestZeroPermitSettle(t *testing.T) {
	var p Permit
	p.Settle()
	p.Done(boom)
	if p.Reported() {
		t.Error("zero Permit Reported() = true")
	}
}
