package httpmw

import (
	"log/slog"
	"net/http"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/shed"
)

// Option configures a [Middleware] or a [Transport]. The same options serve
// both; an option that only makes sense on one side says so and is ignored
// by the other.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is the resolved configuration of a middleware or a transport.
type config struct {
	key        func(*http.Request) string
	policy     string
	tags       []string
	classifier breaker.Classifier         // nil: the side's default, which needs no latency
	tenant     func(*http.Request) string // WithTenant (tenant.go)

	logger      *slog.Logger // nil: slog.Default(), read when a line is logged
	hideDetails bool         // problem documents name no guard, host or error

	// Server only.
	reject   RejectionWriter // nil: WriteRejection, or its public form
	limiter  KeyedLimiter
	limitKey func(*http.Request) string

	shedder     *shed.Shedder // WithShedder (shed.go)
	criticality func(*http.Request) shed.Criticality

	// Transport only.
	reg     *core.Registry
	retrier *retry.Retrier
}

// newConfig applies opts in order over the defaults.
func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// guardOptions turns the configuration into the options a registry applies
// when it creates a guard. The slice is built once, so that looking up a
// guard per request allocates nothing.
func (c *config) guardOptions() []core.GuardOption {
	var gopts []core.GuardOption
	if c.policy != "" {
		gopts = append(gopts, core.UsePolicy(c.policy))
	}
	if len(c.tags) > 0 {
		gopts = append(gopts, core.WithTags(c.tags...))
	}
	return gopts
}

// WithKey sets the function that maps a request to the name of its guard.
//
// The middleware's default is the request's route pattern (see [Middleware]);
// the transport's is the request's host (URL.Host, such as
// "api.example.com" or "127.0.0.1:8080"). A key names a guard in the
// registry, so keys must come from a small, bounded set (a route, a host, a
// tenant tier), never from raw URLs, user ids or client addresses: each
// distinct key is a guard, kept until it is pruned. For per-client limits
// use [WithLimiter], whose limiter bounds its own memory. An empty key is
// replaced by [UnmatchedKey]. A nil fn restores the default.
//
// For a router that runs middleware before routing, the function asks the
// router for the route; httpmw/chimw does so for chi (its Key function).
//
// The function runs on every request; build the key without allocating
// where it matters (return strings the router already holds).
func WithKey(fn func(*http.Request) string) Option {
	return optionFunc(func(c *config) { c.key = fn })
}

// WithPolicy makes the guards created by the middleware or transport use the
// registry's policy called name, instead of the policy their name matches
// (see core.UsePolicy). A guard that already exists keeps its policy. The
// router adapters (httpmw/chimw, httpmw/ginmw, httpmw/echomw) take it too.
//
// For inbound routes, prefer a policy whose breaker only measures and whose
// bulkhead or rate limit sheds load:
//
//	inbound := core.Policy{
//		Name:     "inbound",
//		Breaker:  &core.BreakerPolicy{Mode: "metrics-only"},
//		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 200},
//	}
//	reg, err := core.NewRegistry(core.WithPolicies(inbound))
//
// A route's 5xx is most often a failing dependency's: a breaker that trips on
// it rejects the route's requests, even those that do not need the
// dependency, and keeps rejecting for its open time after the dependency
// recovered. Put the breakers on the dependencies (the [Transport], core.Do)
// and let the inbound guard count and shed.
func WithPolicy(name string) Option {
	return optionFunc(func(c *config) { c.policy = name })
}

// WithTags adds tags to the guards the middleware or transport creates, so
// that operators can act on them as a group (force open every guard tagged
// "inbound", say). Several calls add up.
func WithTags(tags ...string) Option {
	return optionFunc(func(c *config) { c.tags = append(c.tags, tags...) })
}

// WithClassifier replaces the default classifier ([ServerClassifier] for the
// middleware, [ClientClassifier] for the transport). It sees, per request,
// the status code (Code, with HasCode set once a status is known), the error
// (a transport error, a handler's panic or an error set with [SetError]) and
// the latency, and decides whether the call was a success, a failure or
// ignored; slow responses can thus count as failures.
//
// Measuring the latency costs two clock reads per request, which the default
// classifiers do not pay. A panicking classifier counts the call as a
// failure. A nil c restores the default.
func WithClassifier(c breaker.Classifier) Option {
	return optionFunc(func(cfg *config) { cfg.classifier = c })
}

// WithRejectionWriter replaces [WriteRejection], the function the middleware
// calls to answer a request it turned away (and [WriteError] a dependency's
// rejection, in a handler the middleware serves). A nil w restores the
// default. Middleware only.
func WithRejectionWriter(w RejectionWriter) Option {
	return optionFunc(func(c *config) { c.reject = w })
}

// WithDetails(false) keeps internal names out of the problem documents the
// middleware answers with, for public APIs: the rejections it writes itself
// and those [WriteError] writes in the handlers it serves name neither the
// guard (a route, or a dependency's host:port) nor the error, and their
// RateLimit fields name the policy "default". The status, Retry-After and
// the "reason" member ("circuit_open", "rate_limited", ...) stay, so that
// clients still know when to come back. The default, WithDetails(true),
// names them, which helps while developing and for internal APIs. A
// [WithRejectionWriter] writer is called as it is and decides for itself.
// Middleware only.
func WithDetails(show bool) Option {
	return optionFunc(func(c *config) { c.hideDetails = !show })
}

// WithLogger sets where the middleware and the transport report a
// configuration that is most likely a mistake, once per guard, at
// slog.LevelWarn, when they first meet it:
//
//   - a guard created with the registry's default policy while the registry
//     has other policies: no policy is named after the route (or host) or
//     matches it, most often because "*" in a Match pattern stays within one
//     "/"-separated segment where "**" was meant;
//   - a request served (not answered 404 or 405) under the shared guard
//     [UnmatchedKey]: a router ran the middleware before it routed the
//     request (chi's Use), so every route shares one guard; use the router's
//     adapter (httpmw/chimw) or mount the middleware per route;
//   - a request rejected by the guard [UnmatchedKey].
//
// Without it, or with a nil l, lines go to slog.Default(), read when the
// line is logged. To silence them, pass slog.New(slog.DiscardHandler).
// [Validate] finds the first kind at start-up instead.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// log returns the logger lines go to.
func (c *config) log() *slog.Logger {
	if c.logger != nil {
		return c.logger
	}
	return slog.Default()
}

// rejectWith answers a rejected request with the configured writer.
func (c *config) rejectWith(w http.ResponseWriter, r *http.Request, rej Rejection) {
	if c.reject != nil {
		c.reject(w, r, rej)
		return
	}
	writeRejection(w, r, rej, c.hideDetails)
}

// WithLimiter rate-limits requests per key before they reach the guard: key
// maps a request to its limiter key (a client address with [ClientIP], a
// tenant header, an API key) and l, such as a *ratelimit.Keyed, decides. A
// refused request is answered 429 by the rejection writer, with
// ratelimit.ErrLimited as the error, Retry-After, and the RateLimit fields
// (with RateLimit-Policy when l is a *ratelimit.Keyed, whose limit it
// describes). The key may come from an unbounded set, as l bounds its own
// memory. A nil key or l turns the limiter off. Middleware only.
func WithLimiter(key func(*http.Request) string, l KeyedLimiter) Option {
	return optionFunc(func(c *config) {
		if key == nil || l == nil {
			c.limiter, c.limitKey = nil, nil
			return
		}
		c.limiter, c.limitKey = l, key
	})
}

// WithRegistry sets the registry that holds the transport's guards, so
// that they show up in snapshots, exporters and the admin API next to the
// rest of the process's guards. Without it a transport has a registry of its
// own, with the default policy (see [Transport.Registry]). Transport only:
// the middleware takes its registry as an argument.
func WithRegistry(reg *core.Registry) Option {
	return optionFunc(func(c *config) { c.reg = reg })
}

// WithRetrier makes the transport retry failed attempts with r (build it
// with retry.New; share a retry.Budget between the transports that call the
// same service). Only idempotent requests with a replayable body are
// retried; see [Transport]. Without it, or with a nil r, the transport makes
// one attempt per request. Transport only.
func WithRetrier(r *retry.Retrier) Option {
	return optionFunc(func(c *config) { c.retrier = r })
}
