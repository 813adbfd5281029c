package httpmw

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// drainLimit bounds how much of a dropped response body the transport reads
// so that its connection can be reused; a longer body is closed unread,
// which costs the connection but not the time.
const drainLimit = 64 << 10

// Transport is an http.RoundTripper that runs every request through a
// circuit-breaker guard, keyed by host, and optionally retries it.
//
// # Guards
//
// Each request is keyed by its host (URL.Host, port included) or by
// [WithKey]'s function, and each key is a guard in the transport's registry
// ([WithRegistry]). A request the guard rejects never reaches the network:
// RoundTrip returns the guard's *core.RejectedError, which matches
// core.ErrRejected (through the *url.Error http.Client wraps it in, too)
// and carries a retry-after (core.RetryAfter finds it).
//
// The outcome is classified when the response header arrives, by
// [ClientClassifier] (transport errors and 5xx other than 501 are failures,
// 429 is ignored, the rest are successes) or by [WithClassifier]'s
// classifier. A 5xx that carries x-envoy-ratelimited came from a proxy's rate
// limiter, not from the service, and is reported to the classifier as a 429.
// Since the outcome is known with the header, a bulkhead in the guard's
// policy limits requests waiting for their response header, not responses
// whose bodies are still being read.
//
// # Retries
//
// With [WithRetrier], an attempt that fails with a transport error or a
// retryable status (429, or 5xx other than 501 and 505) is tried again, as
// the retrier's schedule and budget allow, if the request may be sent
// twice:
//
//   - its method is idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE), or
//     it carries an Idempotency-Key or X-Idempotency-Key header (net/http's
//     convention; a key with a nil value marks the request without sending
//     the header), or its context was marked with [MarkIdempotent]; and
//   - its body can be replayed: no body, or GetBody set (http.NewRequest sets
//     it for in-memory bodies).
//
// Every attempt passes through the guard: a rejection ends the retries
// (retry.DefaultRetryOn never retries one). Retries honour the server's hints: a
// Retry-After (seconds or an HTTP date) or grpc-retry-pushback-ms delay
// lengthens the wait; a response that asks not to be retried
// (x-envoy-overloaded, a negative grpc-retry-pushback-ms) or whose hint is
// longer than the retrier's MaxDelay is returned to the caller at once.
// Retries send a clone of the request with a fresh body from GetBody; the
// caller's request is never changed. The response of an attempt that is
// retried is drained (up to 64 KiB) and closed, so that its connection is
// reused. When the retries end on a retryable response (attempts used up,
// the budget spent, the guard rejecting the next attempt), that response is
// returned, as a plain http.Transport would have returned it.
//
// A Transport is safe for concurrent use. Its overhead on a request is a
// guard lookup and the guard's admission and report: no allocation.
type Transport struct {
	base     http.RoundTripper
	reg      *core.Registry
	cfg      config
	gopts    []core.GuardOption
	maxDelay time.Duration // the retrier's MaxDelay: longer hints are not waited for

	warnedDefault sync.Map // guard names logged as taking the default policy
}

// NewTransport returns a Transport that sends requests through base, or
// http.DefaultTransport when base is nil.
func NewTransport(base http.RoundTripper, opts ...Option) *Transport {
	if base == nil {
		base = http.DefaultTransport
	}
	cfg := newConfig(opts)
	t := &Transport{base: base, reg: cfg.reg, cfg: cfg, gopts: cfg.guardOptions()}
	if t.reg == nil {
		// A registry without options cannot fail to build.
		t.reg, _ = core.NewRegistry()
	}
	if cfg.retrier != nil {
		t.maxDelay = cfg.retrier.Config().MaxDelay
	}
	return t
}

// Registry returns the registry holding the transport's guards.
func (t *Transport) Registry() *core.Registry { return t.reg }

// CloseIdleConnections closes the idle connections of the underlying
// transport, if it has such a method (http.Client.CloseIdleConnections
// calls it).
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip implements http.RoundTripper; see [Transport].
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	name := t.key(req)
	g, ok := t.reg.Lookup(name)
	if !ok {
		if t.cfg.policy == "" && name != UnmatchedKey {
			warnDefault(t.reg, name, &t.cfg, &t.warnedDefault,
				`name a policy after the host (such as "api.example.com:443"), give one a Match pattern for it, name the dependency with WithKey, or use WithPolicy`)
		}
		var err error
		if g, err = t.reg.Guard(name, t.gopts...); err != nil {
			closeBody(req)
			return nil, err
		}
	}
	req, g = t.cfg.forCall(t.reg, req, g)
	if t.extended(g, req) { // hedging or a cached fallback: hedge.go
		return t.roundTripExtended(g, req)
	}
	return t.exchange(g, req)
}

// exchange sends req once: hedged if the guard hedges it (see hedge.go),
// else through the retrier if req may be retried, else as one attempt.
func (t *Transport) exchange(g *core.Guard, req *http.Request) (*http.Response, error) {
	switch {
	case g.Hedges() && canRetry(req):
		return t.roundTripHedged(g, req)
	case t.cfg.retrier != nil && canRetry(req):
		return t.roundTripRetry(g, req)
	}
	p, err := g.Allow(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	return t.attempt(&p, req)
}

func (t *Transport) key(req *http.Request) string {
	if t.cfg.key != nil {
		if k := t.cfg.key(req); k != "" {
			return k
		}
		return UnmatchedKey
	}
	if req.URL != nil && req.URL.Host != "" {
		return req.URL.Host
	}
	if req.Host != "" {
		return req.Host
	}
	return UnmatchedKey
}

// attempt sends req under the admitted permit p and reports the outcome.
func (t *Transport) attempt(p *core.Permit, req *http.Request) (*http.Response, error) {
	var start time.Time
	if t.cfg.classifier != nil {
		start = time.Now()
	}
	defer p.Settle()
	resp, err := t.base.RoundTrip(req)
	o := breaker.Outcome{Err: err}
	if err == nil && resp != nil {
		o.Code, o.HasCode = resp.StatusCode, true
		if o.Code >= 500 {
			if _, ok := resp.Header["X-Envoy-Ratelimited"]; ok {
				o.Code = http.StatusTooManyRequests
			}
		}
	}
	if t.cfg.classifier == nil {
		p.Report(ClientClassifier(o), err)
	} else {
		o.Latency = time.Since(start)
		p.Report(classify(t.cfg.classifier, o), err)
	}
	return resp, err
}

// roundTripRetry sends req, a request that may be sent more than once,
// through the retrier.
func (t *Transport) roundTripRetry(g *core.Guard, req *http.Request) (*http.Response, error) {
	var (
		n     int
		final *http.Response // the response to return after a nil error
		held  *http.Response // the last attempt's retryable response, not yet drained
	)
	err := t.cfg.retrier.Do(req.Context(), func(ctx context.Context) error {
		n++
		r := req
		if n > 1 {
			var err error
			if r, err = rewind(ctx, req); err != nil {
				return err
			}
		}
		p, err := g.Allow(ctx)
		if err != nil {
			closeBody(r)
			return err
		}
		if held != nil {
			drain(held)
			held = nil
		}
		resp, err := t.attempt(&p, r)
		if err != nil {
			return err
		}
		if resp == nil || !retryableStatus(resp.StatusCode) {
			final = resp
			return nil
		}
		h := responseHints(resp.Header)
		if h.noRetry || h.after > t.maxDelay {
			final = resp
			return nil
		}
		held = resp
		return &StatusError{StatusCode: resp.StatusCode, Header: resp.Header, After: h.after}
	})
	switch {
	case err == nil:
		return final, nil
	case held != nil && req.Context().Err() == nil:
		// The retries ended on a response that asked for one: return it.
		return held, nil
	case held != nil:
		drain(held)
	}
	return nil, err
}

// rewind returns a clone of req for another attempt, with a fresh body.
func rewind(ctx context.Context, req *http.Request) (*http.Request, error) {
	r := req.Clone(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	return r, nil
}

// retryableStatus reports whether a response with this status may be
// retried: 429 Too Many Requests, or a 5xx other than 501 Not Implemented
// and 505 HTTP Version Not Supported, which no retry will change.
func retryableStatus(code int) bool {
	return code == http.StatusTooManyRequests ||
		(code >= 500 && code <= 599 && code != http.StatusNotImplemented && code != http.StatusHTTPVersionNotSupported)
}

// canRetry reports whether req may be sent more than once.
func canRetry(req *http.Request) bool {
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	switch req.Method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	if _, ok := req.Header["Idempotency-Key"]; ok {
		return true
	}
	if _, ok := req.Header["X-Idempotency-Key"]; ok {
		return true
	}
	marked, _ := req.Context().Value(idempotentKey{}).(bool)
	return marked
}

type idempotentKey struct{}

// MarkIdempotent returns a context that marks the requests made with it as
// idempotent, so that a [Transport] with a retrier may retry them whatever
// their method: a POST that the server deduplicates, say. Prefer an
// Idempotency-Key header when the server supports one.
func MarkIdempotent(ctx context.Context) context.Context {
	return context.WithValue(ctx, idempotentKey{}, true)
}

// drain reads what remains of resp's body, up to drainLimit, and closes it,
// so that the connection can carry the next request.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, drainLimit)
	_ = resp.Body.Close()
}

// closeBody closes a request's body, as a RoundTripper must even when it
// does not send the request.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// StatusError is the error a [Transport]'s retrier sees for an attempt whose
// response asks for a retry (a retryable status, see [Transport]), so that a
// retry.Config.RetryOn can decide by status and the retrier can honour the
// server's hint. RoundTrip never returns it: when the retries end, the
// caller gets the response itself.
type StatusError struct {
	// StatusCode is the response's status.
	StatusCode int
	// Header is the response's header.
	Header http.Header
	// After is the server's retry-after hint (Retry-After or
	// grpc-retry-pushback-ms), capped at MaxRetryAfter; 0 when it gave none.
	After time.Duration
}

// Error returns "httpmw: response status 503 Service Unavailable".
func (e *StatusError) Error() string {
	return "httpmw: response status " + strconv.Itoa(e.StatusCode) + " " + http.StatusText(e.StatusCode)
}

// RetryAfter returns the server's hint, for retry.RetryAfter and
// core.RetryAfter.
func (e *StatusError) RetryAfter() time.Duration { return e.After }

// ClientClassifier is the transport's default classifier. It ignores a call
// whose error matches context.Canceled (the caller gave up), counts any
// other error (a transport error: refused connection, timeout, reset) and
// any 5xx status except 501 Not Implemented as a failure, ignores 429 Too
// Many Requests (the server is limiting this client, which says nothing
// about its health), and counts everything else as a success.
func ClientClassifier(o breaker.Outcome) breaker.Result {
	if o.Err != nil {
		return breaker.DefaultClassifier(o)
	}
	if o.HasCode {
		switch {
		case o.Code == http.StatusTooManyRequests:
			return breaker.Ignore
		case o.Code >= 500 && o.Code != http.StatusNotImplemented:
			return breaker.Failure
		}
	}
	return breaker.Success
}
