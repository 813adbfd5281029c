package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// The tests in this file pin the behavioural differences that
// docs/migrating.md lists for teams coming from sony/gobreaker, failsafe-go
// and resilience4j. Each is named after the difference it pins, and the
// guide names the test: when a test here changes, the guide changes with it.

var (
	migBg   = context.Background()
	migBoom = errors.New("boom")
	migT0   = time.Unix(2_000_000_000, 0)
)

// migBreaker returns a breaker for cfg, failing the test on a bad config.
func migBreaker(t *testing.T, cfg breaker.Config) *breaker.Breaker {
	t.Helper()
	b, err := breaker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// migCall runs one call at the explicit time at that finishes at once with
// err; it reports whether the breaker admitted it.
func migCall(b *breaker.Breaker, at time.Time, err error) bool {
	p, aerr := b.AllowAt(migBg, at)
	if aerr != nil {
		return false
	}
	p.DoneAt(at, err)
	return true
}

// migAllow admits one call at the explicit time at, failing the test when
// the breaker rejects it.
func migAllow(t *testing.T, b *breaker.Breaker, at time.Time) *breaker.Permit {
	t.Helper()
	p, err := b.AllowAt(migBg, at)
	if err != nil {
		t.Fatalf("AllowAt(%v) rejected: %v (state %v)", at.Sub(migT0), err, b.State())
	}
	return &p
}

// migRejected fails the test unless the breaker rejects a call at at.
func migRejected(t *testing.T, b *breaker.Breaker, at time.Time) {
	t.Helper()
	if _, err := b.AllowAt(migBg, at); !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("AllowAt(%v) admitted a call in state %v; want ErrOpen", at.Sub(migT0), b.State())
	}
}

func migWant(t *testing.T, b *breaker.Breaker, want breaker.State) {
	t.Helper()
	if got := b.State(); got != want {
		t.Fatalf("state = %v, want %v (last transition: %v)", got, want, b.Snapshot().LastTransition)
	}
}

// migTrip opens a breaker whose window trips on one failure (WindowSize 1,
// MinCalls 1) at migT0.
func migTrip(t *testing.T, b *breaker.Breaker) {
	t.Helper()
	if !migCall(b, migT0, migBoom) {
		t.Fatal("first call rejected")
	}
	migWant(t, b, breaker.Open)
}

// A failed probe reopens the breaker at once: the half-open state does not
// gather its probes' outcomes and judge a failure rate over them, as
// resilience4j does over permittedNumberOfCallsInHalfOpenState calls or
// failsafe-go does with WithSuccessThresholdRatio. Nine successful probes
// out of ten do not save the breaker from the tenth's failure.
func TestMigration_FailedProbeReopensAtOnce(t *testing.T) {
	cfg := breaker.Config{WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second, OpenBackoff: 1,
		HalfOpenProbes: 10, SuccessThreshold: 10}

	t.Run("after nine successes", func(t *testing.T) {
		b := migBreaker(t, cfg)
		migTrip(t, b)
		now := migT0.Add(10 * time.Second)
		var probes []*breaker.Permit
		for range 10 {
			probes = append(probes, migAllow(t, b, now))
		}
		for _, p := range probes[:9] {
			p.DoneAt(now, nil)
		}
		migWant(t, b, breaker.HalfOpen) // 9 of 10 successes: not closed yet
		probes[9].DoneAt(now, migBoom)
		migWant(t, b, breaker.Open) // a 10% failure rate, and it reopens
		if r := b.Snapshot().LastTransition.Reason; r != "probe failed" {
			t.Fatalf("reason %q, want \"probe failed\"", r)
		}
	})

	t.Run("while the other probes still run", func(t *testing.T) {
		b := migBreaker(t, cfg)
		migTrip(t, b)
		now := migT0.Add(10 * time.Second)
		first := migAllow(t, b, now)
		for range 9 {
			migAllow(t, b, now) // still running
		}
		first.DoneAt(now, migBoom)
		migWant(t, b, breaker.Open)
	})
}

// HalfOpenProbes limits how many probes run at once, not how many one
// half-open period admits: as soon as a probe reports, its slot takes
// another, until SuccessThreshold probes succeeded. gobreaker's MaxRequests
// and resilience4j's permittedNumberOfCallsInHalfOpenState count every call
// admitted in the period instead.
func TestMigration_HalfOpenProbesLimitsProbesInFlight(t *testing.T) {
	b := migBreaker(t, breaker.Config{WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second,
		HalfOpenProbes: 2, SuccessThreshold: 4})
	migTrip(t, b)
	now := migT0.Add(10 * time.Second)
	p1 := migAllow(t, b, now)
	p2 := migAllow(t, b, now)
	migRejected(t, b, now) // two in flight: the third waits for a slot
	p1.DoneAt(now, nil)
	p3 := migAllow(t, b, now) // p1's slot
	p2.DoneAt(now, nil)
	p4 := migAllow(t, b, now) // p2's slot: the period's fourth probe
	migRejected(t, b, now)
	p3.DoneAt(now, nil)
	migWant(t, b, breaker.HalfOpen) // three successes of four
	p4.DoneAt(now, nil)
	migWant(t, b, breaker.Closed)
	if s := b.Snapshot(); s.RejectedProbe != 2 || s.Admitted != 5 {
		t.Fatalf("RejectedProbe = %d, Admitted = %d; want 2 and 5 (the tripping call and four probes)", s.RejectedProbe, s.Admitted)
	}
}

// Zero means "the default", never "off" or "none": FailureRate 0 is 50%,
// HalfOpenProbes 0 is one probe, MinCalls 0 is 20 (or WindowSize when
// smaller). Rules that can be off (ConsecutiveFailures, SlowCallDuration)
// are off by default; the failure-rate rule is turned off only by
// DisableFailureRate. resilience4j refuses these zeros; gobreaker reads
// MaxRequests 0 as 1 and Timeout 0 as 60s.
func TestMigration_ZeroMeansDefault(t *testing.T) {
	got := migBreaker(t, breaker.Config{FailureRate: 0, HalfOpenProbes: 0, MinCalls: 0, OpenDuration: 0}).Config()
	want := breaker.Config{
		Window: breaker.CountWindow, WindowSize: 100, WindowDuration: 60 * time.Second, Buckets: 10, MinCalls: 20,
		FailureRate: 50, OpenDuration: 30 * time.Second, OpenBackoff: 2, MaxOpenDuration: 300 * time.Second,
		HalfOpenProbes: 1, SuccessThreshold: 1, ProbeTimeout: 30 * time.Second,
		RampStepDuration: 10 * time.Second, RampMinCalls: 5,
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if got.ConsecutiveFailures != 0 || got.SlowCallDuration != 0 || got.SlowCallRate != 0 {
		t.Fatal("a rule that is off by default was turned on")
	}
	if c := migBreaker(t, breaker.Config{WindowSize: 10}).Config(); c.MinCalls != 10 {
		t.Fatalf("MinCalls = %d with WindowSize 10, want 10", c.MinCalls)
	}

	// The defaults at work: nothing trips below 20 calls, and 50% of 20 does.
	b := migBreaker(t, breaker.Config{})
	for i := range 19 {
		migCall(b, migT0, migBoom)
		if b.State() != breaker.Closed {
			t.Fatalf("opened after %d calls, below the default MinCalls of 20", i+1)
		}
	}
	b = migBreaker(t, breaker.Config{})
	for i := range 20 {
		if i%2 == 0 {
			migCall(b, migT0, nil)
		} else {
			migCall(b, migT0, migBoom)
		}
	}
	migWant(t, b, breaker.Open)

	// A negative value is refused, with the field named.
	_, err := breaker.New(breaker.Config{HalfOpenProbes: -1})
	var ce *breaker.ConfigError
	if !errors.As(err, &ce) || ce.Field != "halfOpenProbes" {
		t.Fatalf("HalfOpenProbes -1: %v, want a ConfigError naming halfOpenProbes", err)
	}
}

// An error matching context.Canceled (the caller gave up) is ignored: it is
// neither a success nor a failure, in the window, in the consecutive-failure
// run or as a probe. context.DeadlineExceeded is a failure. gobreaker and
// failsafe-go count every non-nil error as a failure unless told otherwise.
func TestMigration_ContextCanceledIsIgnored(t *testing.T) {
	b := migBreaker(t, breaker.Config{WindowSize: 5, MinCalls: 5, ConsecutiveFailures: 3,
		OpenDuration: 10 * time.Second})
	canceled := fmt.Errorf("query: %w", context.Canceled)
	for range 50 {
		migCall(b, migT0, canceled)
	}
	migWant(t, b, breaker.Closed)
	if s := b.Snapshot(); s.Ignored != 50 || s.Failed != 0 || s.Succeeded != 0 || s.ConsecutiveFailures != 0 || s.WindowCalls != 0 {
		t.Fatalf("after 50 canceled calls: %+v; want 50 ignored and an empty window", s)
	}
	for range 3 {
		migCall(b, migT0, context.DeadlineExceeded)
	}
	migWant(t, b, breaker.Open) // three consecutive failures

	// A canceled probe frees its slot and decides nothing.
	now := migT0.Add(10 * time.Second)
	p := migAllow(t, b, now)
	p.DoneAt(now, context.Canceled)
	migWant(t, b, breaker.HalfOpen)
	if n := b.Snapshot().ProbesInFlight; n != 0 {
		t.Fatalf("%d probes in flight after the canceled probe reported", n)
	}
	migAllow(t, b, now).DoneAt(now, nil)
	migWant(t, b, breaker.Closed)
}

// Setting only ConsecutiveFailures leaves the failure-rate rule on, with its
// defaults (50% over at least MinCalls calls): the breaker also opens on a
// rate that never makes a run. DisableFailureRate turns the rate rule off,
// which is what a gobreaker ReadyToTrip on ConsecutiveFailures or a
// failsafe-go WithFailureThreshold means.
func TestMigration_ConsecutiveFailuresLeavesFailureRateOn(t *testing.T) {
	alternate := func(b *breaker.Breaker) {
		for i := range 10 {
			if i%2 == 0 {
				migCall(b, migT0, nil)
			} else {
				migCall(b, migT0, migBoom)
			}
		}
	}

	b := migBreaker(t, breaker.Config{ConsecutiveFailures: 5, WindowSize: 10, MinCalls: 10})
	alternate(b) // never two failures in a row, 50% of 10 calls
	migWant(t, b, breaker.Open)
	if r := b.Snapshot().LastTransition.Reason; !strings.HasPrefix(r, "failure rate") {
		t.Fatalf("reason %q, want the failure-rate rule", r)
	}

	b = migBreaker(t, breaker.Config{ConsecutiveFailures: 5, DisableFailureRate: true, WindowSize: 10, MinCalls: 10})
	alternate(b)
	migWant(t, b, breaker.Closed)
	for range 5 {
		migCall(b, migT0, migBoom)
	}
	migWant(t, b, breaker.Open)
	if r := b.Snapshot().LastTransition.Reason; r != "5 consecutive failures" {
		t.Fatalf("reason %q", r)
	}
}

// A call whose latency equals SlowCallDuration is slow (latency >=
// threshold); resilience4j counts a call as slow only when it takes longer
// than slowCallDurationThreshold. A slow call counts as slow whether it
// succeeded or failed.
func TestMigration_LatencyEqualToSlowThresholdIsSlow(t *testing.T) {
	cfg := breaker.Config{SlowCallDuration: 100 * time.Millisecond, DisableFailureRate: true, WindowSize: 4, MinCalls: 4}
	run := func(latency time.Duration) *breaker.Breaker {
		b := migBreaker(t, cfg)
		for i := range 4 {
			start := migT0.Add(time.Duration(i) * time.Second)
			p := migAllow(t, b, start)
			p.DoneAt(start.Add(latency), nil)
		}
		return b
	}

	b := run(100*time.Millisecond - time.Nanosecond)
	migWant(t, b, breaker.Closed)
	if s := b.Snapshot(); s.Slow != 0 {
		t.Fatalf("%d slow calls just under the threshold", s.Slow)
	}

	b = run(100 * time.Millisecond)
	migWant(t, b, breaker.Open) // SlowCallRate defaults to 100 when SlowCallDuration is set
	if s := b.Snapshot(); s.Slow != 4 || s.Succeeded != 4 || !strings.HasPrefix(s.LastTransition.Reason, "slow-call rate") {
		t.Fatalf("at the threshold: %d slow, %d succeeded, reason %q; want 4 slow successes tripping the slow-call rule",
			s.Slow, s.Succeeded, s.LastTransition.Reason)
	}
}

// The open duration grows after each failed probe: by OpenBackoff (default
// 2) up to MaxOpenDuration (default 10 × OpenDuration), and starts over
// when the breaker closes. gobreaker's Timeout, failsafe-go's WithDelay and
// resilience4j's waitDurationInOpenState are constant; OpenBackoff 1 keeps
// breakerbox's constant too.
func TestMigration_OpenDurationBacksOffByDefault(t *testing.T) {
	b := migBreaker(t, breaker.Config{WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second})
	migTrip(t, b)
	now := migT0
	for _, d := range []time.Duration{10, 20, 40, 80, 100, 100} {
		open := d * time.Second
		migRejected(t, b, now.Add(open-time.Nanosecond))
		now = now.Add(open)
		migAllow(t, b, now).DoneAt(now, migBoom) // the probe fails: open for longer
		migWant(t, b, breaker.Open)
	}
	// A successful probe closes the breaker and resets the backoff.
	now = now.Add(100 * time.Second)
	migAllow(t, b, now).DoneAt(now, nil)
	migWant(t, b, breaker.Closed)
	migCall(b, now, migBoom)
	migWant(t, b, breaker.Open)
	migRejected(t, b, now.Add(10*time.Second-time.Nanosecond))
	migAllow(t, b, now.Add(10*time.Second))

	// OpenBackoff 1 keeps the open duration constant.
	b = migBreaker(t, breaker.Config{WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second, OpenBackoff: 1})
	migTrip(t, b)
	now = migT0
	for range 3 {
		now = now.Add(10 * time.Second)
		migAllow(t, b, now).DoneAt(now, migBoom)
	}
	migRejected(t, b, now.Add(10*time.Second-time.Nanosecond))
	migAllow(t, b, now.Add(10*time.Second))
}

// A time window judges its rules on every outcome, successes included: when
// older successes leave the window the failure rate rises, and the next
// call to finish (here a success) opens the breaker. gobreaker asks
// ReadyToTrip only when a call fails.
func TestMigration_TimeWindowJudgesEveryOutcome(t *testing.T) {
	b := migBreaker(t, breaker.Config{Window: breaker.TimeWindow, WindowDuration: 10 * time.Second, Buckets: 10,
		MinCalls: 3, FailureRate: 50})
	for range 3 {
		migCall(b, migT0, nil)
	}
	for range 2 {
		migCall(b, migT0.Add(5*time.Second), migBoom)
	}
	migWant(t, b, breaker.Closed) // 2 failures of 5 calls: 40%
	migCall(b, migT0.Add(10*time.Second), nil)
	// The three successes of t0 left the window: 2 failures of 3 calls.
	migWant(t, b, breaker.Open)
	if tr := b.Snapshot().LastTransition; tr.WindowCalls != 3 || tr.WindowFailures != 2 {
		t.Fatalf("tripped over %d calls with %d failures, want 3 and 2", tr.WindowCalls, tr.WindowFailures)
	}
}

// Probe slots are counted across a reopen: a probe still running from an
// earlier half-open period keeps its slot, so the next period admits fewer
// new probes and the dependency never sees more than HalfOpenProbes at
// once. The late probe's outcome frees its slot but decides nothing. The
// peers start every half-open period with a full allowance.
func TestMigration_ProbesCountedAcrossReopen(t *testing.T) {
	b := migBreaker(t, breaker.Config{WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second, OpenBackoff: 1,
		HalfOpenProbes: 2, ProbeTimeout: time.Hour})
	migTrip(t, b)
	now := migT0.Add(10 * time.Second)
	slow := migAllow(t, b, now)
	migAllow(t, b, now).DoneAt(now, migBoom) // reopens; slow still runs
	migWant(t, b, breaker.Open)

	now = now.Add(10 * time.Second)
	fresh := migAllow(t, b, now)
	migRejected(t, b, now) // slow holds the other slot
	migWant(t, b, breaker.HalfOpen)

	slow.DoneAt(now, nil) // a success of the earlier period: frees its slot only
	migWant(t, b, breaker.HalfOpen)
	migAllow(t, b, now)
	fresh.DoneAt(now, nil)
	migWant(t, b, breaker.Closed)
}

// A slow probe reopens the breaker even when it succeeded, while the
// slow-call rule is on (SlowCallDuration set).
func TestMigration_SlowProbeReopens(t *testing.T) {
	cfg := breaker.Config{SlowCallDuration: time.Second, WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second}
	for _, tc := range []struct {
		latency time.Duration
		want    breaker.State
	}{
		{time.Second - time.Nanosecond, breaker.Closed},
		{time.Second, breaker.Open},
	} {
		b := migBreaker(t, cfg)
		migTrip(t, b)
		now := migT0.Add(10 * time.Second)
		migAllow(t, b, now).DoneAt(now.Add(tc.latency), nil)
		migWant(t, b, tc.want)
	}
}

// The consecutive-failure count never decays with time, whatever the
// window: three failures hours apart are three in a row. gobreaker clears
// its counts, ConsecutiveFailures included, every Interval.
func TestMigration_ConsecutiveFailuresNeverDecay(t *testing.T) {
	b := migBreaker(t, breaker.Config{Window: breaker.TimeWindow, WindowDuration: 10 * time.Second,
		ConsecutiveFailures: 3, DisableFailureRate: true})
	for i := range 3 {
		migCall(b, migT0.Add(time.Duration(i)*time.Hour), migBoom)
	}
	migWant(t, b, breaker.Open)
}

// An open breaker half-opens on its own timer when the open duration
// passes, without any call arriving, and OnStateChange hears of it then.
// resilience4j does so only with automaticTransitionFromOpenToHalfOpenEnabled;
// gobreaker and failsafe-go notice on the next call or state read.
func TestMigration_OpenHalfOpensOnItsOwnTimer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var seen []string
		b := migBreaker(t, breaker.Config{WindowSize: 1, MinCalls: 1, OpenDuration: 30 * time.Second,
			OnStateChange: func(_ context.Context, tr breaker.Transition) { seen = append(seen, tr.To.String()) }})
		p, err := b.Allow(migBg)
		if err != nil {
			t.Fatal(err)
		}
		p.Done(migBoom)
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if got := strings.Join(seen, ","); got != "open,half-open" {
			t.Fatalf("transitions %q with no call after the trip, want open,half-open", got)
		}
	})
}

// A probe that does not report within ProbeTimeout (default: OpenDuration)
// counts as failed and reopens the breaker. resilience4j's
// maxWaitDurationInHalfOpenState defaults to waiting for ever.
func TestMigration_LostProbeCountsAsFailed(t *testing.T) {
	b := migBreaker(t, breaker.Config{WindowSize: 1, MinCalls: 1, OpenDuration: 10 * time.Second, OpenBackoff: 1})
	migTrip(t, b)
	now := migT0.Add(10 * time.Second)
	migAllow(t, b, now) // lost: never reports
	migRejected(t, b, now.Add(10*time.Second-time.Nanosecond))
	migWant(t, b, breaker.HalfOpen)
	migRejected(t, b, now.Add(10*time.Second)) // finds the probe timed out
	migWant(t, b, breaker.Open)
	if r := b.Snapshot().LastTransition.Reason; !strings.Contains(r, "no answer") {
		t.Fatalf("reason %q", r)
	}
	migAllow(t, b, now.Add(20*time.Second)).DoneAt(now.Add(20*time.Second), nil)
	migWant(t, b, breaker.Closed)
}
