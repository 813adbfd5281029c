package httpmw_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/httpmw"
)

// completions is a registry whose OnDone hook records every outcome
// reported to its guards.
type completions struct {
	reg  *core.Registry
	mu   sync.Mutex
	seen []core.Completion
}

func newCompletions(t *testing.T) *completions {
	t.Helper()
	c := &completions{}
	reg, err := core.NewRegistry(core.WithHooks(core.Hooks{OnDone: func(_ context.Context, e core.Completion) {
		c.mu.Lock()
		c.seen = append(c.seen, e)
		c.mu.Unlock()
	}}))
	if err != nil {
		t.Fatal(err)
	}
	c.reg = reg
	return c
}

// checkOne fails unless guard name saw exactly one outcome, r with err.
func (c *completions) checkOne(t *testing.T, name string, r breaker.Result, err error) {
	t.Helper()
	c.mu.Lock()
	seen := c.seen
	c.seen = nil
	c.mu.Unlock()
	if len(seen) != 1 || seen[0].Guard != name || seen[0].Result != r || !errors.Is(seen[0].Err, err) {
		t.Errorf("%s: completions %+v, want one %v with %v", name, seen, r, err)
	}
	s := mustGuard(t, c.reg, name).Snapshot().Breaker
	if n := s.Succeeded + s.Failed + s.Ignored; n != 1 {
		t.Errorf("%s: breaker counted %d outcomes, want 1: %+v", name, n, s)
	}
}

// mustPanic runs f and fails unless it panics with want.
func mustPanic(t *testing.T, want any, f func()) {
	t.Helper()
	defer func() {
		if v := recover(); v != want {
			t.Errorf("recovered %v, want %v", v, want)
		}
	}()
	f()
}

type panickingRoundTripper struct{}

func (panickingRoundTripper) RoundTrip(*http.Request) (*http.Response, error) { panic("transport bug") }

// TestTransportPanicReportedOnce: a panic in the base round tripper is one
// failure with core.ErrPanicked, with and without retries, and goes on.
func TestTransportPanicReportedOnce(t *testing.T) {
	c := newCompletions(t)
	r, err := retry.New(retry.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for host, tr := range map[string]*httpmw.Transport{
		"plain.test": httpmw.NewTransport(panickingRoundTripper{}, httpmw.WithRegistry(c.reg)),
		"retry.test": httpmw.NewTransport(panickingRoundTripper{}, httpmw.WithRegistry(c.reg), httpmw.WithRetrier(r)),
	} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/x", nil)
		mustPanic(t, "transport bug", func() { _, _ = tr.RoundTrip(req) })
		c.checkOne(t, host, breaker.Failure, core.ErrPanicked)
	}
}

// TestMiddlewarePanicReportedOnce: a panicking handler is one failure with
// core.ErrPanicked, and the panic goes on.
func TestMiddlewarePanicReportedOnce(t *testing.T) {
	c := newCompletions(t)
	h := httpmw.Middleware(c.reg)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("handler bug") }))
	r, rec := benchRequest()
	mustPanic(t, "handler bug", func() { h.ServeHTTP(rec, r) })
	c.checkOne(t, "GET /x", breaker.Failure, core.ErrPanicked)
}

// TestMiddlewareAbortAfterClientLeftIsIgnored: a handler that aborts (as
// httputil.ReverseProxy does when the client went away) after its client
// left is ignored, once: client disconnects must not open the breaker.
func TestMiddlewareAbortAfterClientLeftIsIgnored(t *testing.T) {
	c := newCompletions(t)
	h := httpmw.Middleware(c.reg)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r, rec := benchRequest()
	mustPanic(t, http.ErrAbortHandler, func() { h.ServeHTTP(rec, r.WithContext(ctx)) })
	c.checkOne(t, "GET /x", breaker.Ignore, context.Canceled)
}

// TestMiddlewareClassifierDecidesOnPanics: WithClassifier's classifier sees
// a handler's panic, once, and its verdict is what counts.
func TestMiddlewareClassifierDecidesOnPanics(t *testing.T) {
	c := newCompletions(t)
	var got []breaker.Outcome
	classify := func(o breaker.Outcome) breaker.Result {
		got = append(got, o)
		return breaker.Ignore
	}
	h := httpmw.Middleware(c.reg, httpmw.WithClassifier(classify))(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTeapot)
		panic("handler bug")
	}))
	r, rec := benchRequest()
	mustPanic(t, "handler bug", func() { h.ServeHTTP(rec, r) })
	if len(got) != 1 || !errors.Is(got[0].Err, core.ErrPanicked) || got[0].Code != http.StatusTeapot {
		t.Errorf("classifier saw %+v, want one panic after a 418", got)
	}
	c.checkOne(t, "GET /x", breaker.Ignore, core.ErrPanicked)
}

// TestDefaultClassifiersFollowTheBreakerOnErrors: ServerClassifier and
// ClientClassifier judge an error as breaker.DefaultClassifier does, whatever
// the status, instead of keeping a copy of its rules.
func TestDefaultClassifiersFollowTheBreakerOnErrors(t *testing.T) {
	for _, err := range []error{
		errors.New("connection refused"),
		context.Canceled,
		context.DeadlineExceeded,
		core.ErrPanicked,
		errors.Join(errors.New("read body"), context.Canceled),
	} {
		for _, code := range []int{0, 200, 429, 500, 501} {
			o := breaker.Outcome{Err: err, Code: code, HasCode: code != 0}
			want := breaker.DefaultClassifier(o)
			if got := httpmw.ServerClassifier(o); got != want {
				t.Errorf("ServerClassifier(%+v) = %v, breaker.DefaultClassifier says %v", o, got, want)
			}
			if got := httpmw.ClientClassifier(o); got != want {
				t.Errorf("ClientClassifier(%+v) = %v, breaker.DefaultClassifier says %v", o, got, want)
			}
		}
	}
}
