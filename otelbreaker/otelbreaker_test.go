package otelbreaker_test

import (
	"context"
	"errors"
	"math"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	otellog "go.opentelemetry.io/otel/log"
	"go.opentelemetry.io/otel/trace"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/otelbreaker"
)

// tripping opens after three consecutive failures and stays open for an
// hour, so tests control every transition.
var tripping = &core.BreakerPolicy{DisableFailureRate: true, ConsecutiveFailures: 3, OpenDuration: core.Duration(time.Hour)}

func policies() []core.Option {
	return []core.Option{
		core.WithFallback("zero", func(context.Context, fallback.Cause) (any, error) { return 0, nil }),
		core.WithPolicies(
			core.Policy{Name: "pay", Match: []string{"pay.*"}, Breaker: tripping,
				Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 2, MaxQueue: 1}},
			core.Policy{Name: "limited", Match: []string{"limited.*"}, Breaker: tripping,
				RateLimit: &core.RateLimitPolicy{Limit: 1, Per: core.Duration(time.Hour), Burst: 1}},
			core.Policy{Name: "retrying", Match: []string{"retrying.*"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 100, DisableFailureRate: true},
				Retry:     &core.RetryPolicy{MaxAttempts: 3, InitialDelay: ms(time.Microsecond), MaxDelay: ms(time.Microsecond)},
				Fallbacks: []core.FallbackRef{{Name: "zero"}},
				Hedge:     &core.HedgePolicy{Delay: ms(time.Second)},
				Cache:     &core.CachePolicy{MaxStaleness: ms(time.Minute), MaxEntries: 10}},
			core.Policy{Name: "adaptive", Match: []string{"adaptive.*"}, Bulkhead: &core.BulkheadPolicy{Adaptive: &core.AdaptivePolicy{InitialLimit: 5}}},
			core.Policy{Name: "priced", Match: []string{"priced.*"}, Cost: &core.CostPolicy{PerCall: 0.002, Currency: "USD"},
				Machine: &core.MachinePolicy{Initial: "healthy", States: []core.MachineState{{Name: "healthy"}, {Name: "degraded", Admit: "percent", Percent: 50}},
					Transitions: []core.MachineTransition{{From: "healthy", To: "degraded", When: core.MachineCondition{ConsecutiveFailures: 5}}, {From: "degraded", To: "healthy", When: core.MachineCondition{MinCalls: 5}}}}},
		),
	}
}

func fail(context.Context) error { return errBoom }
func ok(context.Context) error   { return nil }

func TestMetricsReadFromSnapshot(t *testing.T) {
	e := newEnv(t, policies())
	ctx := context.Background()
	g := e.reg.MustGuard("pay.charge")
	for range 2 {
		_ = g.Do(ctx, ok)
	}
	_ = g.Do(ctx, func(context.Context) error { return context.Canceled }) // ignored
	for range 3 {
		_ = g.Do(ctx, fail)
	}
	for range 2 { // open: rejected
		if err := g.Do(ctx, ok); !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("want a rejection, got %v", err)
		}
	}
	l := e.reg.MustGuard("limited.search")
	_ = l.Do(ctx, ok)
	_ = l.Do(ctx, ok) // rate limited
	r := e.reg.MustGuard("retrying.quote")
	if v, err := core.Do(ctx, r, func(context.Context) (int, error) { return 1, errBoom }); v != 0 || err != nil {
		t.Fatalf("fallback not served: %v, %v", v, err)
	}

	pts := flatten(e.collect(t))
	pay := []string{"breakerbox.guard.name=pay.charge", "breakerbox.policy.name=pay"}
	want := map[string]float64{"success": 2, "failure": 3, "ignored": 1, "rejected": 2}
	for outcome, v := range want {
		if p := find(t, pts, "breakerbox.circuit_breaker.calls", append(pay, "breakerbox.outcome="+outcome)...); p.value != v {
			t.Errorf("calls{%s} = %v, want %v", outcome, p.value, v)
		}
	}
	for _, s := range []string{"closed", "open", "half-open", "forced-open", "disabled", "metrics-only"} {
		want := 0.0
		if s == "open" {
			want = 1
		}
		if p := find(t, pts, "breakerbox.circuit_breaker.status", append(pay, "breakerbox.circuit_breaker.state="+s)...); p.value != want {
			t.Errorf("status{%s} = %v, want %v", s, p.value, want)
		}
	}
	if p := find(t, pts, "breakerbox.circuit_breaker.transitions", pay...); p.value != 1 {
		t.Errorf("transitions = %v, want 1", p.value)
	}
	if p := find(t, pts, "breakerbox.bulkhead.limit", append(pay, "breakerbox.bulkhead.state=in_use")...); p.value != 2 {
		t.Errorf("bulkhead limit = %v, want 2", p.value)
	}
	if p := find(t, pts, "breakerbox.bulkhead.limit", append(pay, "breakerbox.bulkhead.state=queued")...); p.value != 1 {
		t.Errorf("bulkhead queue limit = %v, want 1", p.value)
	}
	if p := find(t, pts, "breakerbox.bulkhead.usage", append(pay, "breakerbox.bulkhead.state=in_use")...); p.value != 0 {
		t.Errorf("bulkhead usage = %v, want 0", p.value)
	}
	lim := []string{"breakerbox.guard.name=limited.search", "breakerbox.policy.name=limited"}
	if p := find(t, pts, "breakerbox.rate_limiter.calls", append(lim, "breakerbox.outcome=permitted")...); p.value != 1 {
		t.Errorf("rate limiter permitted = %v, want 1", p.value)
	}
	if p := find(t, pts, "breakerbox.rate_limiter.calls", append(lim, "breakerbox.outcome=rejected")...); p.value != 1 {
		t.Errorf("rate limiter rejected = %v, want 1", p.value)
	}
	ret := []string{"breakerbox.guard.name=retrying.quote", "breakerbox.policy.name=retrying"}
	if p := find(t, pts, "breakerbox.retry.retries", ret...); p.value != 2 {
		t.Errorf("retries = %v, want 2", p.value)
	}
	if p := find(t, pts, "breakerbox.retry.attempts", ret...); p.value != 3 {
		t.Errorf("attempts = %v, want 3", p.value)
	}
	if p := find(t, pts, "breakerbox.fallback.calls", append(ret, "breakerbox.outcome=served")...); p.value != 1 {
		t.Errorf("fallback served = %v, want 1", p.value)
	}

	// Primitives a guard does not have make no series.
	for _, p := range pts {
		if p.attrs["breakerbox.guard.name"] == "limited.search" && p.metric == "breakerbox.bulkhead.usage" {
			t.Errorf("a guard without a bulkhead reports %s", p.metric)
		}
		if p.attrs["breakerbox.guard.name"] == "pay.charge" && p.metric == "breakerbox.retry.retries" {
			t.Errorf("a guard without retries reports %s", p.metric)
		}
	}
	// Bounded attributes only.
	allowed := map[string]bool{"breakerbox.guard.name": true, "breakerbox.policy.name": true, "breakerbox.outcome": true,
		"breakerbox.circuit_breaker.state": true, "breakerbox.bulkhead.state": true, "breakerbox.rejection.reason": true}
	for _, p := range pts {
		for k := range p.attrs {
			if !allowed[k] {
				t.Errorf("%s has attribute %s", p.metric, k)
			}
		}
	}
}

// The counters are cumulative and follow the registry: a pruned guard's
// series go away.
func TestMetricsFollowPrune(t *testing.T) {
	e := newEnv(t, nil)
	_ = e.reg.MustGuard("a").Do(context.Background(), ok)
	_ = e.reg.MustGuard("b").Do(context.Background(), ok)
	pts := flatten(e.collect(t))
	find(t, pts, "breakerbox.circuit_breaker.transitions", "breakerbox.guard.name=a", "breakerbox.policy.name=default")
	now := time.Now()
	e.reg.PruneAt(now, time.Minute)
	e.reg.PruneAt(now.Add(2*time.Minute), time.Minute)
	for _, p := range flatten(e.collect(t)) {
		if p.attrs["breakerbox.guard.name"] == "a" {
			t.Fatalf("pruned guard still reported: %+v", p)
		}
	}
}

func TestRejectionOnActiveSpan(t *testing.T) {
	e := newEnv(t, policies())
	g := e.reg.MustGuard("pay.charge")
	g.ForceOpen(breaker.Manual{Actor: "alice", Reason: "maintenance"})
	tr := e.tp.Tracer("test")

	for _, kind := range []trace.SpanKind{trace.SpanKindInternal, trace.SpanKindServer, trace.SpanKindClient} {
		ctx, span := tr.Start(context.Background(), "call "+kind.String(), trace.WithSpanKind(kind))
		err := g.Do(ctx, ok)
		span.End()
		if !errors.Is(err, core.ErrRejected) {
			t.Fatalf("want a rejection, got %v", err)
		}
	}
	ended := e.spans.Ended()
	if len(ended) != 3 {
		t.Fatalf("got %d spans, want 3 (no extra spans)", len(ended))
	}
	for _, s := range ended {
		a := spanAttrs(s)
		for k, v := range map[string]string{
			"breakerbox.guard.name":            "pay.charge",
			"breakerbox.policy.name":           "pay",
			"breakerbox.outcome":               "rejected",
			"error.type":                       "circuit_open",
			"breakerbox.circuit_breaker.state": "forced-open",
		} {
			if a[k] != v {
				t.Errorf("%s: %s = %q, want %q", s.Name(), k, a[k], v)
			}
		}
		wantStatus := codes.Error
		if s.SpanKind() == trace.SpanKindServer {
			wantStatus = codes.Unset // the server instrumentation decides from the 503
		}
		if s.Status().Code != wantStatus {
			t.Errorf("%s: status %v, want %v", s.Name(), s.Status().Code, wantStatus)
		}
	}
}

func TestRejectionCarriesRetryAfter(t *testing.T) {
	e := newEnv(t, policies())
	g := e.reg.MustGuard("pay.refund")
	ctx := context.Background()
	for range 3 {
		_ = g.Do(ctx, fail)
	}
	ctx, span := e.tp.Tracer("test").Start(ctx, "refund")
	_ = g.Do(ctx, ok)
	span.End()
	a := spanAttrs(e.spans.Ended()[0])
	if a["breakerbox.circuit_breaker.state"] != "open" {
		t.Errorf("state = %q, want open", a["breakerbox.circuit_breaker.state"])
	}
	ra, err := strconv.ParseFloat(a["breakerbox.retry_after"], 64)
	if err != nil || ra <= 0 || ra > 3600 {
		t.Errorf("breakerbox.retry_after = %q, want (0, 3600] seconds", a["breakerbox.retry_after"])
	}
}

func TestStateChangeEvent(t *testing.T) {
	e := newEnv(t, policies())
	g := e.reg.MustGuard("pay.charge")
	tr := e.tp.Tracer("test")
	var tripper trace.SpanContext
	for i := range 3 {
		ctx, span := tr.Start(context.Background(), "charge "+strconv.Itoa(i))
		_ = g.Do(ctx, fail)
		if i == 2 {
			tripper = span.SpanContext()
		}
		span.End()
	}
	// A manual change has no call: a log event, no span event.
	g.Reset(breaker.Manual{Actor: "bob", Reason: "fixed"})

	var events int
	for _, s := range e.spans.Ended() {
		for _, ev := range s.Events() {
			if ev.Name != otelbreaker.StateChangeEventName {
				continue
			}
			events++
			if s.SpanContext().SpanID() != tripper.SpanID() {
				t.Errorf("state change mirrored on %s, not on the call that tripped the breaker", s.Name())
			}
			a := kvMap(ev.Attributes)
			if a["breakerbox.circuit_breaker.state"] != "open" || a["breakerbox.circuit_breaker.previous_state"] != "closed" ||
				a["breakerbox.guard.name"] != "pay.charge" || a["breakerbox.circuit_breaker.reason"] == "" {
				t.Errorf("span event attributes %v", a)
			}
		}
	}
	if events != 1 {
		t.Errorf("%d state-change span events, want 1", events)
	}

	recs := e.logs.records()
	if len(recs) != 2 {
		t.Fatalf("%d log records, want 2", len(recs))
	}
	open, release := recs[0], recs[1]
	if open.EventName() != otelbreaker.StateChangeEventName || open.Severity() != otellog.SeverityWarn || open.SeverityText() != "WARN" {
		t.Errorf("open record: event %q severity %v %q", open.EventName(), open.Severity(), open.SeverityText())
	}
	if open.TraceID() != tripper.TraceID() || open.SpanID() != tripper.SpanID() {
		t.Errorf("open record not correlated with the tripping call's span")
	}
	if a := logAttrs(open); a["breakerbox.circuit_breaker.state"] != "open" || a["breakerbox.policy.name"] != "pay" {
		t.Errorf("open record attributes %v", a)
	}
	if open.InstrumentationScope().Name != otelbreaker.ScopeName || open.InstrumentationScope().Version != otelbreaker.Version {
		t.Errorf("scope %+v", open.InstrumentationScope())
	}
	if release.Severity() != otellog.SeverityInfo || release.SeverityText() != "INFO" {
		t.Errorf("release record severity %v %q, want INFO", release.Severity(), release.SeverityText())
	}
	if a := logAttrs(release); a["breakerbox.circuit_breaker.actor"] != "bob" || a["breakerbox.circuit_breaker.state"] != "closed" {
		t.Errorf("release record attributes %v", a)
	}
	if release.TraceID().IsValid() {
		t.Errorf("a manual change has no call, but its record has a trace id")
	}
}

func TestRetrySpans(t *testing.T) {
	e := newEnv(t, policies(), otelbreaker.WithRetrySpans())
	g := e.reg.MustGuard("retrying.quote")
	ctx, parent := e.tp.Tracer("test").Start(context.Background(), "quote")
	n := 0
	err := g.Do(ctx, func(context.Context) error {
		n++
		if n < 3 {
			return typedErr{}
		}
		return nil
	})
	parent.End()
	if err != nil || n != 3 {
		t.Fatalf("Do = %v after %d attempts, want success after 3", err, n)
	}
	var retries []map[string]string
	var statuses []codes.Code
	for _, s := range e.spans.Ended() {
		if s.Name() != otelbreaker.RetrySpanName {
			continue
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("retry span is not a child of the call's span")
		}
		retries = append(retries, spanAttrs(s))
		statuses = append(statuses, s.Status().Code)
	}
	if len(retries) != 2 {
		t.Fatalf("%d retry spans, want 2", len(retries))
	}
	if retries[0]["breakerbox.retry.attempt"] != "2" || retries[0]["breakerbox.outcome"] != "failure" ||
		retries[0]["error.type"] != "upstream_refused" || statuses[0] != codes.Error {
		t.Errorf("first retry span %v status %v", retries[0], statuses[0])
	}
	if retries[1]["breakerbox.retry.attempt"] != "3" || retries[1]["breakerbox.outcome"] != "success" || statuses[1] != codes.Unset {
		t.Errorf("second retry span %v status %v", retries[1], statuses[1])
	}
	if _, ok := retries[0]["breakerbox.retry.delay"]; !ok {
		t.Errorf("retry span without its delay")
	}
}

// A retry rejected by the guard's own gates ends its span as rejected.
func TestRetrySpanRejected(t *testing.T) {
	e := newEnv(t, []core.Option{core.WithPolicies(core.Policy{Name: "r", Match: []string{"*"},
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1, DisableFailureRate: true, OpenDuration: core.Duration(time.Hour)},
		Retry:   &core.RetryPolicy{MaxAttempts: 2, InitialDelay: ms(time.Microsecond), MaxDelay: ms(time.Microsecond)}})},
		otelbreaker.WithRetrySpans())
	ctx, parent := e.tp.Tracer("test").Start(context.Background(), "op")
	err := e.reg.MustGuard("g").Do(ctx, fail)
	parent.End()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, s := range e.spans.Ended() {
		if s.Name() == otelbreaker.RetrySpanName {
			if a := spanAttrs(s); a["breakerbox.outcome"] != "rejected" || a["error.type"] != "circuit_open" {
				t.Errorf("retry span %v", a)
			}
			return
		}
	}
	t.Log("the retrier did not retry its own breaker's rejection; nothing to check")
}

func TestDurationHistogram(t *testing.T) {
	e := newEnv(t, policies(), otelbreaker.WithDurationHistogram())
	ctx := context.Background()
	g := e.reg.MustGuard("pay.charge")
	_ = g.Do(ctx, ok)
	_ = g.Do(ctx, ok)
	_ = g.Do(ctx, func(context.Context) error { return typedErr{} })
	_ = g.Do(ctx, fail)
	_ = g.Do(ctx, func(context.Context) error { return context.DeadlineExceeded })

	pts := flatten(e.collect(t))
	base := []string{"breakerbox.guard.name=pay.charge", "breakerbox.policy.name=pay"}
	if p := find(t, pts, "breakerbox.call.duration", append(base, "breakerbox.outcome=success")...); p.count != 2 {
		t.Errorf("success count %d, want 2", p.count)
	}
	for et, n := range map[string]uint64{"upstream_refused": 1, "_OTHER": 1, "timeout": 1} {
		if p := find(t, pts, "breakerbox.call.duration", append(base, "breakerbox.outcome=failure", "error.type="+et)...); p.count != n {
			t.Errorf("failure %s count %d, want %d", et, p.count, n)
		}
	}
	if p := find(t, pts, "breakerbox.call.duration", append(base, "breakerbox.outcome=success")...); p.attrs["error.type"] != "" {
		t.Errorf("a success has error.type %q", p.attrs["error.type"])
	}
}

// Past maxErrorTypes distinct types, a guard's failures share "_OTHER".
func TestDurationHistogramBoundsErrorTypes(t *testing.T) {
	e := newEnv(t, nil, otelbreaker.WithDurationHistogram())
	g := e.reg.MustGuard("g")
	for i := range 40 {
		_ = g.Do(context.Background(), func(context.Context) error { return manyTypes(i) })
	}
	types := map[string]bool{}
	for _, p := range flatten(e.collect(t)) {
		if p.metric == "breakerbox.call.duration" {
			types[p.attrs["error.type"]] = true
		}
	}
	if len(types) > 17 || !types["_OTHER"] {
		t.Errorf("%d error types recorded (want at most 16 and _OTHER): %v", len(types), types)
	}
}

type manyTypes int

func (m manyTypes) Error() string     { return "type " + strconv.Itoa(int(m)) }
func (m manyTypes) ErrorType() string { return "t" + strconv.Itoa(int(m)) }

func TestShutdown(t *testing.T) {
	e := newEnv(t, policies(), otelbreaker.WithDurationHistogram())
	_ = e.reg.MustGuard("pay.charge").Do(context.Background(), ok)
	if err := e.inst.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := e.inst.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	g := e.reg.MustGuard("pay.charge")
	g.ForceOpen(breaker.Manual{})
	ctx, span := e.tp.Tracer("test").Start(context.Background(), "after")
	_ = g.Do(ctx, ok)
	span.End()
	for _, p := range flatten(e.collect(t)) {
		if p.metric != "breakerbox.call.duration" {
			t.Errorf("metric %s still reported after Shutdown", p.metric)
		}
	}
	if a := spanAttrs(e.spans.Ended()[0]); len(a) != 0 {
		t.Errorf("rejection recorded after Shutdown: %v", a)
	}
	if n := len(e.logs.records()); n != 0 {
		t.Errorf("%d log records after Shutdown", n)
	}
}

func TestInstrumentNilRegistry(t *testing.T) {
	if _, err := otelbreaker.Instrument(nil); err == nil {
		t.Fatal("want an error")
	}
}

func TestSpanProfilerLabels(t *testing.T) {
	if l := otelbreaker.SpanProfilerLabels(context.Background()); l != nil {
		t.Errorf("no span: got %v", l)
	}
	e := newEnv(t, nil)
	ctx, span := e.tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	l := otelbreaker.SpanProfilerLabels(ctx)
	if len(l) != 2 || l[0] != otelbreaker.SpanIDLabel || l[1] != span.SpanContext().SpanID().String() {
		t.Errorf("labels %v", l)
	}
}

func TestAllocsAdmittedCall(t *testing.T) {
	bare, _ := core.NewRegistry()
	e := newEnv(t, nil)
	h := newEnv(t, nil, otelbreaker.WithDurationHistogram())
	ctx := context.Background()
	for _, c := range []struct {
		name string
		reg  *core.Registry
		max  float64
	}{{"bare", bare, 0}, {"counters", e.reg, 0}, {"histogram", h.reg, 1}} {
		g := c.reg.MustGuard("g")
		n := testing.AllocsPerRun(1000, func() {
			p, err := g.Allow(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p.Done(nil)
		})
		if n > c.max {
			t.Errorf("%s: %v allocations per admitted call, want at most %v", c.name, n, c.max)
		}
	}
}

// Calls, rejections, state changes, retries and collections at once, for
// the race detector.
func TestConcurrentUse(t *testing.T) {
	e := newEnv(t, policies(), otelbreaker.WithDurationHistogram(), otelbreaker.WithRetrySpans())
	tr := e.tp.Tracer("test")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			e.collect(t)
		}
	}()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				ctx, span := tr.Start(context.Background(), "op")
				name := []string{"pay.a", "retrying.b", "limited.c", "pay.d"}[(w+i)%4]
				fn := ok
				if i%3 == 0 {
					fn = fail
				}
				_ = e.reg.MustGuard(name).Do(ctx, fn)
				if i%50 == 0 {
					e.reg.MustGuard(name).Reset(breaker.Manual{Actor: "test"})
				}
				span.End()
			}
		}()
	}
	wg.Wait()
	<-done
	e.collect(t)
}

func TestInvalidBuckets(t *testing.T) {
	reg, _ := core.NewRegistry()
	for _, b := range [][]float64{{0.5, 0.1}, {0.1, 0.1}, {math.NaN()}, {1, math.Inf(1)}} {
		_, err := otelbreaker.Instrument(reg, otelbreaker.WithDurationHistogram(b...))
		if err == nil || !strings.Contains(err.Error(), "durationBuckets") {
			t.Errorf("buckets %v: error %v, want one naming durationBuckets", b, err)
		}
	}
}

// Through core.WithProfilerLabels, the guarded function runs under the
// guard's label and the span id.
func TestSpanProfilerLabelsInGuard(t *testing.T) {
	e := newEnv(t, []core.Option{core.WithProfilerLabels(otelbreaker.SpanProfilerLabels)})
	ctx, span := e.tp.Tracer("test").Start(context.Background(), "op")
	defer span.End()
	labels := map[string]string{}
	err := e.reg.MustGuard("search").Do(ctx, func(ctx context.Context) error {
		pprof.ForLabels(ctx, func(k, v string) bool { labels[k] = v; return true })
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if labels["breakerbox_guard"] != "search" || labels[otelbreaker.SpanIDLabel] != span.SpanContext().SpanID().String() {
		t.Errorf("pprof labels %v", labels)
	}
}
