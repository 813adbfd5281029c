package httpmw

import (
	"net/http"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
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
	classifier breaker.Classifier // nil: the side's default, which needs no latency

	// Server only.
	reject   RejectionWriter
	limiter  KeyedLimiter
	limitKey func(*http.Request) string

	// Transport only.
	reg     *core.Registry
	retrier *retry.Retrier
}

// newConfig applies opts in order over the defaults.
func newConfig(opts []Option) config {
	c := config{reject: WriteRejection}
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
// router for the route; with chi, for example:
//
//	httpmw.WithKey(func(r *http.Request) string {
//		return router.Find(chi.NewRouteContext(), r.Method, r.URL.Path)
//	})
//
// The function runs on every request; build the key without allocating
// where it matters (return strings the router already holds).
func WithKey(fn func(*http.Request) string) Option {
	return optionFunc(func(c *config) { c.key = fn })
}

// WithPolicy makes the guards created by the middleware or transport use the
// registry's policy called name, instead of the policy their name matches
// (see core.UsePolicy). A guard that already exists keeps its policy.
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
// calls to answer a request it turned away. Middleware only.
func WithRejectionWriter(w RejectionWriter) Option {
	return optionFunc(func(c *config) {
		if w == nil {
			w = WriteRejection
		}
		c.reject = w
	})
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
