package throttle_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core/throttle"
	"github.com/breakerbox/breakerbox/internal/doccheck"
	"github.com/breakerbox/breakerbox/internal/reject"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestDocSnippetsAreQuotedFromExamples(t *testing.T) { doccheck.Check(t) }

func TestProbabilityHandComputed(t *testing.T) {
	th, _ := throttle.New(throttle.Config{K: 2, Window: 12 * time.Second}) // 1s buckets
	if p := th.Probability(t0); p != 0 {
		t.Fatalf("empty window: %v", p)
	}
	for range 10 {
		th.Record(t0, true)
	}
	if p := th.Probability(t0); p != 0 {
		t.Fatalf("all accepted: %v, want 0", p)
	}
	for range 30 { // 40 requests, 10 accepts: (40-20)/41
		th.Record(t0.Add(time.Second), false)
	}
	if p, want := th.Probability(t0.Add(time.Second)), 20.0/41; p != want {
		t.Fatalf("probability %v, want %v", p, want)
	}
	// 12s later the first bucket (the accepts) has left the window:
	// 30 requests, 0 accepts: 30/31.
	if p, want := th.Probability(t0.Add(12*time.Second)), 30.0/31; p != want {
		t.Fatalf("after the accepts left the window: %v, want %v", p, want)
	}
	// 13s later nothing is left.
	if p := th.Probability(t0.Add(13 * time.Second)); p != 0 {
		t.Fatalf("empty window again: %v", p)
	}
}

func TestAllowRejectsWithTheProbabilityAndCountsRejections(t *testing.T) {
	draw := 0.5
	th, _ := throttle.New(throttle.Config{K: 2, Window: time.Minute, Rand: func() float64 { return draw }})
	for range 9 { // 9 requests, 0 accepts: p = 0.9
		th.Record(t0, false)
	}
	if th.Allow(t0) {
		t.Fatal("draw 0.5 < p 0.9: want a rejection")
	}
	// The rejection counted as a request: 10/11.
	if p, want := th.Probability(t0), 10.0/11; p != want {
		t.Fatalf("probability %v, want %v", p, want)
	}
	draw = 0.95
	if !th.Allow(t0) {
		t.Fatal("draw 0.95 >= p 0.909: want an admission")
	}
	s := th.Snapshot(t0)
	if s.Rejected != 1 || s.Requests != 10 || s.Accepts != 0 {
		t.Fatalf("snapshot %+v", s)
	}
}

func TestThrottleBacksOffARejectingDependencyAndRecovers(t *testing.T) {
	// A dependency that accepts one call in four: the client ends up sending
	// about K accepts' worth, far fewer than it is asked for.
	n := uint64(0)
	th, _ := throttle.New(throttle.Config{K: 2, Window: time.Minute, Rand: func() float64 {
		n = n*6364136223846793005 + 1442695040888963407
		return float64(n>>11) / (1 << 53)
	}})
	sent := 0
	now := t0
	for i := range 4000 {
		now = t0.Add(time.Duration(i) * 10 * time.Millisecond)
		if th.Allow(now) {
			sent++
			th.Record(now, sent%4 == 0)
		}
	}
	if sent > 3000 {
		t.Fatalf("sent %d of 4000 calls to a dependency that accepts 1 in 4: want a back-off", sent)
	}
	// The dependency recovers: every call is accepted. The share of calls
	// let through about doubles every window (accepts count K times), so
	// the throttle opens up again within a few windows.
	for range 6000 {
		now = now.Add(100 * time.Millisecond)
		if th.Allow(now) {
			th.Record(now, true)
		}
	}
	if p := th.Probability(now); p != 0 {
		t.Fatalf("after a healthy window: probability %v, want 0", p)
	}
}

func TestClockGoingBackwardsNeverPanics(t *testing.T) {
	th, _ := throttle.New(throttle.Config{})
	for i := range 100 {
		at := t0.Add(time.Duration((i%7)-3) * time.Hour)
		th.Allow(at)
		th.Record(at, i%2 == 0)
		if p := th.Probability(at); p < 0 || p >= 1 {
			t.Fatalf("probability %v out of [0, 1)", p)
		}
	}
}

func TestErrThrottledIsARejection(t *testing.T) {
	if !errors.Is(throttle.ErrThrottled, reject.ErrRejected) {
		t.Fatal("ErrThrottled does not match ErrRejected")
	}
	if got := throttle.ErrThrottled.ErrorType(); got != "throttled" {
		t.Fatalf("ErrorType %q", got)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		cfg  throttle.Config
		want string
	}{
		{throttle.Config{K: 0.5}, "throttle: k: 0.5 must be at least 1"},
		{throttle.Config{Window: -time.Second}, "throttle: window: -1s must not be negative"},
	} {
		if err := tc.cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}

func TestAllowAndRecordDoNotAllocate(t *testing.T) {
	th, _ := throttle.New(throttle.Config{})
	if n := testing.AllocsPerRun(1000, func() {
		if th.Allow(t0) {
			th.Record(t0, false)
		}
	}); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
}
