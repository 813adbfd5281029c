package grpcmw

import (
	"context"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
)

// KeyFunc names the guard that protects a call, from the call's context and
// its full method name ("/package.Service/Method"). Returning "" leaves the
// call unguarded. A KeyFunc runs on every call: it should not allocate
// (MethodKey and ServiceKey return substrings of fullMethod and do not).
type KeyFunc func(ctx context.Context, fullMethod string) string

// MethodKey is the default KeyFunc: one guard per method, named by the full
// method name, such as "/payments.Payments/Charge". Policies select such
// guards with patterns like "/payments.Payments/*".
func MethodKey(_ context.Context, fullMethod string) string { return fullMethod }

// ServiceKey is a KeyFunc giving one guard per service, named by the
// service's full name without slashes, such as "payments.Payments", so that
// every method of a service shares a breaker and a bulkhead.
func ServiceKey(_ context.Context, fullMethod string) string { return serviceOf(fullMethod) }

// MetadataKey returns a server-side KeyFunc that keys guards by the value of
// the incoming metadata header (a tenant id, say) on top of next: the guard
// of a call is next's name, "@" and the header's first value, such as
// "/payments.Payments/Charge@acme". A call without the header gets next's
// name alone; a nil next means MethodKey. The header name is matched
// case-insensitively, as gRPC metadata keys are lowercase.
//
// Reading metadata and joining the name cost two small allocations per call,
// and every distinct value creates a guard: use it only for a bounded set of
// values (tenants, not users), and prune idle guards with Registry.Prune.
func MetadataKey(header string, next KeyFunc) KeyFunc {
	if next == nil {
		next = MethodKey
	}
	header = strings.ToLower(header)
	return func(ctx context.Context, fullMethod string) string {
		base := next(ctx, fullMethod)
		if base == "" {
			return ""
		}
		if v := metadataValue(ctx, header); v != "" {
			return base + "@" + v
		}
		return base
	}
}

// metadataValue returns the first value of an incoming metadata header.
func metadataValue(ctx context.Context, header string) string {
	if vs := metadata.ValueFromIncomingContext(ctx, header); len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// Matcher selects the calls the interceptors guard; the others pass through
// untouched. It runs on every call and should not allocate.
type Matcher func(ctx context.Context, fullMethod string) bool

// MatchServices returns a Matcher selecting every method of the named
// services (full names such as "payments.Payments").
func MatchServices(services ...string) Matcher {
	set := make(map[string]struct{}, len(services))
	for _, s := range services {
		set[strings.TrimPrefix(s, "/")] = struct{}{}
	}
	return func(_ context.Context, fullMethod string) bool {
		_, ok := set[serviceOf(fullMethod)]
		return ok
	}
}

// MatchMethods returns a Matcher selecting the named methods (full method
// names such as "/payments.Payments/Charge").
func MatchMethods(fullMethods ...string) Matcher {
	set := make(map[string]struct{}, len(fullMethods))
	for _, m := range fullMethods {
		set[m] = struct{}{}
	}
	return func(_ context.Context, fullMethod string) bool {
		_, ok := set[fullMethod]
		return ok
	}
}

// Not returns a Matcher selecting exactly the calls m does not select.
func Not(m Matcher) Matcher {
	return func(ctx context.Context, fullMethod string) bool { return !m(ctx, fullMethod) }
}

// HealthService is the full name of the standard gRPC health service, whose
// methods the interceptors leave unguarded unless WithMatcher says otherwise:
// a health check must report a breaker's state, not be rejected by it.
const HealthService = "grpc.health.v1.Health"

const healthPrefix = "/" + HealthService + "/"

func defaultMatcher(_ context.Context, fullMethod string) bool {
	return !strings.HasPrefix(fullMethod, healthPrefix)
}

// Classifier decides what a call's final status code means for its guard's
// breaker: a success, a failure, or nothing (Ignore).
type Classifier func(code codes.Code) breaker.Result

// DefaultClassifier is the default Classifier:
//
//   - failures: Unavailable, DeadlineExceeded, ResourceExhausted, Internal,
//     Unknown and DataLoss (the dependency is down, slow, overloaded or
//     broken);
//   - ignored: Canceled (the caller gave up, which says nothing about the
//     dependency);
//   - successes: OK and every other code, among them InvalidArgument,
//     NotFound, AlreadyExists, PermissionDenied, Unauthenticated,
//     FailedPrecondition, Aborted, OutOfRange and Unimplemented (the
//     dependency answered; the request was wrong).
func DefaultClassifier(code codes.Code) breaker.Result {
	switch code {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted,
		codes.Internal, codes.Unknown, codes.DataLoss:
		return breaker.Failure
	case codes.Canceled:
		return breaker.Ignore
	default:
		return breaker.Success
	}
}

// DefaultPushback is the pushback the server interceptors send with a
// rejection that carries no retry-after hint of its own, such as a full
// bulkhead.
const DefaultPushback = time.Second

// Option configures the interceptors. The four interceptors take the same
// options; an option that concerns only some of them (WithRetrier, WithPushback)
// is ignored by the others, so one option list can configure them all.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithKey sets how calls are mapped to guards; the default is MethodKey.
// A nil KeyFunc keeps the default.
func WithKey(k KeyFunc) Option {
	return optionFunc(func(c *config) {
		if k != nil {
			c.key = k
		}
	})
}

// WithMatcher sets which calls are guarded. The default guards every method
// except those of HealthService. A nil Matcher guards every call.
func WithMatcher(m Matcher) Option {
	return optionFunc(func(c *config) { c.match = m })
}

// WithClassifier replaces DefaultClassifier. A nil Classifier keeps the
// default. The interceptors classify calls themselves and report the result
// to the guard, so a breaker.Classifier set on the guard (core.WithClassifier)
// does not apply to the calls they guard.
func WithClassifier(cl Classifier) Option {
	return optionFunc(func(c *config) {
		if cl != nil {
			c.classify = cl
		}
	})
}

// WithGuardOptions passes options (tags, an explicit policy) to
// Registry.Guard when an interceptor creates a guard. Guards that already
// exist keep their configuration.
func WithGuardOptions(opts ...core.GuardOption) Option {
	return optionFunc(func(c *config) { c.guardOpts = append(c.guardOpts, opts...) })
}

// WithRetrier makes the unary client interceptor retry failed calls with r.
// Each attempt goes through the guard on its own (a rejection by the guard is
// not retried by retry.DefaultRetryOn), and a server's pushback
// (the grpc-retry-pushback-ms trailer, else a RetryInfo error detail) is the
// least delay before the next attempt, capped at r's MaxDelay. Build r with
// RetryOn set to Retryable unless every failed call may be retried. The
// stream interceptors never retry. Capturing each attempt's trailer costs
// two small allocations per attempt.
func WithRetrier(r *retry.Retrier) Option {
	return optionFunc(func(c *config) { c.retrier = r })
}

// WithPushback sets the pushback the server interceptors send with a
// rejection that carries no retry-after hint (a full bulkhead); the default
// is DefaultPushback. A value below one millisecond keeps the default.
func WithPushback(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d >= time.Millisecond {
			c.pushback = d
		}
	})
}

// config is the interceptors' shared configuration.
type config struct {
	reg       *core.Registry
	key       KeyFunc
	match     Matcher
	classify  Classifier
	guardOpts []core.GuardOption
	retrier   *retry.Retrier
	pushback  time.Duration
}

func newConfig(reg *core.Registry, opts []Option) *config {
	c := &config{
		reg:      reg,
		key:      MethodKey,
		match:    defaultMatcher,
		classify: DefaultClassifier,
		pushback: DefaultPushback,
	}
	for _, o := range opts {
		if o != nil {
			o.apply(c)
		}
	}
	return c
}

// guard returns the guard for a call, nil when the call is not guarded, or an
// error when the registry cannot create the guard.
func (c *config) guard(ctx context.Context, fullMethod string) (*core.Guard, error) {
	if c.reg == nil || (c.match != nil && !c.match(ctx, fullMethod)) {
		return nil, nil
	}
	name := c.key(ctx, fullMethod)
	if name == "" {
		return nil, nil
	}
	return c.reg.Guard(name, c.guardOpts...)
}

// serviceOf returns the service part of a full method name:
// "pkg.Service" for "/pkg.Service/Method".
func serviceOf(fullMethod string) string {
	s := strings.TrimPrefix(fullMethod, "/")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i]
	}
	return s
}
