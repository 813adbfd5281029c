package otelbreaker

import (
	"context"
	"errors"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// states lists every breaker state, in the order of their values, for the
// status metric.
var states = [...]breaker.State{breaker.Closed, breaker.Open, breaker.HalfOpen, breaker.ForcedOpen, breaker.Disabled, breaker.MetricsOnly}

// metricSet holds the observable instruments, all fed by one callback that
// takes one registry snapshot per collection.
type metricSet struct {
	in  *Instrumentation
	reg metric.Registration

	cbCalls       metric.Int64ObservableCounter
	cbStatus      metric.Int64ObservableGauge
	cbTransitions metric.Int64ObservableCounter
	bhCalls       metric.Int64ObservableCounter
	bhUsage       metric.Int64ObservableUpDownCounter
	bhLimit       metric.Int64ObservableUpDownCounter
	bhWait        metric.Float64ObservableCounter
	rlCalls       metric.Int64ObservableCounter
	retryCalls    metric.Int64ObservableCounter
	retryRetries  metric.Int64ObservableCounter
	retryAttempts metric.Int64ObservableCounter
	fbCalls       metric.Int64ObservableCounter

	// attrs caches each guard's prebuilt observe options; collections may
	// run concurrently (several readers), so mu guards it.
	mu    sync.Mutex
	attrs map[string]*guardAttrs
}

// guardAttrs are one guard's prebuilt attribute sets, as observe options.
type guardAttrs struct {
	policy     string
	base       []metric.ObserveOption    // guard, policy
	calls      [4][]metric.ObserveOption // success, failure, ignored, rejected
	status     [len(states)][]metric.ObserveOption
	bhCalls    [4][]metric.ObserveOption // rejected, timed_out, canceled, waited
	bhState    [2][]metric.ObserveOption // in_use, queued
	rlCalls    [2][]metric.ObserveOption // permitted, rejected
	retryCalls []metric.ObserveOption    // budget_exhausted
	fbCalls    [2][]metric.ObserveOption // served, failed
}

func newGuardAttrs(name, policy string) *guardAttrs {
	a := &guardAttrs{policy: policy}
	g, p := GuardKey.String(name), PolicyKey.String(policy)
	opt := func(kv ...attribute.KeyValue) []metric.ObserveOption {
		return []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(append([]attribute.KeyValue{g, p}, kv...)...))}
	}
	a.base = opt()
	for i, o := range [4]string{"success", "failure", "ignored", "rejected"} {
		a.calls[i] = opt(OutcomeKey.String(o))
	}
	for i, s := range states {
		a.status[i] = opt(StateKey.String(s.String()))
	}
	for i, o := range [4]string{"rejected", "timed_out", "canceled", "waited"} {
		a.bhCalls[i] = opt(OutcomeKey.String(o))
	}
	for i, s := range [2]string{"in_use", "queued"} {
		a.bhState[i] = opt(BulkheadStateKey.String(s))
	}
	for i, o := range [2]string{"permitted", "rejected"} {
		a.rlCalls[i] = opt(OutcomeKey.String(o))
	}
	a.retryCalls = opt(OutcomeKey.String("budget_exhausted"))
	for i, o := range [2]string{"served", "failed"} {
		a.fbCalls[i] = opt(OutcomeKey.String(o))
	}
	return a
}

func newMetricSet(m metric.Meter, in *Instrumentation) (*metricSet, error) {
	ms := &metricSet{in: in, attrs: map[string]*guardAttrs{}}
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	ms.cbCalls, err = m.Int64ObservableCounter("breakerbox.circuit_breaker.calls",
		metric.WithDescription("Calls seen by a guard's circuit breaker, by outcome: success, failure, ignored (admitted and classified) or rejected."),
		metric.WithUnit("{call}"))
	check(err)
	ms.cbStatus, err = m.Int64ObservableGauge("breakerbox.circuit_breaker.status",
		metric.WithDescription("1 for the state a guard's circuit breaker is in, 0 for the other states."),
		metric.WithUnit("1"))
	check(err)
	ms.cbTransitions, err = m.Int64ObservableCounter("breakerbox.circuit_breaker.transitions",
		metric.WithDescription("State changes of a guard's circuit breaker."),
		metric.WithUnit("{transition}"))
	check(err)
	ms.bhCalls, err = m.Int64ObservableCounter("breakerbox.bulkhead.calls",
		metric.WithDescription("Calls a guard's bulkhead did not admit at once, by outcome: rejected (queue full), timed_out (waited too long), canceled (caller gave up while queued) or waited (queued, then admitted)."),
		metric.WithUnit("{call}"))
	check(err)
	ms.bhUsage, err = m.Int64ObservableUpDownCounter("breakerbox.bulkhead.usage",
		metric.WithDescription("Calls holding a bulkhead slot (in_use) or waiting for one (queued)."),
		metric.WithUnit("{call}"))
	check(err)
	ms.bhLimit, err = m.Int64ObservableUpDownCounter("breakerbox.bulkhead.limit",
		metric.WithDescription("A bulkhead's limits: concurrent calls (in_use) and queue length (queued)."),
		metric.WithUnit("{call}"))
	check(err)
	ms.bhWait, err = m.Float64ObservableCounter("breakerbox.bulkhead.queue.wait_time",
		metric.WithDescription("Total time calls spent queued in a bulkhead before being admitted; divide its rate by that of bulkhead.calls{outcome=waited} for the mean wait."),
		metric.WithUnit("s"))
	check(err)
	ms.rlCalls, err = m.Int64ObservableCounter("breakerbox.rate_limiter.calls",
		metric.WithDescription("Calls seen by a guard's rate limiter, by outcome: permitted or rejected."),
		metric.WithUnit("{call}"))
	check(err)
	ms.retryCalls, err = m.Int64ObservableCounter("breakerbox.retry.calls",
		metric.WithDescription("Calls whose retries stopped because the retry budget was spent (outcome budget_exhausted)."),
		metric.WithUnit("{call}"))
	check(err)
	ms.retryRetries, err = m.Int64ObservableCounter("breakerbox.retry.retries",
		metric.WithDescription("Retry attempts made by guards (first attempts excluded)."),
		metric.WithUnit("{retry}"))
	check(err)
	ms.retryAttempts, err = m.Int64ObservableCounter("breakerbox.retry.attempts",
		metric.WithDescription("Attempts made through a retrying guard, first attempts and retries, as counted at its gates (admitted or rejected)."),
		metric.WithUnit("{attempt}"))
	check(err)
	ms.fbCalls, err = m.Int64ObservableCounter("breakerbox.fallback.calls",
		metric.WithDescription("Failed calls a guard's fallback chain answered (served) or could not answer (failed)."),
		metric.WithUnit("{call}"))
	check(err)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	ms.reg, err = m.RegisterCallback(ms.observe,
		ms.cbCalls, ms.cbStatus, ms.cbTransitions,
		ms.bhCalls, ms.bhUsage, ms.bhLimit, ms.bhWait,
		ms.rlCalls, ms.retryCalls, ms.retryRetries, ms.retryAttempts, ms.fbCalls)
	if err != nil {
		return nil, err
	}
	return ms, nil
}

// observe reports one snapshot of every guard.
func (ms *metricSet) observe(_ context.Context, o metric.Observer) error {
	if ms.in.closed.Load() {
		return nil
	}
	snaps := ms.in.reg.Snapshot()
	ms.mu.Lock()
	defer ms.mu.Unlock()
	live := make(map[string]string, len(snaps))
	for i := range snaps {
		s := &snaps[i]
		live[s.Name] = s.Policy
		a := ms.attrs[s.Name]
		if a == nil || a.policy != s.Policy {
			a = newGuardAttrs(s.Name, s.Policy)
			ms.attrs[s.Name] = a
		}
		ms.observeGuard(o, s, a)
	}
	for name := range ms.attrs {
		if _, ok := live[name]; !ok {
			delete(ms.attrs, name)
		}
	}
	ms.in.forget(live)
	return nil
}

func (ms *metricSet) observeGuard(o metric.Observer, s *core.GuardSnapshot, a *guardAttrs) {
	b := &s.Breaker
	o.ObserveInt64(ms.cbCalls, i64(b.Succeeded), a.calls[0]...)
	o.ObserveInt64(ms.cbCalls, i64(b.Failed), a.calls[1]...)
	o.ObserveInt64(ms.cbCalls, i64(b.Ignored), a.calls[2]...)
	o.ObserveInt64(ms.cbCalls, i64(b.Rejected+b.RejectedProbe), a.calls[3]...)
	for i, st := range states {
		v := int64(0)
		if b.State == st {
			v = 1
		}
		o.ObserveInt64(ms.cbStatus, v, a.status[i]...)
	}
	o.ObserveInt64(ms.cbTransitions, i64(b.Transitions), a.base...)

	if bh := s.Bulkhead; bh != nil {
		o.ObserveInt64(ms.bhCalls, i64(bh.Rejected), a.bhCalls[0]...)
		o.ObserveInt64(ms.bhCalls, i64(bh.TimedOut), a.bhCalls[1]...)
		o.ObserveInt64(ms.bhCalls, i64(bh.Canceled), a.bhCalls[2]...)
		o.ObserveInt64(ms.bhCalls, i64(bh.Waited), a.bhCalls[3]...)
		o.ObserveInt64(ms.bhUsage, int64(bh.InUse), a.bhState[0]...)
		o.ObserveInt64(ms.bhUsage, int64(bh.Queued), a.bhState[1]...)
		o.ObserveInt64(ms.bhLimit, int64(bh.MaxConcurrent), a.bhState[0]...)
		o.ObserveInt64(ms.bhLimit, int64(bh.MaxQueue), a.bhState[1]...)
		o.ObserveFloat64(ms.bhWait, bh.WaitTime.Seconds(), a.base...)
	}
	if rl := s.RateLimit; rl != nil {
		o.ObserveInt64(ms.rlCalls, i64(rl.Allowed), a.rlCalls[0]...)
		o.ObserveInt64(ms.rlCalls, i64(rl.Rejected), a.rlCalls[1]...)
	}
	// Retry and fallback counters exist only for guards whose policy has
	// retries or fallbacks; the snapshot says so through the policy.
	if g, ok := ms.in.reg.Lookup(s.Name); ok {
		p := g.Policy()
		if p.Retry != nil {
			o.ObserveInt64(ms.retryRetries, i64(s.Retries), a.base...)
			o.ObserveInt64(ms.retryAttempts, i64(s.Breaker.Admitted+s.Rejected.Total()), a.base...)
			o.ObserveInt64(ms.retryCalls, i64(s.RetryBudgetExhausted), a.retryCalls...)
		}
		if len(p.Fallbacks) > 0 {
			o.ObserveInt64(ms.fbCalls, i64(s.FallbackServed), a.fbCalls[0]...)
			o.ObserveInt64(ms.fbCalls, i64(s.FallbackFailed), a.fbCalls[1]...)
		}
	}
}

// i64 converts a cumulative counter, saturating rather than wrapping.
func i64(v uint64) int64 {
	if v > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(v)
}
