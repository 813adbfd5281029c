package graphql_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
	"github.com/breakerbox/breakerbox/graphql/internal/testserver"
)

var errUpstream = errors.New("quotes upstream: 503")

// failingQuotes returns a Resolver whose quote service fails while *down is
// true, and counts its calls.
func failingQuotes(down *atomic.Bool, calls *atomic.Int64) *testserver.Resolver {
	return &testserver.Resolver{
		QuoteFn: func(_ context.Context, symbol string) (*testserver.Quote, error) {
			calls.Add(1)
			if down.Load() {
				return nil, errUpstream
			}
			return &testserver.Quote{Symbol: symbol, Price: 42}, nil
		},
	}
}

func TestDirectiveOpensBreakerAndOtherFieldsAnswer(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "quotes", Breaker: tripAfter(3, time.Minute)}))
	var down atomic.Bool
	var calls atomic.Int64
	down.Store(true)
	s := newTestServer(t, reg, failingQuotes(&down, &calls), nil)
	const q = `{ quote(symbol: "ACME") { symbol price } hello weather(city: "Oslo") }`

	for i := range 3 {
		r := s.query(t, q)
		e := r.errorAt(t, "quote")
		if e.Message != errUpstream.Error() || e.Extensions["code"] != nil {
			t.Fatalf("call %d: failure reported as %+v, want the resolver's own error", i, e)
		}
		d := r.data(t)
		if d["quote"] != nil || d["hello"] != "hello" || d["weather"] != "sunny in Oslo" {
			t.Fatalf("call %d: data %v", i, d)
		}
	}
	g := mustGuard(t, reg, "quotes")
	if st := g.Breaker().State(); st != breaker.Open {
		t.Fatalf("state %s after 3 failures, want open", st)
	}

	r := s.query(t, q)
	if n := calls.Load(); n != 3 {
		t.Fatalf("resolver called %d times, want 3: an open breaker must not call it", n)
	}
	e := r.errorAt(t, "quote")
	if e.Extensions["code"] != bbgraphql.CodeCircuitOpen {
		t.Fatalf("extensions %v, want code CIRCUIT_OPEN", e.Extensions)
	}
	// retryAfter is the breaker's remaining open time in whole seconds.
	if ra, ok := e.Extensions["retryAfter"].(float64); !ok || ra < 1 || ra > 60 {
		t.Fatalf("retryAfter %v, want 1..60 seconds", e.Extensions["retryAfter"])
	}
	if !strings.Contains(e.Message, `"quotes"`) {
		t.Fatalf("message %q does not name the guard", e.Message)
	}
	d := r.data(t)
	if d["quote"] != nil || d["hello"] != "hello" || d["weather"] != "sunny in Oslo" {
		t.Fatalf("partial result %v, want quote null and the other fields answered", d)
	}

	// cachedQuote shares the guard "quotes": it is rejected too, and when
	// its fallback fails, the rejection is what the client sees.
	r = s.query(t, `{ cachedQuote(symbol: "ACME") { symbol price } }`)
	if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != bbgraphql.CodeCircuitOpen {
		t.Fatalf("cachedQuote with a failing fallback: %+v", r.Errors)
	}
}

func TestDirectiveRecoversAfterOpenDuration(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "quotes", Breaker: tripAfter(2, 20*time.Millisecond)}))
	var down atomic.Bool
	var calls atomic.Int64
	down.Store(true)
	s := newTestServer(t, reg, failingQuotes(&down, &calls), nil)
	const q = `{ quote(symbol: "ACME") { price } }`
	s.query(t, q)
	s.query(t, q)
	g := mustGuard(t, reg, "quotes")
	if st := g.Breaker().State(); st != breaker.Open {
		t.Fatalf("state %s, want open", st)
	}

	down.Store(false)
	waitState(t, g, breaker.HalfOpen) // after the 20ms open duration
	r := s.query(t, q)
	if len(r.Errors) != 0 || r.data(t)["quote"] == nil {
		t.Fatalf("probe after the open duration: %+v %s", r.Errors, r.Data)
	}
	if st := g.Breaker().State(); st != breaker.Closed {
		t.Fatalf("state %s after a successful probe, want closed", st)
	}
}

func TestDirectiveRecoversOnReset(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "quotes", Breaker: tripAfter(1, time.Hour)}))
	var down atomic.Bool
	var calls atomic.Int64
	down.Store(true)
	s := newTestServer(t, reg, failingQuotes(&down, &calls), nil)
	const q = `{ quote(symbol: "ACME") { price } }`
	s.query(t, q)
	if r := s.query(t, q); r.errorAt(t, "quote").Extensions["code"] != bbgraphql.CodeCircuitOpen {
		t.Fatalf("not rejected: %+v", r.Errors)
	}
	down.Store(false)
	if _, err := reg.Reset(core.Name("quotes"), breaker.Manual{Actor: "test", Reason: "fixed"}); err != nil {
		t.Fatal(err)
	}
	if r := s.query(t, q); len(r.Errors) != 0 {
		t.Fatalf("after reset: %+v", r.Errors)
	}

	// Forced open by an operator: rejected with a retryAfter of at least 1.
	if _, err := reg.ForceOpen(core.Tag("none"), breaker.Manual{}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.ForceOpen(core.Name("quotes"), breaker.Manual{Actor: "sre", Reason: "maintenance"}); err != nil {
		t.Fatal(err)
	}
	e := s.query(t, q).errorAt(t, "quote")
	if e.Extensions["code"] != bbgraphql.CodeCircuitOpen || e.Extensions["retryAfter"] != float64(1) {
		t.Fatalf("forced open: %+v", e)
	}
}

func TestDirectiveFallback(t *testing.T) {
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "quotes", Breaker: tripAfter(2, time.Hour)}))
	var down atomic.Bool
	var calls atomic.Int64
	down.Store(true)
	var causes []fallback.Kind
	opts := []bbgraphql.Option{bbgraphql.WithFallback("cachedQuote", func(_ context.Context, c fallback.Cause) (any, error) {
		causes = append(causes, c.Kind) // requests are sequential
		return &testserver.Quote{Symbol: "ACME", Price: 41.5}, nil
	})}
	s := newTestServer(t, reg, failingQuotes(&down, &calls), opts)
	for range 3 {
		r := s.query(t, `{ cachedQuote(symbol: "ACME") { symbol price } hello }`)
		if len(r.Errors) != 0 {
			t.Fatalf("errors with a fallback: %+v", r.Errors)
		}
		if got := jsonString(r.data(t)); got != `{"cachedQuote":{"price":41.5,"symbol":"ACME"},"hello":"hello"}` {
			t.Fatalf("data %s", got)
		}
	}
	// Two failures answered by the fallback, then the open breaker's
	// rejection.
	want := []fallback.Kind{fallback.Failed, fallback.Failed, fallback.Rejected}
	if jsonString(causes) != jsonString(want) {
		t.Fatalf("fallback causes %v, want %v", causes, want)
	}

	// A fallback that fails too leaves the original error.
	s = newTestServer(t, newRegistry(t), failingQuotes(&down, &calls), nil)
	r := s.query(t, `{ cachedQuote(symbol: "ACME") { price } }`)
	if e := r.errorAt(t, "cachedQuote"); e.Message != errUpstream.Error() {
		t.Fatalf("error %+v, want the resolver's", e)
	}
}

func TestRegistryFallbackThroughPolicy(t *testing.T) {
	// The registry's own fallbacks (core.WithFallback + Policy.Fallbacks)
	// apply through core.Do.
	reg := newRegistry(t,
		core.WithFallback("noNews", func(context.Context, fallback.Cause) (any, error) {
			s := "no news today"
			return &s, nil
		}),
		core.WithPolicies(core.Policy{Name: "news", Fallbacks: []core.FallbackRef{{Name: "noNews"}}}),
	)
	res := &testserver.Resolver{NewsFn: func(context.Context) (*string, error) { return nil, errors.New("news down") }}
	s := newTestServer(t, reg, res, nil)
	r := s.query(t, `{ portfolio { owner news } }`)
	if len(r.Errors) != 0 || jsonString(r.data(t)) != `{"portfolio":{"news":"no news today","owner":"ada"}}` {
		t.Fatalf("got %+v %s", r.Errors, r.Data)
	}
	if snap := mustGuard(t, reg, "news").Snapshot(); snap.FallbackServed != 1 {
		t.Fatalf("FallbackServed %d, want 1", snap.FallbackServed)
	}
}

// A guard the directive first saw without retries, timeouts or fallbacks
// (and so ran directly) picks up a fallback a reload gives its policy: the
// directive used to remember "direct" for the guard's whole life.
func TestDirectiveFollowsPolicyReload(t *testing.T) {
	reg := newRegistry(t,
		core.WithFallback("noNews", func(context.Context, fallback.Cause) (any, error) {
			s := "no news today"
			return &s, nil
		}),
	)
	if _, err := reg.Apply(core.Document{Policies: []core.Policy{{Name: "news"}, {Name: "rest", Match: []string{"*"}}}}); err != nil {
		t.Fatal(err)
	}
	res := &testserver.Resolver{NewsFn: func(context.Context) (*string, error) { return nil, errors.New("news down") }}
	s := newTestServer(t, reg, res, nil)
	if r := s.query(t, `{ portfolio { owner news } }`); len(r.Errors) == 0 {
		t.Fatalf("before the reload: want the resolver's error, got %s", r.Data)
	}
	if _, err := reg.Apply(core.Document{Policies: []core.Policy{{Name: "news", Fallbacks: []core.FallbackRef{{Name: "noNews"}}}, {Name: "rest", Match: []string{"*"}}}}); err != nil {
		t.Fatal(err)
	}
	r := s.query(t, `{ portfolio { owner news } }`)
	if len(r.Errors) != 0 || jsonString(r.data(t)) != `{"portfolio":{"news":"no news today","owner":"ada"}}` {
		t.Fatalf("after the reload: got %+v %s", r.Errors, r.Data)
	}
}

func TestNullPropagation(t *testing.T) {
	reg := newRegistry(t)
	fail := func(context.Context) (float64, error) { return 0, errors.New("prices down") }
	res := &testserver.Resolver{
		ValueFn: fail,
		PriceFn: func(context.Context, string) (float64, error) { return 0, errors.New("prices down") },
		NewsFn:  func(context.Context) (*string, error) { return nil, errors.New("news down") },
	}
	s := newTestServer(t, reg, res, nil)

	// Nullable field: only it is null.
	r := s.query(t, `{ portfolio { owner news } hello }`)
	r.errorAt(t, "portfolio.news")
	if got := jsonString(r.data(t)); got != `{"hello":"hello","portfolio":{"news":null,"owner":"ada"}}` {
		t.Fatalf("nullable: %s", got)
	}

	// Non-null child (Portfolio.value: Float!): its parent becomes null,
	// the siblings of the parent still answer.
	r = s.query(t, `{ portfolio { owner value } hello }`)
	r.errorAt(t, "portfolio.value")
	if got := jsonString(r.data(t)); got != `{"hello":"hello","portfolio":null}` {
		t.Fatalf("non-null child: %s", got)
	}

	// Non-null root field (Query.price: Float!): data itself is null.
	r = s.query(t, `{ price(symbol: "ACME") hello }`)
	r.errorAt(t, "price")
	if string(r.Data) != "null" {
		t.Fatalf("non-null root: data %s, want null", r.Data)
	}

	// The same holds for rejections: open the breaker of "prices".
	if _, err := reg.ForceOpen(core.Name("prices"), breaker.Manual{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	r = s.query(t, `{ portfolio { owner value } hello }`)
	if e := r.errorAt(t, "portfolio.value"); e.Extensions["code"] != bbgraphql.CodeCircuitOpen {
		t.Fatalf("rejected non-null child: %+v", e)
	}
	if got := jsonString(r.data(t)); got != `{"hello":"hello","portfolio":null}` {
		t.Fatalf("rejected non-null child: %s", got)
	}
}

func TestDirectiveTimeout(t *testing.T) {
	reg := newRegistry(t)
	res := &testserver.Resolver{SlowFn: func(ctx context.Context) (*string, error) {
		<-ctx.Done() // the directive's 50ms deadline
		return nil, ctx.Err()
	}}
	s := newTestServer(t, reg, res, nil)
	r := s.query(t, `{ slow hello }`)
	e := r.errorAt(t, "slow")
	if e.Extensions["code"] != bbgraphql.CodeTimeout {
		t.Fatalf("extensions %v, want code TIMEOUT", e.Extensions)
	}
	if r.data(t)["hello"] != "hello" {
		t.Fatalf("data %s", r.Data)
	}
	// No name: the guard is keyed by the field.
	if snap := mustGuard(t, reg, "Query.slow").Snapshot(); snap.Breaker.Failed != 1 {
		t.Fatalf("Query.slow failures %d, want 1 (a timeout is a failure)", snap.Breaker.Failed)
	}
}

func TestChildrenRunWithLiveContext(t *testing.T) {
	// The policy's timeout gives the resolver a context that the guard
	// cancels when the resolver returns; gqlgen resolves the field's
	// children (Quote.change, a resolver that fails on a done context)
	// afterwards, and they must not see that cancellation.
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "quotes", Timeout: core.Duration(time.Minute)}))
	var inner context.Context
	res := &testserver.Resolver{QuoteFn: func(ctx context.Context, symbol string) (*testserver.Quote, error) {
		inner = ctx
		if _, ok := ctx.Deadline(); !ok {
			t.Error("resolver context has no deadline")
		}
		return &testserver.Quote{Symbol: symbol, Price: 50}, nil
	}}
	s := newTestServer(t, reg, res, nil)
	r := s.query(t, `{ quote(symbol: "ACME") { price change } }`)
	if len(r.Errors) != 0 || jsonString(r.data(t)) != `{"quote":{"change":0.5,"price":50}}` {
		t.Fatalf("got %+v %s", r.Errors, r.Data)
	}
	if inner == nil {
		t.Fatal("resolver not called")
	}
}

func TestWithClassifierIgnoresClientErrors(t *testing.T) {
	errNotFound := errors.New("no such symbol")
	reg := newRegistry(t, core.WithPolicies(core.Policy{Name: "quotes", Breaker: tripAfter(1, time.Hour)}))
	res := &testserver.Resolver{QuoteFn: func(context.Context, string) (*testserver.Quote, error) { return nil, errNotFound }}
	opts := []bbgraphql.Option{bbgraphql.WithClassifier(func(o breaker.Outcome) breaker.Result {
		if errors.Is(o.Err, errNotFound) {
			return breaker.Ignore
		}
		return breaker.DefaultClassifier(o)
	})}
	s := newTestServer(t, reg, res, opts)
	for range 3 {
		if e := s.query(t, `{ quote(symbol: "NOPE") { price } }`).errorAt(t, "quote"); e.Message != errNotFound.Error() {
			t.Fatalf("error %+v", e)
		}
	}
	if st := mustGuard(t, reg, "quotes").Breaker().State(); st != breaker.Closed {
		t.Fatalf("state %s: ignored errors opened the breaker", st)
	}
}

func TestDirectiveMisuseWithoutValidate(t *testing.T) {
	reg := newRegistry(t)
	d := bbgraphql.Directive(reg)
	ctx := fieldContext("Query", "slow", true)
	var called bool
	next := func(context.Context) (any, error) { called = true; return nil, errUpstream }

	bad := "soon"
	_, err := d(ctx, nil, next, nil, nil, &bad)
	if err == nil || called || !strings.Contains(err.Error(), `@breaker on Query.slow: timeout: "soon" is not a duration`) {
		t.Fatalf("bad timeout: %v (resolver called: %v)", err, called)
	}

	fb := "missing"
	_, err = d(ctx, nil, next, nil, &fb, nil)
	if err == nil || !errors.Is(err, errUpstream) || !strings.Contains(err.Error(), `fallback "missing" is not registered`) {
		t.Fatalf("unregistered fallback: %v", err)
	}

	// Outside a field, an unnamed directive has no key: an error, not a crash.
	if _, err := d(context.Background(), nil, trivial, nil, nil, nil); err == nil {
		t.Fatal("no error outside a field")
	}
}

func TestFieldErrorKeepsCodedErrors(t *testing.T) {
	// A resolver's own coded error is passed through, even for a timeout.
	coded := &gqlerror.Error{Message: "slow upstream", Err: context.DeadlineExceeded, Extensions: map[string]any{"code": "UPSTREAM_TIMEOUT"}}
	if got := bbgraphql.FieldError(context.Background(), coded); got != error(coded) {
		t.Fatalf("got %v", got)
	}
	e, ok := bbgraphql.FieldError(context.Background(), fmt.Errorf("wrapped: %w", context.DeadlineExceeded)).(*gqlerror.Error)
	if !ok || e.Extensions["code"] != bbgraphql.CodeTimeout || e.Extensions["retryAfter"] != nil || !errors.Is(e, context.DeadlineExceeded) {
		t.Fatalf("timeout: %#v", e)
	}
	if got := bbgraphql.RetryAfterSeconds(1500 * time.Millisecond); got != 2 {
		t.Fatalf("RetryAfterSeconds(1.5s) = %d", got)
	}
	if got := bbgraphql.RetryAfterSeconds(0); got != 1 {
		t.Fatalf("RetryAfterSeconds(0) = %d", got)
	}
}

func TestPrunedGuardIsReplaced(t *testing.T) {
	reg := newRegistry(t)
	s := newTestServer(t, reg, &testserver.Resolver{}, nil, bbgraphql.Fields(reg))
	const q = `{ quote(symbol: "ACME") { price } weather(city: "Oslo") }`
	s.query(t, q)
	old := mustGuard(t, reg, "quotes")
	now := time.Now()
	reg.PruneAt(now, time.Hour)
	pruned := reg.PruneAt(now.Add(2*time.Hour), time.Hour)
	if !slices.Contains(pruned, "quotes") || !slices.Contains(pruned, "Query.weather") || !old.Pruned() {
		t.Fatalf("pruned %v", pruned)
	}
	// The directive and the middleware cached the guards; they must see
	// that they were pruned and ask the registry again, which lists the
	// guard again. While a pruned guard is still held (here by the caches
	// and by old), the registry hands out that same guard, so its counts
	// and limits carry across the prune.
	s.query(t, q)
	for _, name := range []string{"quotes", "Query.weather"} {
		g, ok := reg.Lookup(name)
		if !ok {
			t.Errorf("guard %q not listed after it was used again", name)
			continue
		}
		if g.Pruned() || g.Snapshot().Breaker.Admitted != 2 {
			t.Errorf("guard %q after prune: pruned %v, admitted %d", name, g.Pruned(), g.Snapshot().Breaker.Admitted)
		}
	}
	if g, _ := reg.Lookup("quotes"); g != old {
		t.Error("a second guard was made for quotes while the pruned one was still held")
	}
}
