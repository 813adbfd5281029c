package httpmw

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/cache"
	"github.com/breakerbox/breakerbox/core/hedge"
)

// MaxCachedBody is the longest response body a [Transport] keeps for a
// guard with a cached fallback; a longer response is passed through
// unkept.
const MaxCachedBody = 1 << 20

// StaleWarning is the Warning header a [Transport] sets on a stale answer
// (RFC 7234's warn-code 110), with an Age header giving the answer's age
// in seconds.
const StaleWarning = `110 - "Response is Stale"`

// Hedging and cached fallbacks
//
// When the guard of a request has a hedge section in its policy
// (core.HedgePolicy), the Transport hedges the requests it may send twice
// (the same rule as its retries: an idempotent method or an idempotency
// key, and a body it can replay): when an attempt's response header has
// not arrived after the hedge delay, another attempt starts, the first
// response that is not retryable wins, and the others are cancelled and
// their bodies closed. Each attempt passes the guard's gates; hedges spend
// the guard's retry budget and stop while its breaker is not closed. A
// hedged request is not retried by the Transport's retrier as well. When
// every attempt ends on a retryable response, the last one is returned.
//
// When the guard has a cache section (core.CachePolicy), GET requests are
// answered through it, keyed by method and URL: a 2xx response with a body
// of at most MaxCachedBody is kept, read whole; a request that fails (a
// transport error, a 5xx other than 501, a rejection) is answered with the
// last good response no older than the max staleness, marked with a
// Warning (StaleWarning) and an Age header. Concurrent GETs of one URL
// share one request. Responses that vary with request headers
// (Authorization, Accept-Language) must not go through a cached guard.

// extended reports whether req goes through the guard's hedging or cache.
func (t *Transport) extended(g *core.Guard, req *http.Request) bool {
	return g.Hedges() && canRetry(req) || g.Cache() != nil && cacheable(req)
}

func cacheable(req *http.Request) bool {
	return req.Method == "" || req.Method == http.MethodGet
}

// roundTripExtended sends req through the guard's cache (a GET) and its
// hedging (an idempotent request).
func (t *Transport) roundTripExtended(g *core.Guard, req *http.Request) (*http.Response, error) {
	if g.Cache() == nil || !cacheable(req) {
		return t.exchange(g, req)
	}
	return t.roundTripCached(g, req)
}

// roundTripHedged sends req with the guard's hedger.
func (t *Transport) roundTripHedged(g *core.Guard, req *http.Request) (*http.Response, error) {
	var started atomic.Bool
	resp, err := hedge.DoDrop(req.Context(), g.Hedger(), func(ctx context.Context) (*http.Response, error) {
		return t.hedgeAttempt(g, req, ctx, started.CompareAndSwap(false, true))
	}, closeResponse)
	if err != nil && resp != nil {
		return resp, nil // every attempt ended on a retryable response: the last one
	}
	return resp, err
}

// hedgeAttempt sends one attempt of req; hctx ends when the attempt loses.
// The request runs in a context of its own, cancelled when the attempt
// loses before its header arrives and, after that, when its body is
// closed, so that the winner's body outlives the hedging.
func (t *Transport) hedgeAttempt(g *core.Guard, req *http.Request, hctx context.Context, first bool) (*http.Response, error) {
	actx, cancel := context.WithCancel(req.Context())
	stop := context.AfterFunc(hctx, cancel)
	r := req.WithContext(actx)
	if !first {
		var err error
		if r, err = rewind(actx, req); err != nil {
			stop()
			cancel()
			return nil, err
		}
	}
	p, err := g.Allow(actx)
	if err != nil {
		stop()
		cancel()
		closeBody(r)
		return nil, err
	}
	resp, err := t.attempt(&p, r)
	stop()
	if err != nil || resp == nil {
		cancel()
		return nil, err
	}
	resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
	if retryableStatus(resp.StatusCode) {
		return resp, &StatusError{StatusCode: resp.StatusCode, Header: resp.Header, After: responseHints(resp.Header).after}
	}
	return resp, nil
}

// cancelBody cancels its request's context when closed.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

// closeResponse releases the response of an attempt that lost: it closes
// the body unread, which ends the attempt's request at once.
func closeResponse(resp *http.Response) {
	if resp != nil {
		_ = resp.Body.Close()
	}
}

// kept is a response kept by a guard's cache, its body read whole.
type kept struct {
	status int
	proto  string
	header http.Header
	body   []byte
}

// keptSize is the cache's size of a kept response.
func keptSize(v any) int {
	k, ok := v.(*kept)
	if !ok {
		return cache.DefaultSize(v)
	}
	n := len(k.body) + 64
	for name, vs := range k.header {
		n += len(name)
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	return n
}

// response builds a fresh response to req from k.
func (k *kept) response(req *http.Request) *http.Response {
	return &http.Response{
		Status:        strconv.Itoa(k.status) + " " + http.StatusText(k.status),
		StatusCode:    k.status,
		Proto:         k.proto,
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        k.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(k.body)),
		ContentLength: int64(len(k.body)),
		Request:       req,
	}
}

// roundTripCached answers a GET through the guard's cache.
func (t *Transport) roundTripCached(g *core.Guard, req *http.Request) (*http.Response, error) {
	var live *http.Response // this call's own response, when it is not kept
	key := req.Method + " " + req.URL.String()
	k, ans, err := cache.Do(req.Context(), g.Cache(), key, func(ctx context.Context) (*kept, error) {
		resp, err := t.exchange(g, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			live = resp
			if resp.StatusCode >= 500 {
				return nil, &StatusError{StatusCode: resp.StatusCode, Header: resp.Header}
			}
			return nil, cache.ErrPass
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, MaxCachedBody+1))
		if err != nil {
			_ = resp.Body.Close()
			return nil, err
		}
		if len(body) > MaxCachedBody {
			resp.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
			live = resp
			return nil, cache.ErrPass
		}
		_ = resp.Body.Close()
		return &kept{status: resp.StatusCode, proto: resp.Proto, header: resp.Header.Clone(), body: body}, nil
	})
	switch {
	case ans.IsStale():
		if live != nil {
			drain(live)
		}
		resp := k.response(req)
		resp.Header.Set("Warning", StaleWarning)
		resp.Header.Set("Age", strconv.FormatInt(int64(ans.Age.Seconds()), 10))
		return resp, nil
	case live != nil:
		return live, nil
	case err == nil:
		return k.response(req), nil
	}
	var se *StatusError
	switch {
	case errors.As(err, &se): // another call's failed response, shared
		return &http.Response{Status: strconv.Itoa(se.StatusCode) + " " + http.StatusText(se.StatusCode), StatusCode: se.StatusCode,
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: se.Header.Clone(), Body: http.NoBody, Request: req}, nil
	case errors.Is(err, cache.ErrPass): // another call's response, not shared
		return t.exchange(g, req)
	}
	return nil, err
}
