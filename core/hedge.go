package core

import (
	"context"
	"fmt"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/hedge"
	"github.com/breakerbox/breakerbox/core/retry"
)

// HedgePolicy is the plain-data form of hedge.Config: after Delay, a call
// that has not answered gets another attempt, up to MaxHedges; the first
// good answer wins and the others are cancelled. Zero means not set (see
// Policy).
//
// Only calls made with DoIdempotent are hedged. Hedges spend the policy's
// retry budget (retry.budget), or, when it has none, a budget of their own
// with the retry budget's defaults (a fifth of calls plus 10 a second over
// 10s); they stop while the guard's breaker is not closed (open,
// half-open, forced open). Each hedge passes the guard's gates (rate
// limit, bulkhead, breaker) like any attempt.
type HedgePolicy struct {
	// Delay is how long an attempt runs before the next starts; required
	// (above 0). With Percentile, the floor of the live delay.
	Delay Duration `json:"delay"`
	// Percentile, if set (between 0 and 100, exclusive), makes the delay
	// that percentile of recent attempt latencies (95 for p95), never
	// below Delay.
	Percentile float64 `json:"percentile,omitempty"`
	// MinSamples is the latencies the percentile needs before it applies.
	// Default 100.
	MinSamples int `json:"minSamples,omitempty"`
	// MaxHedges is the most extra attempts per call. Default 1; at most 10.
	MaxHedges int `json:"maxHedges,omitempty"`
}

// UnmarshalJSON decodes the section, naming the field of a value that does
// not decode (see Policy.UnmarshalJSON).
func (p *HedgePolicy) UnmarshalJSON(data []byte) error {
	type plain HedgePolicy
	return decodeSection(data, (*plain)(p))
}

// HedgeConfig converts the section (without budget, gate or hook: the
// guard supplies them).
func (p *HedgePolicy) HedgeConfig() hedge.Config {
	return hedge.Config{Delay: time.Duration(p.Delay), Percentile: p.Percentile, MinSamples: p.MinSamples, MaxHedges: p.MaxHedges}
}

// validateHedgeCache checks the hedge and cache sections: their own
// fields, and a retry budget that can pay for hedges at all.
func (p *Policy) validateHedgeCache() error {
	if p.Cache != nil {
		if err := p.Cache.CacheConfig().Validate(); err != nil {
			return err
		}
	}
	h := p.Hedge
	if h == nil {
		return nil
	}
	if err := h.HedgeConfig().Validate(); err != nil {
		return err
	}
	if p.Retry != nil && p.Retry.Budget != nil && p.Retry.Budget.Ratio < 0 {
		return fmt.Errorf("hedge: maxHedges: %d hedges per call are more than the budget allows: retry.budget.ratio %v gives hedges no share of calls", max(h.MaxHedges, 1), p.Retry.Budget.Ratio)
	}
	return nil
}

// HedgeEvent describes a hedge about to start.
type HedgeEvent struct {
	Guard string
	// N is the hedge's number within its call, from 1.
	N int
	// Delay is the hedge delay in force.
	Delay time.Duration
}

// DoIdempotent is Do for a call that may safely run more than once: when
// the guard's policy hedges (see HedgePolicy), a call that has not answered
// after the hedge delay gets another attempt, each attempt passing the
// guard's gates, and the first good answer wins while the others are
// cancelled through their context. fn must honour its context; it may run
// on several goroutines at once, and a cancelled attempt may still be
// running when DoIdempotent returns. Without a hedge section it is Do.
//
// Do never hedges: marking a call idempotent is the caller's decision, and
// hedging needs fn on the heap (one allocation for a closure that captures
// variables), which Do avoids. A hedged call that answers before the delay
// costs one allocation more than Do (the hedged call's state; see package
// hedge, Cost), unless the policy also has a cache, a retry or a total
// timeout, whose wrapping adds a few. httpmw's Transport uses DoIdempotent for the
// requests its retry rules call idempotent; grpcmw for the methods given to
// its hedging option.
func DoIdempotent[T any](ctx context.Context, g *Guard, fn func(context.Context) (T, error)) (T, error) {
	pt := g.cur.Load()
	if pt.hedger == nil {
		return Do(ctx, g, fn)
	}
	var v T
	var err error
	if pt.cache != nil {
		v, err = doCached(ctx, pt, func(ctx context.Context) (T, error) { return doHedgedAttempts(ctx, g, pt, fn) })
	} else {
		v, err = doHedgedAttempts(ctx, g, pt, fn)
	}
	return fallbackAfter(ctx, g, pt, v, err)
}

// doHedgedAttempts is doAttempts with each attempt hedged. Without a total
// timeout, a retrier or profiler labels, it hands the attempt to the
// hedger directly, so that a call no hedge joins allocates only the
// hedger's call state.
func doHedgedAttempts[T any](ctx context.Context, g *Guard, pt *parts, fn func(context.Context) (T, error)) (T, error) {
	one := hedgedAttempt[T]{g: g, pt: pt, fn: fn}
	if pt.total <= 0 && pt.retrier == nil && !g.profile {
		return hedge.DoRunner(ctx, pt.hedger, one, nil)
	}
	var v T
	err := g.attempts(ctx, pt, func(ctx context.Context) (err error) {
		v, err = hedge.DoRunner(ctx, pt.hedger, one, nil)
		return err
	})
	return v, err
}

// hedgedAttempt is one attempt of a hedged call, as a hedge.Runner.
type hedgedAttempt[T any] struct {
	g  *Guard
	pt *parts
	fn func(context.Context) (T, error)
}

// Run runs the attempt: gates → attempt timeout → fn.
func (a hedgedAttempt[T]) Run(ctx context.Context) (T, error) {
	return attemptOnce(ctx, a.g, a.pt, a.fn)
}

// Hedges reports whether the guard's policy hedges calls made with
// DoIdempotent.
func (g *Guard) Hedges() bool { return g.cur.Load().hedger != nil }

// Hedger returns the guard's hedger, or nil when its policy does not hedge.
// Adapters whose attempts are not a function call (an HTTP transport,
// whose losing responses must be drained) run it with hedge.DoDrop, each
// attempt passing the guard's Allow and Done; it spends the guard's budget
// and stops while its breaker is not closed, as DoIdempotent's does.
func (g *Guard) Hedger() *hedge.Hedger { return g.cur.Load().hedger }

// buildHedgeCache gives pt the hedger and the cache its policy p asks for.
// A reload (old not nil) keeps the old ones when their sections, and the
// hedger's retrier, did not change, so that their counters, latency
// sketch and cached values carry on.
func (g *Guard) buildHedgeCache(pt *parts, p Policy, old *parts) error {
	if p.Hedge != nil {
		if old != nil && old.hedger != nil && sameValue(old.policy.Hedge, p.Hedge) && old.retrier == pt.retrier {
			pt.hedger = old.hedger
		} else if err := g.initHedge(pt, p); err != nil {
			return err
		}
	}
	if p.Cache != nil {
		if old != nil && old.cache != nil && sameValue(old.policy.Cache, p.Cache) {
			pt.cache = old.cache
		} else if err := initCache(pt, p); err != nil {
			return err
		}
	}
	return nil
}

// initHedge builds the hedger of pt from its policy p.
func (g *Guard) initHedge(pt *parts, p Policy) error {
	cfg := p.Hedge.HedgeConfig()
	if pt.retrier != nil && pt.retrier.Config().Budget != nil {
		cfg.Budget, cfg.SharedDeposits = pt.retrier.Config().Budget, true
	} else {
		b, err := retry.NewBudget(retry.BudgetConfig{})
		if err != nil {
			return err
		}
		cfg.Budget = b
	}
	cfg.Gate = g.hedgeGate
	cfg.OnHedge = g.onHedge
	h, err := hedge.New(cfg)
	if err != nil {
		return err
	}
	pt.hedger = h
	return nil
}

// hedgeGate lets hedges start only while the breaker admits every call.
func (g *Guard) hedgeGate() bool {
	switch g.br.State() {
	case breaker.Closed, breaker.Disabled, breaker.MetricsOnly:
		return true
	}
	return false
}

func (g *Guard) onHedge(ctx context.Context, n int) {
	if h := g.hooks.Load(); h != nil && h.OnHedge != nil {
		h.OnHedge(ctx, HedgeEvent{Guard: g.name, N: n, Delay: g.Hedger().Delay()})
	}
}
