package grpcmw

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/shed"
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

// Match makes m a go-grpc-middleware selector.Matcher, so that this
// package's matchers select calls for other middleware too:
//
//	auth := selector.UnaryServerInterceptor(authInterceptor, grpcmw.MatchServices("payments.Payments"))
//
// A nil Matcher selects every call, as it does in WithMatcher. Match builds
// the full method name from callMeta, which costs an allocation per call;
// the interceptors of this package call m directly and do not pay it.
func (m Matcher) Match(ctx context.Context, callMeta interceptors.CallMeta) bool {
	return m == nil || m(ctx, callMeta.FullMethod())
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
// options; an option that concerns only some of them (WithRetrier,
// WithPushback, WithPublicErrors) is ignored by the others, so one option
// list can configure them all. Validate takes them too, to see the methods
// as the interceptors do.
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
//
// WithMatcher and WithSelector compose: a call is guarded when both select
// it.
func WithMatcher(m Matcher) Option {
	return optionFunc(func(c *config) { c.match = m })
}

// WithSelector makes the interceptors guard only the calls that m, a
// go-grpc-middleware selector.Matcher, selects: the matchers written for
// that package's selector interceptors (by service, method, call type, or
// request) then choose the calls this package guards, with one option for
// the four interceptors. Each interceptor gives m the call's
// interceptors.CallMeta: client or server side, the call's type (unary,
// client, server or bidirectional stream), and the request of a unary call.
//
// The selector narrows the Matcher's choice (WithMatcher): a call is guarded
// when both select it, so the health service stays unguarded unless
// WithMatcher(nil) is given too. A nil m removes the selector. Later
// WithSelector options replace earlier ones.
//
// The interceptors can also be wrapped from outside, as any interceptor:
// selector.UnaryServerInterceptor(grpcmw.UnaryServerInterceptor(reg), m)
// has the same effect for one interceptor.
func WithSelector(m selector.Matcher) Option {
	return optionFunc(func(c *config) { c.selector = m })
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
// exist keep their configuration. For the policy, WithPolicy says the same
// in fewer words, and wins over a core.UsePolicy given here.
func WithGuardOptions(opts ...core.GuardOption) Option {
	return optionFunc(func(c *config) { c.guardOpts = append(c.guardOpts, opts...) })
}

// WithPolicy makes the guards created by the interceptors use the
// registry's policy called name, instead of the policy their name matches
// (see core.UsePolicy). A guard that already exists keeps its policy. An
// empty name restores the default: the policy the guard's name matches.
//
// A guard's name comes from the KeyFunc: by default the full method name,
// such as "/payments.Payments/Charge", which a policy selects by name or
// with a Match pattern such as "/payments.Payments/*" (see core.Policy);
// a name that no policy selects gets the registry's default policy, which
// the interceptors log once (see WithLogger) and Validate reports. With
// WithPolicy no pattern is needed: every guard the interceptors create gets
// the named policy.
//
// A policy name unknown to the registry fails every guarded call with
// codes.Internal (a configuration error, never an unguarded call); Validate
// reports it when the process starts.
func WithPolicy(name string) Option {
	return optionFunc(func(c *config) { c.policy = name })
}

// WithLogger sets the logger that reports, at level Warn and once per
// guard, a guard the interceptors create with the registry's default policy
// because no policy is named after it or matches it: most often a Match
// pattern with a typo, which would otherwise go unnoticed. The default is
// slog.Default(), as it is when the guard is created; nil turns the report
// off. To give such calls the default policy on purpose, say so with a
// pattern (Match: []string{"/**"}) or WithPolicy.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger, c.quiet = l, l == nil })
}

// WithPublicErrors keeps guard names, which may name upstream hosts,
// tenants or internal services, out of the status messages the server
// interceptors send to clients. With it:
//
//   - a call the server's guard rejects is answered with the same code,
//     RetryInfo detail and grpc-retry-pushback-ms trailer as without it,
//     but the message is only "call rejected; retry later";
//   - a handler error that is a rejection by a guard the handler called
//     through (a client interceptor of this package, core.Do, an httpmw
//     Transport), however wrapped, is answered with codes.Unavailable, the
//     same message and the rejection's retry-after as RetryInfo and
//     pushback;
//   - a configuration error (an unknown policy) is answered with
//     codes.Internal and "internal error".
//
// The server's outer interceptors (logging, metrics) still see the whole
// error, which unwraps to the guard's *core.RejectedError. Other handler
// errors pass unchanged: their messages are the handler's to choose. The
// client interceptors ignore the option: their errors stay in the process.
func WithPublicErrors() Option {
	return optionFunc(func(c *config) { c.public = true })
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
	selector  selector.Matcher
	classify  Classifier
	guardOpts []core.GuardOption // WithGuardOptions, then UsePolicy(policy)
	policy    string
	retrier   *retry.Retrier
	hedge     Matcher // WithHedging: the methods hedged
	pushback  time.Duration
	public    bool
	tenant    func(context.Context) string // WithTenant (tenant.go)

	shedder     *shed.Shedder // WithShedder (shed.go)
	criticality func(context.Context) shed.Criticality

	logger *slog.Logger // nil: slog.Default() when logging
	quiet  bool         // WithLogger(nil): no default-policy report
	logged loggedSet
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
	if c.policy != "" {
		c.guardOpts = append(c.guardOpts[:len(c.guardOpts):len(c.guardOpts)], core.UsePolicy(c.policy))
	}
	return c
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
