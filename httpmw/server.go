package httpmw

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/shed"
)

// UnmatchedKey is the guard name for requests without a key: requests that
// matched no route pattern, or for which a key function returned "". Keeping
// such requests under one name keeps the number of guards bounded.
const UnmatchedKey = "unmatched"

// Middleware returns net/http middleware that runs every request through a
// guard of reg, and answers itself the requests the guard rejects. A nil reg
// means a registry of the middleware's own, with the default policy.
//
// # Keys
//
// Each request is keyed, and each key is a guard of reg, created on first
// use from the policy its name matches (or [WithPolicy]'s; see the package
// doc for the inbound policy it recommends). By default the key is the
// request's route pattern, r.Pattern, such as "GET /users/{id}", which
// net/http's ServeMux sets before calling a route's handler. When the
// middleware wraps a whole *http.ServeMux, the pattern is not set yet, so
// the middleware asks the mux for it (ServeMux.Handler: one more route
// match per request) and sets r.Pattern, so that middleware outside it
// (otelhttp) sees the route of a request it rejects. Routers that run their
// middleware before routing (chi's Use) or keep the route on their own
// context (gin, echo) need their adapter (httpmw/chimw, httpmw/ginmw,
// httpmw/echomw) or [WithKey]. Requests without a key (no route matched)
// share the guard [UnmatchedKey]. [Validate] checks the routes against the
// registry's policies at start-up; mistakes the middleware meets at run
// time are logged once ([WithLogger]).
//
// # Outcomes
//
// The handler's response is classified by [ServerClassifier] (a 5xx other
// than 501 is a failure, anything else a success, a request abandoned by its
// client is ignored) or by [WithClassifier]'s classifier, which also sees the
// latency. A handler can attach an error with [SetError]. A panicking
// handler is recorded as a failure and the panic goes on.
//
// # Rejections
//
// A rejected request never reaches the handler: [WriteRejection] (or
// [WithRejectionWriter]'s writer) answers 503 for an open breaker, a full
// bulkhead or load shedding and 429 for a rate limit, with Retry-After. With
// [WithLimiter], a per-client rate limit is checked before the guard, and
// with [WithShedder], server-wide load shedding by criticality after it.
//
// # The writer
//
// The handler gets a status-capturing http.ResponseWriter. It implements
// Unwrap, so http.ResponseController reaches the server's writer (flush,
// hijack, read and write deadlines, full duplex), and also http.Flusher,
// http.Hijacker and io.ReaderFrom for handlers that type-assert; streamed
// responses and server-sent events pass through as they are written.
// Writers are pooled: as net/http requires, a handler must not use its
// ResponseWriter after it returned.
//
// # Cost
//
// For an admitted request with the default options, the middleware adds a
// lock-free guard lookup, the guard's admission and report, and a pooled
// writer: no allocation and no clock read.
func Middleware(reg *core.Registry, opts ...Option) func(http.Handler) http.Handler {
	if reg == nil {
		// A registry without options cannot fail to build.
		reg, _ = core.NewRegistry()
	}
	cfg := newConfig(opts)
	gopts := cfg.guardOptions()
	var policy RateLimit
	if cfg.limiter != nil {
		policy = limitPolicy(cfg.limiter)
	}
	return func(next http.Handler) http.Handler {
		h := &handler{next: next, reg: reg, cfg: cfg, gopts: gopts, limitPolicy: policy}
		if cfg.key == nil {
			h.mux, _ = next.(*http.ServeMux)
		}
		return h
	}
}

// handler is the middleware around one next handler.
type handler struct {
	next  http.Handler
	reg   *core.Registry
	cfg   config
	gopts []core.GuardOption
	mux   *http.ServeMux // set when next is a ServeMux and the key is the pattern

	limitPolicy RateLimit // the per-key limiter's policy, for RateLimit-Policy

	// Configuration mistakes are logged once (see WithLogger).
	warnedDefault   sync.Map // guard name -> struct{}
	warnedUnmatched atomic.Bool
	warnedRejected  atomic.Bool
}

func (h *handler) key(r *http.Request) string {
	if h.cfg.key != nil {
		if k := h.cfg.key(r); k != "" {
			return k
		}
		return UnmatchedKey
	}
	k := r.Pattern
	if k == "" && h.mux != nil {
		_, k = h.mux.Handler(r)
		// The mux sets r.Pattern itself when it serves r; set it now, so
		// that a request the guard rejects, which never reaches the mux,
		// still names its route to the middleware outside (otelhttp names
		// its span and http.route by it).
		r.Pattern = k
	}
	if k == "" {
		return UnmatchedKey
	}
	return k
}

// ServeHTTP admits r through its guard and serves it, or rejects it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cfg.limiter != nil && !h.allowLimit(w, r) {
		return
	}
	if h.cfg.shedder != nil {
		var t shed.Ticket
		var ok bool
		if r, t, ok = h.admitShed(w, r); !ok {
			return
		}
		defer t.Done()
	}
	name := h.key(r)
	g, ok := h.reg.Lookup(name)
	if !ok {
		var err error
		if g, err = h.newGuard(name); err != nil {
			// A configuration mistake (an unknown policy): fail loudly, on
			// every request, rather than serve unguarded.
			http.Error(w, "httpmw: "+err.Error(), http.StatusInternalServerError)
			return
		}
	}
	r, g = h.cfg.forCall(h.reg, r, g)
	p, err := g.Allow(r.Context())
	if err != nil {
		if errors.Is(err, core.ErrRejected) {
			if name == UnmatchedKey && !h.warnedRejected.Load() && !h.warnedRejected.Swap(true) {
				h.cfg.log().Warn("httpmw: a request was rejected by the guard \""+UnmatchedKey+
					"\", which every request without a route shares",
					"method", r.Method, "path", r.URL.Path, "error", err.Error(), "hint", h.unmatchedHint())
			}
			h.cfg.rejectWith(w, r, newRejection(name, err))
			return
		}
		// The request's context ended while it waited in the bulkhead's
		// queue: its client is gone or the server is shutting down.
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	h.serve(w, r, &p, name == UnmatchedKey)
}

// newGuard creates the guard called name, first logging (once) that it
// takes the registry's default policy, when that looks like a mistake.
func (h *handler) newGuard(name string) (*core.Guard, error) {
	if h.cfg.policy == "" && name != UnmatchedKey {
		warnDefault(h.reg, name, &h.cfg, &h.warnedDefault,
			`name a policy after the route, give one a Match pattern for it ("GET /**" matches every GET route), or use WithPolicy`)
	}
	return h.reg.Guard(name, h.gopts...)
}

// unmatchedHint says how to give every route its own guard.
const unmatchedHint = "a router that runs this middleware before it routes (chi's Use) leaves every route " +
	"on one guard, so one failing route gets all of them rejected: use httpmw/chimw.Middleware for chi, " +
	"httpmw/ginmw or httpmw/echomw, mount the middleware per route (chi's With or Group), or give WithKey"

// unmatchedHint is the hint of the unmatched warnings: the key function's
// empty answers when there is one, else the router's order.
func (h *handler) unmatchedHint() string {
	if h.cfg.key != nil {
		return "the WithKey function returned \"\" for it; return a name for every request the handler serves"
	}
	return unmatchedHint
}

// checkUnmatched logs, once, a request that was served under UnmatchedKey:
// the router found its route (it did not answer 404 or 405, or it set
// r.Pattern after the middleware ran) but the middleware had no name for it.
func (h *handler) checkUnmatched(r *http.Request, status int) {
	if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
		if r.Pattern == "" {
			return
		}
	}
	if h.warnedUnmatched.Load() || h.warnedUnmatched.Swap(true) {
		return
	}
	args := []any{"method", r.Method, "path", r.URL.Path, "status", status}
	if r.Pattern != "" {
		args = append(args, "routed_as", r.Pattern)
	}
	args = append(args, "hint", h.unmatchedHint())
	h.cfg.log().Warn("httpmw: a request was served under the guard \""+UnmatchedKey+
		"\": the middleware found no route for it, so it shares that guard with every request without one", args...)
}

// serve runs the handler with an admitted permit p and reports its outcome.
// unmatched says that r is keyed UnmatchedKey.
func (h *handler) serve(w http.ResponseWriter, r *http.Request, p *core.Permit, unmatched bool) {
	sw := getWriter(w, &h.cfg)
	var start time.Time
	custom := h.cfg.classifier != nil
	if custom {
		start = time.Now()
	}
	defer h.settle(p, r, sw, start)
	h.next.ServeHTTP(sw, r)
	status, err := sw.status, sw.err
	if status == 0 {
		// Nothing written: net/http answers 200. A hijacked connection
		// switched protocols.
		status = http.StatusOK
		if sw.hijacked {
			status = http.StatusSwitchingProtocols
		}
	}
	putWriter(sw)
	h.report(p, r, status, err, start)
	if unmatched {
		h.checkUnmatched(r, status)
	}
}

// settle, deferred by serve, reports a handler that left p unreported: it
// panicked (or its goroutine called runtime.Goexit). That is a failure,
// core.ErrPanicked, or, if the client left, context.Canceled (ignored by
// ServerClassifier: an aborted request says nothing about the server).
// Unlike core.Permit.Settle, which counts a failure whatever the
// classifier says, settle lets the middleware's classifier decide, as
// WithClassifier promises. The panic goes on by itself; the writer is not
// pooled again, as the server may still use it.
func (h *handler) settle(p *core.Permit, r *http.Request, sw *responseWriter, start time.Time) {
	if p.Reported() {
		return
	}
	err := core.ErrPanicked
	if errors.Is(r.Context().Err(), context.Canceled) {
		err = context.Canceled
	}
	h.report(p, r, sw.status, err, start)
}

// report classifies the outcome and reports it on p.
func (h *handler) report(p *core.Permit, r *http.Request, status int, err error, start time.Time) {
	if h.cfg.classifier == nil && err == nil && status < 500 {
		p.Report(breaker.Success, nil) // what ServerClassifier says, sooner
		return
	}
	if err == nil && status >= 500 {
		err = r.Context().Err()
	}
	o := breaker.Outcome{Err: err, Code: status, HasCode: status != 0}
	if h.cfg.classifier == nil {
		p.Report(ServerClassifier(o), err)
		return
	}
	o.Latency = time.Since(start)
	p.Report(classify(h.cfg.classifier, o), err)
}

// classify runs a user's classifier; a panic in it counts as a failure.
func classify(c breaker.Classifier, o breaker.Outcome) (res breaker.Result) {
	defer func() {
		if recover() != nil {
			res = breaker.Failure
		}
	}()
	return c(o)
}

// ServerClassifier is the middleware's default classifier. It ignores a call
// whose error matches context.Canceled (the client gave up, which says
// nothing about this server), counts any other error (a panic, an error set
// with [SetError]) and any 5xx status except 501 Not Implemented as a
// failure, and everything else, 4xx included, as a success. It does not look
// at the latency.
func ServerClassifier(o breaker.Outcome) breaker.Result {
	if o.Err != nil {
		return breaker.DefaultClassifier(o)
	}
	if o.HasCode && o.Code >= 500 && o.Code != http.StatusNotImplemented {
		return breaker.Failure
	}
	return breaker.Success
}

// ClientIP returns the address of the client that sent r as the server saw
// it: the host part of r.RemoteAddr, without the port. It does not trust
// forwarding headers (X-Forwarded-For, Forwarded), which any client can set;
// behind a proxy you trust, key on the address the proxy reports instead.
// It allocates nothing.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
