package httpmw_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/httpmw"
)

// upstream is a test server that fails on command: it answers the next
// `fail` requests with status (and header), then 200, and records the
// requests that reach it.
type upstream struct {
	*httptest.Server
	mu     sync.Mutex
	fail   int
	status int
	header http.Header
	body   string // failure body
	hits   atomic.Int64
	bodies []string // request bodies received
	conns  atomic.Int64
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{status: http.StatusServiceUnavailable}
	u.Server = httptest.NewUnstartedServer(http.HandlerFunc(u.serve))
	u.Server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			u.conns.Add(1)
		}
	}
	u.Start()
	t.Cleanup(u.Close)
	return u
}

// failNext makes the next n requests fail with status and h.
func (u *upstream) failNext(n, status int, h http.Header) {
	u.mu.Lock()
	u.fail, u.status, u.header = n, status, h
	u.mu.Unlock()
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.hits.Add(1)
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.bodies = append(u.bodies, string(b))
	fail := u.fail > 0
	if fail {
		u.fail--
	}
	status, h, body := u.status, u.header, u.body
	u.mu.Unlock()
	if fail {
		for k, v := range h {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
		return
	}
	_, _ = io.WriteString(w, "ok")
}

// fastRetrier retries up to attempts times with 1ms delays.
func fastRetrier(t testing.TB, attempts int, mod func(*retry.Config)) *retry.Retrier {
	t.Helper()
	cfg := retry.Config{MaxAttempts: attempts, InitialDelay: time.Millisecond, MaxDelay: 5 * time.Second, Jitter: retry.NoJitter, Multiplier: 1}
	if mod != nil {
		mod(&cfg)
	}
	r, err := retry.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newConnCounter returns a context whose requests count the new
// connections they open (httptrace), and the counter.
func newConnCounter() (context.Context, *atomic.Int64) {
	var n atomic.Int64
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) {
		if !info.Reused {
			n.Add(1)
		}
	}}
	return httptrace.WithClientTrace(context.Background(), trace), &n
}

func do(t testing.TB, c *http.Client, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func newRequest(t testing.TB, ctx context.Context, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestTransportOpensRejectsAndRecovers: the host's breaker opens on 5xx,
// rejects without reaching the server, half-opens and closes.
func TestTransportOpensRejectsAndRecovers(t *testing.T) {
	u := newUpstream(t)
	reg := newRegistry(t, tripPolicy("upstream", 50*time.Millisecond))
	c := &http.Client{Transport: httpmw.NewTransport(u.Client().Transport, httpmw.WithRegistry(reg), httpmw.WithPolicy("upstream"))}
	ctx := context.Background()

	u.failNext(3, http.StatusBadGateway, nil)
	for i := range 3 {
		if resp, _ := do(t, c, newRequest(t, ctx, "GET", u.URL, nil)); resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	host := strings.TrimPrefix(u.URL, "http://")
	g := mustGuard(t, reg, host)
	if s := g.Breaker().State(); s != breaker.Open {
		t.Fatalf("breaker %v, want open", s)
	}

	body := &closeTracker{Reader: strings.NewReader("payload")}
	req := newRequest(t, ctx, "PUT", u.URL, body)
	_, err := c.Do(req)
	if !errors.Is(err, core.ErrRejected) || !errors.Is(err, breaker.ErrOpen) {
		t.Fatalf("open breaker: error %v, want a rejection", err)
	}
	var rej *core.RejectedError
	if !errors.As(err, &rej) || rej.Guard != host {
		t.Errorf("error %v does not name the guard %s", err, host)
	}
	if d, ok := core.RetryAfter(err); !ok || d <= 0 || d > 50*time.Millisecond {
		t.Errorf("retry-after %v, %v; want the remaining open time", d, ok)
	}
	if n := u.hits.Load(); n != 3 {
		t.Fatalf("the server saw %d requests, want 3: a rejection reached it", n)
	}
	if !body.closed.Load() {
		t.Error("the rejected request's body was not closed")
	}

	waitState(t, g, breaker.HalfOpen)
	if resp, b := do(t, c, newRequest(t, ctx, "GET", u.URL, nil)); resp.StatusCode != 200 || b != "ok" {
		t.Fatalf("probe: %d %q", resp.StatusCode, b)
	}
	if s := g.Breaker().State(); s != breaker.Closed {
		t.Fatalf("breaker %v after a good probe, want closed", s)
	}
}

type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error { c.closed.Store(true); return nil }

// TestTransportErrorsAreFailures: a refused connection is a failure; a
// canceled request is ignored.
func TestTransportErrorsAreFailures(t *testing.T) {
	u := newUpstream(t)
	url := u.URL
	u.Close()
	tr := httpmw.NewTransport(nil)
	c := &http.Client{Transport: tr}
	if _, err := c.Get(url); err == nil {
		t.Fatal("no error from a closed server")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Do(newRequest(t, ctx, "GET", url, nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	g := mustGuard(t, tr.Registry(), strings.TrimPrefix(url, "http://"))
	if s := g.Snapshot().Breaker; s.Failed != 1 || s.Ignored != 1 {
		t.Errorf("failed %d, ignored %d; want 1, 1", s.Failed, s.Ignored)
	}
}

func TestClientClassifier(t *testing.T) {
	for _, tc := range []struct {
		o    breaker.Outcome
		want breaker.Result
	}{
		{breaker.Outcome{Code: 200, HasCode: true}, breaker.Success},
		{breaker.Outcome{Code: 404, HasCode: true}, breaker.Success},
		{breaker.Outcome{Code: 429, HasCode: true}, breaker.Ignore},
		{breaker.Outcome{Code: 501, HasCode: true}, breaker.Success},
		{breaker.Outcome{Code: 503, HasCode: true}, breaker.Failure},
		{breaker.Outcome{Err: errors.New("connection refused")}, breaker.Failure},
		{breaker.Outcome{Err: context.DeadlineExceeded}, breaker.Failure},
		{breaker.Outcome{Err: context.Canceled}, breaker.Ignore},
	} {
		if got := httpmw.ClientClassifier(tc.o); got != tc.want {
			t.Errorf("ClientClassifier(%+v) = %v, want %v", tc.o, got, tc.want)
		}
	}
}

// TestTransportRetriesReuseConnections: failing attempts are retried and
// their bodies drained, so one connection carries every attempt.
func TestTransportRetriesReuseConnections(t *testing.T) {
	u := newUpstream(t)
	u.body = strings.Repeat("e", 20000) // an error page the client must drain
	tr := httpmw.NewTransport(u.Client().Transport, httpmw.WithRetrier(fastRetrier(t, 3, nil)))
	c := &http.Client{Transport: tr}
	ctx, conns := newConnCounter()
	for i := range 5 {
		u.failNext(2, http.StatusServiceUnavailable, nil)
		resp, b := do(t, c, newRequest(t, ctx, "GET", u.URL, nil))
		if resp.StatusCode != 200 || b != "ok" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
		}
	}
	if n := u.hits.Load(); n != 15 {
		t.Errorf("server saw %d attempts, want 15", n)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d new connections for 15 attempts, want 1", n)
	}
	// Retries exhausted: the last failing response comes back, drained of
	// nothing, and the connection still serves the next request.
	u.failNext(3, http.StatusServiceUnavailable, nil)
	resp, b := do(t, c, newRequest(t, ctx, "GET", u.URL, nil))
	if resp.StatusCode != http.StatusServiceUnavailable || len(b) != 20000 {
		t.Fatalf("exhausted: %d with %d bytes, want 503 with its body", resp.StatusCode, len(b))
	}
	do(t, c, newRequest(t, ctx, "GET", u.URL, nil))
	if n := conns.Load(); n != 1 {
		t.Errorf("%d new connections, want 1", n)
	}
	if n := u.conns.Load(); n != 1 {
		t.Errorf("the server accepted %d connections, want 1", n)
	}
}

// TestTransportRetriesOnTransportError: a connection that dies before the
// response is retried for an idempotent request.
func TestTransportRetriesOnTransportError(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	base := srv.Client().Transport.(*http.Transport).Clone()
	base.DisableKeepAlives = true // no transparent retry by net/http on a fresh connection
	tr := httpmw.NewTransport(base, httpmw.WithRetrier(fastRetrier(t, 3, nil)))
	resp, b := do(t, &http.Client{Transport: tr}, newRequest(t, context.Background(), "GET", srv.URL, nil))
	if resp.StatusCode != 200 || b != "ok" || hits.Load() != 2 {
		t.Fatalf("%d %q after %d attempts", resp.StatusCode, b, hits.Load())
	}
	if s := mustGuard(t, tr.Registry(), strings.TrimPrefix(srv.URL, "http://")).Snapshot().Breaker; s.Failed != 1 || s.Succeeded != 1 {
		t.Errorf("failed %d, succeeded %d; want 1, 1", s.Failed, s.Succeeded)
	}
}

// TestTransportIdempotency: a POST is never retried, unless it carries an
// idempotency key or is marked idempotent; its body is replayed.
func TestTransportIdempotency(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(*http.Request) *http.Request
		body    func() io.Reader
		retried bool
	}{
		{"plain POST", func(r *http.Request) *http.Request { return r }, nil, false},
		{"Idempotency-Key", func(r *http.Request) *http.Request { r.Header.Set("Idempotency-Key", "k1"); return r }, nil, true},
		{"X-Idempotency-Key", func(r *http.Request) *http.Request { r.Header.Set("X-Idempotency-Key", "k1"); return r }, nil, true},
		{"nil-valued key", func(r *http.Request) *http.Request { r.Header["Idempotency-Key"] = nil; return r }, nil, true},
		{"MarkIdempotent", func(r *http.Request) *http.Request {
			return r.WithContext(httpmw.MarkIdempotent(r.Context()))
		}, nil, true},
		{"key, body not replayable", func(r *http.Request) *http.Request { r.Header.Set("Idempotency-Key", "k1"); return r },
			func() io.Reader { return struct{ io.Reader }{strings.NewReader("order")} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t)
			c := &http.Client{Transport: httpmw.NewTransport(u.Client().Transport, httpmw.WithRetrier(fastRetrier(t, 3, nil)))}
			var body io.Reader = bytes.NewReader([]byte("order"))
			if tc.body != nil {
				body = tc.body()
			}
			req := tc.prepare(newRequest(t, context.Background(), "POST", u.URL, body))
			orig := req.Header.Clone()
			u.failNext(1, http.StatusServiceUnavailable, nil)
			resp, _ := do(t, c, req)
			want, wantHits := http.StatusServiceUnavailable, int64(1)
			if tc.retried {
				want, wantHits = http.StatusOK, 2
			}
			if resp.StatusCode != want || u.hits.Load() != wantHits {
				t.Fatalf("status %d after %d attempts, want %d after %d", resp.StatusCode, u.hits.Load(), want, wantHits)
			}
			for i, b := range u.bodies {
				if b != "order" {
					t.Errorf("attempt %d sent body %q", i+1, b)
				}
			}
			if len(req.Header) != len(orig) || req.Header.Get("Idempotency-Key") != orig.Get("Idempotency-Key") {
				t.Errorf("the caller's request was changed: %v, was %v", req.Header, orig)
			}
		})
	}
}

// TestTransportHints: Retry-After and proxy hints steer the retries.
func TestTransportHints(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		hits   int64 // attempts made with 3 allowed and 3 failures queued
		delay  time.Duration
	}{
		{"malformed Retry-After is ignored", 503, http.Header{"Retry-After": {"soon"}}, 3, time.Millisecond},
		{"negative Retry-After is ignored", 503, http.Header{"Retry-After": {"-5"}}, 3, time.Millisecond},
		{"huge Retry-After is capped, not waited for", 503, http.Header{"Retry-After": {"99999999999999999999999"}}, 1, 0},
		{"Retry-After date far ahead", 429, http.Header{"Retry-After": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}}, 1, 0},
		{"Retry-After date in the past", 429, http.Header{"Retry-After": {"Sun, 06 Nov 1994 08:49:37 GMT"}}, 3, time.Millisecond},
		{"Retry-After 0", 503, http.Header{"Retry-After": {"0"}}, 3, time.Millisecond},
		{"grpc pushback", 503, http.Header{"Grpc-Retry-Pushback-Ms": {"20"}}, 3, 20 * time.Millisecond},
		{"grpc pushback negative: no retry", 503, http.Header{"Grpc-Retry-Pushback-Ms": {"-1"}}, 1, 0},
		{"grpc pushback malformed: no retry", 503, http.Header{"Grpc-Retry-Pushback-Ms": {"x"}}, 1, 0},
		{"envoy overloaded: no retry", 503, http.Header{"X-Envoy-Overloaded": {"true"}}, 1, 0},
		{"envoy rate limited: retried", 429, http.Header{"X-Envoy-Ratelimited": {"true"}}, 3, time.Millisecond},
		{"501 is not retried", 501, nil, 1, 0},
		{"505 is not retried", 505, nil, 1, 0},
		{"404 is not retried", 404, nil, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := newUpstream(t)
			var delays []time.Duration
			r := fastRetrier(t, 3, func(c *retry.Config) {
				c.OnRetry = func(_ context.Context, a retry.Attempt) { delays = append(delays, a.Delay) }
			})
			c := &http.Client{Transport: httpmw.NewTransport(u.Client().Transport, httpmw.WithRetrier(r))}
			u.failNext(3, tc.status, tc.header)
			resp, _ := do(t, c, newRequest(t, context.Background(), "GET", u.URL, nil))
			if resp.StatusCode != tc.status || u.hits.Load() != tc.hits {
				t.Fatalf("status %d after %d attempts, want %d after %d", resp.StatusCode, u.hits.Load(), tc.status, tc.hits)
			}
			for i, d := range delays {
				if d != tc.delay {
					t.Errorf("retry %d waited %v, want %v", i+1, d, tc.delay)
				}
			}
		})
	}
}

// TestTransportRetryAfterSeconds: a Retry-After in seconds reaches the
// retrier as the attempt's hint (the retrier here declines to wait for it).
func TestTransportRetryAfterSeconds(t *testing.T) {
	u := newUpstream(t)
	var seen []*httpmw.StatusError
	r := fastRetrier(t, 3, func(c *retry.Config) {
		c.RetryOn = func(err error) bool {
			var se *httpmw.StatusError
			if errors.As(err, &se) {
				seen = append(seen, se)
			}
			return false
		}
	})
	c := &http.Client{Transport: httpmw.NewTransport(u.Client().Transport, httpmw.WithRetrier(r))}
	u.failNext(1, 429, http.Header{"Retry-After": {" 3 "}})
	resp, _ := do(t, c, newRequest(t, context.Background(), "GET", u.URL, nil))
	if resp.StatusCode != 429 || len(seen) != 1 {
		t.Fatalf("status %d, %d status errors", resp.StatusCode, len(seen))
	}
	if se := seen[0]; se.StatusCode != 429 || se.RetryAfter() != 3*time.Second || se.Error() != "httpmw: response status 429 Too Many Requests" {
		t.Errorf("status error %+v: %v", se, se)
	}
}

// TestTransportEnvoyRateLimitedIsIgnored: a proxy's rate limit says nothing
// about the service's health, even as a 503.
func TestTransportEnvoyRateLimitedIsIgnored(t *testing.T) {
	u := newUpstream(t)
	tr := httpmw.NewTransport(u.Client().Transport)
	u.failNext(1, 503, http.Header{"X-Envoy-Ratelimited": {"true"}})
	do(t, &http.Client{Transport: tr}, newRequest(t, context.Background(), "GET", u.URL, nil))
	if s := mustGuard(t, tr.Registry(), strings.TrimPrefix(u.URL, "http://")).Snapshot().Breaker; s.Ignored != 1 {
		t.Errorf("ignored %d, want 1", s.Ignored)
	}
}

// TestTransportRejectionEndsRetries: when the breaker opens during the
// retries, the last response is returned and the server sees no more.
func TestTransportRejectionEndsRetries(t *testing.T) {
	u := newUpstream(t)
	reg := newRegistry(t, core.Policy{Name: "two", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 2, DisableFailureRate: true, OpenDuration: core.Duration(time.Hour)}})
	tr := httpmw.NewTransport(u.Client().Transport, httpmw.WithRegistry(reg), httpmw.WithPolicy("two"), httpmw.WithRetrier(fastRetrier(t, 5, nil)))
	u.failNext(5, http.StatusInternalServerError, nil)
	ctx, conns := newConnCounter()
	resp, _ := do(t, &http.Client{Transport: tr}, newRequest(t, ctx, "GET", u.URL, nil))
	if resp.StatusCode != 500 || u.hits.Load() != 2 {
		t.Fatalf("status %d after %d attempts, want 500 after 2", resp.StatusCode, u.hits.Load())
	}
	if _, err := tr.RoundTrip(newRequest(t, ctx, "GET", u.URL, nil)); !errors.Is(err, core.ErrRejected) {
		t.Fatalf("next request: %v, want a rejection", err)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

// TestTransportCanceledDuringRetryDelay: the caller's cancellation during a
// backoff delay ends the call with its error.
func TestTransportCanceledDuringRetryDelay(t *testing.T) {
	u := newUpstream(t)
	ctx, cancel := context.WithCancel(context.Background())
	r := fastRetrier(t, 3, func(c *retry.Config) {
		c.InitialDelay = time.Hour
		c.MaxDelay = time.Hour
		c.OnRetry = func(context.Context, retry.Attempt) { cancel() }
	})
	c := &http.Client{Transport: httpmw.NewTransport(u.Client().Transport, httpmw.WithRetrier(r))}
	u.failNext(3, 503, nil)
	if _, err := c.Do(newRequest(t, ctx, "GET", u.URL, nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
}

// TestTransportKeyAndClassifier: a key function names the guards; a
// classifier sees status and latency.
func TestTransportKeyAndClassifier(t *testing.T) {
	u := newUpstream(t)
	var seen []breaker.Outcome
	var mu sync.Mutex
	tr := httpmw.NewTransport(u.Client().Transport,
		httpmw.WithKey(func(r *http.Request) string { return "svc." + r.Header.Get("X-Service") }),
		httpmw.WithTags("outbound"),
		httpmw.WithClassifier(func(o breaker.Outcome) breaker.Result {
			mu.Lock()
			seen = append(seen, o)
			mu.Unlock()
			return breaker.Success
		}))
	req := newRequest(t, context.Background(), "GET", u.URL, nil)
	req.Header.Set("X-Service", "billing")
	u.failNext(1, 502, nil)
	do(t, &http.Client{Transport: tr}, req)
	g := mustGuard(t, tr.Registry(), "svc.billing")
	if !g.HasTag("outbound") || len(seen) != 1 || seen[0].Code != 502 || !seen[0].HasCode || seen[0].Latency <= 0 {
		t.Errorf("tags %v, outcomes %+v", g.Tags(), seen)
	}
	if s := g.Snapshot().Breaker; s.Succeeded != 1 {
		t.Errorf("succeeded %d, want 1 (the classifier's verdict)", s.Succeeded)
	}
}

func TestTransportUnknownPolicy(t *testing.T) {
	tr := httpmw.NewTransport(nil, httpmw.WithPolicy("missing"))
	body := &closeTracker{Reader: strings.NewReader("x")}
	req := newRequest(t, context.Background(), "POST", "http://192.0.2.1/", body)
	if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("error %v, want one naming the policy", err)
	}
	if !body.closed.Load() {
		t.Error("body not closed")
	}
}

// fixedRoundTripper answers every request with the same response, for
// allocation tests without the network.
type fixedRoundTripper struct{ resp *http.Response }

func (f fixedRoundTripper) RoundTrip(*http.Request) (*http.Response, error) { return f.resp, nil }

func TestTransportAdmittedPathAllocatesNothing(t *testing.T) {
	resp := &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}
	for _, withRetrier := range []bool{false, true} {
		var opts []httpmw.Option
		if withRetrier {
			opts = append(opts, httpmw.WithRetrier(fastRetrier(t, 3, nil)))
		}
		tr := httpmw.NewTransport(fixedRoundTripper{resp}, opts...)
		req := newRequest(t, context.Background(), "GET", "http://example.test/x", nil)
		_, _ = tr.RoundTrip(req)
		if n := testing.AllocsPerRun(1000, func() { _, _ = tr.RoundTrip(req) }); n != 0 {
			t.Errorf("retrier %v: %v allocations per round trip, want 0", withRetrier, n)
		}
	}
}

func TestTransportCloseIdleConnections(t *testing.T) {
	u := newUpstream(t)
	tr := httpmw.NewTransport(u.Client().Transport)
	c := &http.Client{Transport: tr}
	do(t, c, newRequest(t, context.Background(), "GET", u.URL, nil))
	c.CloseIdleConnections()
	ctx, conns := newConnCounter()
	do(t, c, newRequest(t, ctx, "GET", u.URL, nil))
	if n := conns.Load(); n != 1 {
		t.Errorf("%d new connections after CloseIdleConnections, want 1", n)
	}
	httpmw.NewTransport(fixedRoundTripper{}).CloseIdleConnections() // no such method: no-op
}

func TestTransportHostKey(t *testing.T) {
	resp := &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}
	tr := httpmw.NewTransport(fixedRoundTripper{resp})
	req := &http.Request{Method: "GET", URL: nil, Host: "h.example:81", Header: http.Header{}}
	req = req.WithContext(context.Background())
	_, _ = tr.RoundTrip(req)
	req2 := newRequest(t, context.Background(), "GET", "http://x.example/", nil)
	req2.URL.Host = ""
	req2.Host = ""
	_, _ = tr.RoundTrip(req2)
	for _, name := range []string{"h.example:81", httpmw.UnmatchedKey} {
		mustGuard(t, tr.Registry(), name)
	}
}

// TestTransportConcurrent sends from many goroutines with retries while the
// server fails one request in three; every body is drained so connections
// stay few.
func TestTransportConcurrent(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 == 0 {
			http.Error(w, strings.Repeat("x", 1000), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	base := srv.Client().Transport.(*http.Transport)
	base.MaxIdleConnsPerHost = 8
	tr := httpmw.NewTransport(base, httpmw.WithRetrier(fastRetrier(t, 4, nil)))
	c := &http.Client{Transport: tr}
	ctx, conns := newConnCounter()
	const workers, each = 8, 30
	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				resp, err := c.Do(newRequest(t, ctx, "GET", srv.URL, nil))
				if err != nil {
					if !errors.Is(err, core.ErrRejected) {
						t.Error(err)
					}
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if ok.Load()+failed.Load() != workers*each || ok.Load() < workers*each*9/10 {
		t.Errorf("ok %d, failed %d", ok.Load(), failed.Load())
	}
	if c := conns.Load(); c > 2*workers {
		t.Errorf("%d new connections for %d workers", c, workers)
	}
}
