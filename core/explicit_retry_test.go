package core

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
)

// hintErr is a failure that carries a retry-after hint.
type hintErr struct{ d time.Duration }

func (e hintErr) Error() string             { return fmt.Sprintf("busy, retry after %v", e.d) }
func (e hintErr) RetryAfter() time.Duration { return e.d }

var errFlaky = errors.New("flaky")

// retryScript is a deterministic table of attempt outcomes: outcome(i, n)
// is the error of attempt n (1-based) of call i.
type retryScript struct{ out [][]error }

func newRetryScript(seed uint64, calls, attempts int) retryScript {
	rng := rand.New(rand.NewPCG(seed, 1))
	s := retryScript{out: make([][]error, calls)}
	for i := range s.out {
		s.out[i] = make([]error, attempts)
		for n := range s.out[i] {
			switch x := rng.Float64(); {
			case x < 0.35:
				s.out[i][n] = errFlaky
			case x < 0.43:
				s.out[i][n] = hintErr{700 * time.Millisecond}
			case x < 0.48:
				s.out[i][n] = fmt.Errorf("gave up: %w", context.Canceled) // never retried
			}
		}
	}
	return s
}

// jitterU is the jitter draw for the retry after attempt n of call i: a
// function of the key, so that Do's draws and RetryAt's inputs line up.
func jitterU(i, n int) float64 {
	return rand.New(rand.NewPCG(uint64(i), uint64(n))).Float64()
}

func errClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, retry.ErrBudgetExhausted):
		return "budget"
	case errors.Is(err, breaker.ErrOpen):
		return "open"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.As(err, new(hintErr)):
		return "hint"
	case errors.Is(err, errFlaky):
		return "flaky"
	}
	return "other: " + err.Error()
}

// callTrace is what one call did: when each attempt started (offset from
// the start of the run), its final error's class, and the delays OnRetry
// saw.
type callTrace struct {
	attempts []time.Duration
	delays   []time.Duration
	result   string
}

const (
	retryCalls   = 60
	retryEvery   = 400 * time.Millisecond
	retryLatency = 10 * time.Millisecond
)

// TestRetryAtDecidesAsDo holds RetryAt to Do: the same calls, attempt
// outcomes and jitter draws, run once through Guard.Do on the fake clock
// of a synctest bubble and once through BeginAt/AllowAt/DoneAt/RetryAt on
// explicit times, give the same attempts at the same times, the same
// delays and the same final errors, and the same counters. The script
// exercises every branch: retries, retry-after hints, non-retryable
// errors, attempts used up, MaxTotal, the budget and an open breaker.
func TestRetryAtDecidesAsDo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		retry RetryPolicy
		total time.Duration
	}{
		{"full jitter", RetryPolicy{MaxAttempts: 4, InitialDelay: Duration(100 * time.Millisecond), MaxDelay: Duration(2 * time.Second), MaxTotal: Duration(450 * time.Millisecond), Jitter: "full"}, 0},
		{"decorrelated, total timeout", RetryPolicy{MaxAttempts: 5, InitialDelay: Duration(50 * time.Millisecond), MaxDelay: Duration(time.Second), Jitter: "decorrelated"}, 800 * time.Millisecond},
		{"no jitter", RetryPolicy{MaxAttempts: 3, InitialDelay: Duration(200 * time.Millisecond), Jitter: "none"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp := tc.retry
			// 80s window: nothing expires during the run, so that Do's
			// Deposit (which reads the clock once per 32 calls) and
			// DepositAt count the same.
			rp.Budget = &RetryBudgetPolicy{Ratio: 0.4, MinRetriesPerSec: -1, Window: Duration(80 * time.Second)}
			p := Policy{Name: "p", Retry: &rp, TotalTimeout: Duration(tc.total),
				Breaker: &BreakerPolicy{ConsecutiveFailures: 5, OpenDuration: Duration(1500 * time.Millisecond)}}
			script := newRetryScript(7, retryCalls, 8)
			var viaDo, viaAt []callTrace
			var snapDo, snapAt GuardSnapshot
			synctest.Test(t, func(t *testing.T) { viaDo, snapDo = runRetryDo(t, p, script) })
			synctest.Test(t, func(t *testing.T) { viaAt, snapAt = runRetryAt(t, p, script) })
			classes := map[string]int{}
			for i := range viaDo {
				d, a := viaDo[i], viaAt[i]
				classes[d.result]++
				if !slices.Equal(d.attempts, a.attempts) || !slices.Equal(d.delays, a.delays) || d.result != a.result {
					t.Errorf("call %d: Do made attempts at %v with delays %v and returned %s; RetryAt gave %v, %v, %s",
						i, d.attempts, d.delays, d.result, a.attempts, a.delays, a.result)
				}
			}
			if snapDo.Retries != snapAt.Retries || snapDo.RetryBudgetExhausted != snapAt.RetryBudgetExhausted ||
				snapDo.Breaker.Admitted != snapAt.Breaker.Admitted || snapDo.Rejected != snapAt.Rejected {
				t.Errorf("counters: Do retries %d, exhausted %d, admitted %d, rejected %+v; RetryAt %d, %d, %d, %+v",
					snapDo.Retries, snapDo.RetryBudgetExhausted, snapDo.Breaker.Admitted, snapDo.Rejected,
					snapAt.Retries, snapAt.RetryBudgetExhausted, snapAt.Breaker.Admitted, snapAt.Rejected)
			}
			for _, c := range []string{"ok", "budget", "canceled"} {
				if classes[c] == 0 {
					t.Errorf("no call ended %q (%v): the script no longer exercises that branch", c, classes)
				}
			}
			if snapDo.Retries == 0 || snapDo.Breaker.Transitions == 0 {
				t.Errorf("retries %d, transitions %d: the script exercises neither retries nor the breaker", snapDo.Retries, snapDo.Breaker.Transitions)
			}
			t.Logf("results %v, retries %d, budget refusals %d, transitions %d", classes, snapDo.Retries, snapDo.RetryBudgetExhausted, snapDo.Breaker.Transitions)
		})
	}
}

// runRetryDo runs the script through Guard.Do in a synctest bubble.
func runRetryDo(t *testing.T, p Policy, script retryScript) ([]callTrace, GuardSnapshot) {
	var cur callTrace
	reg, err := NewRegistry(WithDefaultPolicy(p), WithHooks(Hooks{OnRetry: func(_ context.Context, a RetryAttempt) {
		cur.delays = append(cur.delays, a.Delay)
	}}))
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("dep")
	// The policy's retrier with its jitter drawn by key.
	var call, attempt int
	pt := g.cur.Load()
	cfg := pt.retrier.Config()
	cfg.Rand = func() float64 { return jitterU(call, attempt) }
	if pt.retrier, err = retry.New(cfg); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	out := make([]callTrace, len(script.out))
	for i := range script.out {
		time.Sleep(t0.Add(time.Duration(i) * retryEvery).Sub(time.Now()))
		cur, call, attempt = callTrace{}, i, 0
		err := g.Do(context.Background(), func(ctx context.Context) error {
			attempt++
			cur.attempts = append(cur.attempts, time.Since(t0))
			time.Sleep(retryLatency)
			return script.out[i][attempt-1]
		})
		cur.result = errClass(err)
		out[i] = cur
	}
	return out, g.Snapshot()
}

// runRetryAt runs the script through the explicit-time API, reading no
// clock but the bubble's start.
func runRetryAt(t *testing.T, p Policy, script retryScript) ([]callTrace, GuardSnapshot) {
	var cur callTrace
	reg, err := NewRegistry(WithDefaultPolicy(p), WithHooks(Hooks{OnRetry: func(_ context.Context, a RetryAttempt) {
		cur.delays = append(cur.delays, a.Delay)
	}}))
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("dep")
	t0 := time.Now()
	ctx := context.Background()
	out := make([]callTrace, len(script.out))
	var end time.Time
	for i := range script.out {
		cur = callTrace{}
		at := t0.Add(time.Duration(i) * retryEvery)
		if at.Before(end) { // calls are sequential, as in runRetryDo
			at = end
		}
		s := g.BeginAt(at)
		for {
			reg.AdvanceAt(at)
			p, err := g.AllowAt(ctx, at)
			if err == nil {
				cur.attempts = append(cur.attempts, at.Sub(t0))
				err = script.out[i][s.Attempts-1]
				at = at.Add(retryLatency)
				reg.AdvanceAt(at)
				p.DoneAt(at, err)
			}
			d, rerr := g.RetryAt(at, &s, err, jitterU(i, s.Attempts))
			if rerr != nil || err == nil {
				cur.result = errClass(rerr)
				break
			}
			at = at.Add(d)
		}
		out[i], end = cur, at
	}
	return out, reg.SnapshotAt(end)[0]
}

// TestRetryAtWithoutRetryPolicy: a guard without retries never retries,
// and a success needs no retry.
func TestRetryAtWithoutRetryPolicy(t *testing.T) {
	reg, err := NewRegistry(WithDefaultPolicy(Policy{Name: "p"}))
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("dep")
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s := g.BeginAt(t0)
	if d, err := g.RetryAt(t0, &s, errFlaky, 0.5); !errors.Is(err, errFlaky) || d != 0 {
		t.Fatalf("RetryAt without a retry policy = %v, %v; want 0, the error", d, err)
	}
	if d, err := g.RetryAt(t0, &s, nil, 0.5); err != nil || d != 0 {
		t.Fatalf("RetryAt after a success = %v, %v; want 0, nil", d, err)
	}
	var zero RetryState
	if _, err := g.RetryAt(t0, &zero, errFlaky, 0.5); !errors.Is(err, errFlaky) {
		t.Fatalf("RetryAt with a zero RetryState = %v, want the error", err)
	}
}

// TestRegistrySnapshotAtReadsTheWindowAtT: the failure rate of a time
// window is read at the explicit time, not on the real clock, and
// AdvanceAt half-opens every guard.
func TestRegistrySnapshotAtReadsTheWindowAtT(t *testing.T) {
	p := Policy{Name: "p", Breaker: &BreakerPolicy{Window: "time", WindowDuration: Duration(10 * time.Second), MinCalls: 4, FailureRate: 50, OpenDuration: Duration(5 * time.Second)}}
	reg, err := NewRegistry(WithDefaultPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	a, b := reg.MustGuard("a"), reg.MustGuard("b")
	t0 := a.Snapshot().Breaker.Since.Add(time.Hour)
	ctx := context.Background()
	for i := range 4 {
		at := t0.Add(time.Duration(i) * time.Second)
		pa, _ := a.AllowAt(ctx, at)
		pa.DoneAt(at, errFlaky)
		pb, _ := b.AllowAt(ctx, at)
		pb.DoneAt(at, nil)
	}
	s := reg.SnapshotAt(t0.Add(3 * time.Second))
	if s[0].Name != "a" || s[0].Breaker.State != breaker.Open || s[1].Breaker.WindowCalls != 4 || s[1].Breaker.FailureRate != 0 {
		t.Fatalf("SnapshotAt(+3s) = %+v / %+v; want a open, b with 4 calls in its window", s[0].Breaker, s[1].Breaker)
	}
	if s := b.SnapshotAt(t0.Add(time.Minute)); s.Breaker.WindowCalls != 0 {
		t.Fatalf("b's window a minute later holds %d calls, want 0", s.Breaker.WindowCalls)
	}
	reg.AdvanceAt(t0.Add(20 * time.Second))
	if st := a.Breaker().State(); st != breaker.HalfOpen {
		t.Fatalf("after Registry.AdvanceAt past the open duration a is %v, want half-open", st)
	}
}

// TestGuardSnapshotAtReadsTheRateLimitAtT: the rate limit's tokens are
// those at the explicit time, refilled by it, not on the real clock.
func TestGuardSnapshotAtReadsTheRateLimitAtT(t *testing.T) {
	reg, err := NewRegistry(WithDefaultPolicy(Policy{Name: "p", RateLimit: &RateLimitPolicy{Limit: 1, Per: Duration(time.Second), Burst: 2}}))
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("dep")
	t0 := time.Now().Add(time.Hour)
	ctx := context.Background()
	for range 3 {
		if p, err := g.AllowAt(ctx, t0); err == nil {
			p.DoneAt(t0, nil)
		}
	}
	if s := g.SnapshotAt(t0); s.RateLimit.Available >= 1 || s.Rejected.Limited != 1 {
		t.Fatalf("at t0: %+v, rejected %+v; want the burst spent and one call limited", *s.RateLimit, s.Rejected)
	}
	if s := g.SnapshotAt(t0.Add(10 * time.Second)); s.RateLimit.Available != 2 {
		t.Fatalf("10s later: %v tokens, want the burst of 2 back", s.RateLimit.Available)
	}
	if s := g.SnapshotAt(time.Time{}); s.RateLimit == nil {
		t.Fatal("SnapshotAt(zero) is Snapshot and has the rate limit")
	}
}
