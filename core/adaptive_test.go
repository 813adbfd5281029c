package core

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/throttle"
)

func TestAdaptiveBulkheadPolicyFromJSON(t *testing.T) {
	var p Policy
	err := json.Unmarshal([]byte(`{"name": "a", "bulkhead": {"maxQueue": 4,
		"adaptive": {"algorithm": "aimd", "minLimit": 2, "maxLimit": 50, "initialLimit": 8, "backoff": 0.5, "cooldown": "1s"}}}`), &p)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("maxConcurrent is optional with adaptive: %v", err)
	}
	g := mustGuard(t, mustRegistry(t, WithPolicies(p)), "a")
	s := g.Snapshot()
	if s.Adaptive == nil || *s.Adaptive != (AdaptiveSnapshot{Algorithm: "aimd", Limit: 8, MinLimit: 2, MaxLimit: 50}) {
		t.Fatalf("Adaptive %+v", s.Adaptive)
	}
	if s.Bulkhead.MaxConcurrent != 8 || s.Bulkhead.MaxQueue != 4 {
		t.Fatalf("bulkhead %+v, want the initial limit 8 and maxQueue 4", s.Bulkhead)
	}
	// maxConcurrent alone is the starting point, clamped into the bounds.
	q := Policy{Name: "b", Bulkhead: &BulkheadPolicy{MaxConcurrent: 500, Adaptive: &AdaptivePolicy{MaxLimit: 100}}}
	if s := mustGuard(t, mustRegistry(t, WithPolicies(q)), "b").Snapshot(); s.Adaptive.Limit != 100 || s.Adaptive.Algorithm != "gradient2" {
		t.Fatalf("Adaptive %+v, want gradient2 at 100", s.Adaptive)
	}
}

func TestAdaptivePolicyErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		want string
	}{
		{Policy{Name: "p", Bulkhead: &BulkheadPolicy{Adaptive: &AdaptivePolicy{Algorithm: "bbr"}}}, `bulkhead.adaptive.algorithm: "bbr" is not`},
		{Policy{Name: "p", Bulkhead: &BulkheadPolicy{Adaptive: &AdaptivePolicy{MinLimit: 10, MaxLimit: 5}}}, "bulkhead.adaptive.maxLimit: 5 must be at least minLimit 10"},
		{Policy{Name: "p", Bulkhead: &BulkheadPolicy{Adaptive: &AdaptivePolicy{Tolerance: 2, Algorithm: "vegas"}}}, `bulkhead.adaptive.tolerance: is for algorithm "gradient2" only, not "vegas"`},
		{Policy{Name: "p", Bulkhead: &BulkheadPolicy{Adaptive: &AdaptivePolicy{Backoff: 1.5, Algorithm: "aimd"}}}, "bulkhead.adaptive.backoff: 1.5"},
		{Policy{Name: "p", Bulkhead: &BulkheadPolicy{Adaptive: &AdaptivePolicy{WindowSamples: -3}}}, "bulkhead.adaptive.windowSamples: -3"},
		{Policy{Name: "p", Bulkhead: &BulkheadPolicy{MaxConcurrent: -1, Adaptive: &AdaptivePolicy{}}}, "bulkhead: maxConcurrent: -1"},
		{Policy{Name: "p", Bulkhead: &BulkheadPolicy{}}, "bulkhead: maxConcurrent: 0 must be at least 1"},
		{Policy{Name: "p", Throttle: &ThrottlePolicy{K: 0.5}}, "throttle.k: 0.5 must be at least 1"},
		{Policy{Name: "p", Breaker: &BreakerPolicy{Learned: &LearnedPolicy{MinCalls: -1}}}, "breaker: learned.minCalls: -1"},
	} {
		err := tc.p.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.want, err, tc.want)
		}
	}
	var p Policy
	err := json.Unmarshal([]byte(`{"name": "p", "bulkhead": {"adaptive": {"windowInterval": "soon"}}}`), &p)
	if err == nil || !strings.Contains(err.Error(), "bulkhead.adaptive.windowInterval") {
		t.Errorf("bad duration: %v", err)
	}
}

// TestAdaptiveBulkheadShrinksOnFailuresAndGrowsBack drives an AIMD bulkhead
// with real calls in a synctest bubble.
func TestAdaptiveBulkheadShrinksOnFailuresAndGrowsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := Policy{Name: "a",
			Breaker:  &BreakerPolicy{Mode: "disabled"},
			Bulkhead: &BulkheadPolicy{Adaptive: &AdaptivePolicy{Algorithm: "aimd", MinLimit: 2, MaxLimit: 40, InitialLimit: 16, Backoff: 0.5, WindowSamples: 1, SampleEvery: 1}}}
		g := mustGuard(t, mustRegistry(t, WithPolicies(p)), "a")
		fail := errors.New("overloaded")
		call := func(err error) {
			pm, aerr := g.Allow(bg)
			if aerr != nil {
				t.Fatal(aerr)
			}
			time.Sleep(10 * time.Millisecond)
			pm.Done(err)
		}
		call(fail) // 16 → 8
		call(fail) // → 4
		if got := g.Snapshot(); got.Adaptive.Limit != 4 || got.Bulkhead.MaxConcurrent != 4 {
			t.Fatalf("after two failures: adaptive %+v, bulkhead limit %d; want 4", got.Adaptive, got.Bulkhead.MaxConcurrent)
		}
		// Four calls at once: the first two to end see the limit in use (4
		// and 3 in flight, at least half of 4 and 5) and add one each; the
		// last two (2 and 1 in flight) do not: the caller limits the load.
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() { call(nil) })
		}
		wg.Wait()
		if got := g.Snapshot().Adaptive.Limit; got != 6 {
			t.Fatalf("after four concurrent successes: limit %d, want 6", got)
		}
	})
}

// TestAdaptiveBulkheadGradient2FollowsLatency shows the limit grow while
// latency is flat and shrink when it climbs.
func TestAdaptiveBulkheadGradient2FollowsLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := Policy{Name: "g", Bulkhead: &BulkheadPolicy{Adaptive: &AdaptivePolicy{MinLimit: 4, MaxLimit: 200, InitialLimit: 20, WindowSamples: 5, Smoothing: 1, SampleEvery: 1}}}
		g := mustGuard(t, mustRegistry(t, WithPolicies(p)), "g")
		latency := 10 * time.Millisecond
		phase := func(workers, calls int) {
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for range calls {
						pm, err := g.Allow(bg)
						if err != nil {
							time.Sleep(time.Millisecond)
							continue
						}
						time.Sleep(latency)
						pm.Done(nil)
					}
				})
			}
			wg.Wait()
		}
		phase(20, 30)
		grown := g.Snapshot().Adaptive.Limit
		if grown <= 20 {
			t.Fatalf("flat latency with the limit in use: limit %d, want above 20", grown)
		}
		latency = 80 * time.Millisecond
		phase(40, 10)
		if got := g.Snapshot().Adaptive.Limit; got >= grown {
			t.Fatalf("latency ×8: limit %d, want below %d", got, grown)
		}
	})
}

func TestThrottleRejectsLocallyWhenTheDependencyRefuses(t *testing.T) {
	p := Policy{Name: "t", Breaker: &BreakerPolicy{Mode: "disabled"}, Throttle: &ThrottlePolicy{K: 2, Window: Duration(time.Minute)}}
	g := mustGuard(t, mustRegistry(t, WithPolicies(p)), "t")
	refused := errors.New("429")
	var throttled int
	for range 300 {
		err := g.Do(bg, func(context.Context) error { return refused })
		var rej *RejectedError
		if errors.As(err, &rej) {
			throttled++
			if !errors.Is(err, throttle.ErrThrottled) || rej.ErrorType() != "throttled" || !errors.Is(err, ErrRejected) {
				t.Fatalf("rejection %v (type %q)", err, rej.ErrorType())
			}
		}
	}
	s := g.Snapshot()
	if throttled < 100 || s.Rejected.Throttled != uint64(throttled) || s.Rejected.Total() != uint64(throttled) {
		t.Fatalf("throttled %d of 300 calls to an always-refusing dependency; snapshot %+v", throttled, s.Rejected)
	}
	if s.Throttle == nil || s.Throttle.Probability < 0.9 || s.Throttle.Accepts != 0 {
		t.Fatalf("throttle snapshot %+v", s.Throttle)
	}
}

func TestAdaptiveAndThrottledGuardsDoNotAllocate(t *testing.T) {
	r := mustRegistry(t, WithPolicies(
		Policy{Name: "adaptive", Bulkhead: &BulkheadPolicy{Adaptive: &AdaptivePolicy{MaxLimit: 1 << 20, InitialLimit: 1 << 10, WindowSamples: 3}}},
		Policy{Name: "throttled", Throttle: &ThrottlePolicy{}},
		Policy{Name: "learned", Breaker: &BreakerPolicy{Learned: &LearnedPolicy{}}},
	))
	fn := func(context.Context) (int, error) { return 1, nil }
	for _, name := range []string{"adaptive", "throttled", "learned"} {
		g := mustGuard(t, r, name)
		if n := testing.AllocsPerRun(1000, func() {
			p, _ := g.Allow(bg)
			p.Done(nil)
			_, _ = Do(bg, g, fn)
		}); n != 0 {
			t.Errorf("%s: %v allocs per call, want 0", name, n)
		}
	}
}

// BenchmarkBulkheadAdmission compares a guard's closed path (Allow and
// Done) with a static bulkhead and with adaptive ones. The machine may be
// shared, so the two run in alternating rounds of 1000 calls and the
// benchmark reports each one's ns/call and their ratio (x-static; the goal
// is at most 2) as well as allocations (the goal is none).
func BenchmarkBulkheadAdmission(b *testing.B) {
	r := mustRegistry(b, WithPolicies(
		Policy{Name: "static", Bulkhead: &BulkheadPolicy{MaxConcurrent: 100}},
		Policy{Name: "gradient2", Bulkhead: &BulkheadPolicy{Adaptive: &AdaptivePolicy{MinLimit: 100, MaxLimit: 100}}},
		Policy{Name: "vegas", Bulkhead: &BulkheadPolicy{Adaptive: &AdaptivePolicy{Algorithm: "vegas", MinLimit: 100, MaxLimit: 100}}},
		Policy{Name: "aimd", Bulkhead: &BulkheadPolicy{Adaptive: &AdaptivePolicy{Algorithm: "aimd", MinLimit: 100, MaxLimit: 100}}},
	))
	static := mustGuard(b, r, "static")
	round := func(g *Guard) time.Duration {
		start := time.Now()
		for range 1000 {
			p, _ := g.Allow(bg)
			p.Done(nil)
		}
		return time.Since(start)
	}
	for _, name := range []string{"gradient2", "vegas", "aimd"} {
		g := mustGuard(b, r, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var ts, ta time.Duration
			n := 0
			for b.Loop() {
				ts += round(static)
				ta += round(g)
				n += 1000
			}
			b.ReportMetric(float64(ts.Nanoseconds())/float64(n), "static-ns/call")
			b.ReportMetric(float64(ta.Nanoseconds())/float64(n), "adaptive-ns/call")
			b.ReportMetric(float64(ta)/float64(ts), "x-static")
		})
	}
}

// The policies docs/adaptive.md shows are valid, so the guide stays true.
func TestAdaptiveGuidePoliciesAreValid(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "adaptive.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(b), "```json\n")[1:]
	if len(blocks) != 3 {
		t.Fatalf("%d JSON blocks in docs/adaptive.md, want 3", len(blocks))
	}
	for _, blk := range blocks {
		src, _, _ := strings.Cut(blk, "```")
		var p Policy
		if err := json.Unmarshal([]byte(src), &p); err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", src, err)
		}
		if _, err := NewRegistry(WithPolicies(p)); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}

// TestAdaptiveBulkheadUnderConcurrentLoad runs many goroutines through an
// adaptive guard whose calls fail now and then: the bulkhead's limit stays
// within the bounds, and every slot is given back.
func TestAdaptiveBulkheadUnderConcurrentLoad(t *testing.T) {
	for _, algo := range []string{"gradient2", "vegas", "aimd"} {
		p := Policy{Name: algo, Breaker: &BreakerPolicy{Mode: "disabled"},
			Bulkhead: &BulkheadPolicy{MaxQueue: 64, Adaptive: &AdaptivePolicy{Algorithm: algo, MinLimit: 3, MaxLimit: 12, WindowSamples: 2, SampleEvery: 2}}}
		g := mustGuard(t, mustRegistry(t, WithPolicies(p)), algo)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 300 {
					_ = g.Do(bg, func(context.Context) error {
						if lim := g.Bulkhead().Snapshot().MaxConcurrent; lim < 3 || lim > 12 {
							t.Errorf("%s: limit %d outside [3, 12]", algo, lim)
						}
						if (i+w)%17 == 0 {
							return errors.New("overloaded")
						}
						return nil
					})
				}
			})
		}
		wg.Wait()
		s := g.Snapshot()
		if s.Bulkhead.InUse != 0 || s.Adaptive.Limit < 3 || s.Adaptive.Limit > 12 {
			t.Errorf("%s: after the load: bulkhead %+v, adaptive %+v", algo, s.Bulkhead, s.Adaptive)
		}
	}
}
