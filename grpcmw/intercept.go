package grpcmw

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/core"
)

// call is what the body the four interceptors share knows of one call.
type call struct {
	method string // the full method name, "/pkg.Service/Method"
	server bool
	req    any                    // a unary call's request, for the selector
	desc   *grpc.StreamDesc       // a client stream's description
	info   *grpc.StreamServerInfo // a server stream's description
	ss     grpc.ServerStream      // a server stream, which carries its trailer

	// g, if set, is the call's guard, chosen already: the attempts of a
	// retried call go through the guard chosen for the call.
	g *core.Guard
}

// held receives the permit of a client stream, which outlives the
// interceptor, once the stream has started: the stream reports its outcome
// when it ends.
type held struct {
	p  core.Permit
	ok bool // the stream was admitted by its guard
}

// meta describes the call to a go-grpc-middleware selector.
func (cl *call) meta() interceptors.CallMeta {
	if cl.server {
		return interceptors.NewServerCallMeta(cl.method, cl.info, cl.req)
	}
	return interceptors.NewClientCallMeta(cl.method, cl.desc, cl.req)
}

// intercept is the body of the four interceptors: it selects the call
// (Matcher, selector), names its guard (KeyFunc), admits the call or
// answers the guard's rejection, runs it with run, and reports its final
// status, classified, to the guard. A panic in run counts as a failure and
// goes on (core.Permit.Settle). On the server, the error it returns is the
// one to send to the client (see WithPublicErrors). A client stream passes
// h, to take its permit over; the other calls pass nil.
func (c *config) intercept(ctx context.Context, cl *call, h *held, run func(context.Context) error) (err error) {
	g := cl.g
	if g == nil {
		ctx = c.withTenant(ctx)
		if g, err = c.guard(ctx, cl); g == nil {
			if err != nil {
				return c.guardError(err)
			}
			return c.outgoing(ctx, cl, run(ctx))
		}
	}
	p, err := g.Allow(ctx)
	if err != nil {
		return c.rejection(ctx, cl, err)
	}
	defer p.Settle()
	err = run(ctx)
	if h != nil && err == nil {
		// A client stream that started: it reports when it ends. The
		// deferred Settle leaves the zero Permit alone.
		h.p, h.ok = p, true
		p = core.Permit{}
		return nil
	}
	p.Report(c.classify(codeOf(err)), err)
	return c.outgoing(ctx, cl, err)
}

// guard returns the guard for a call, nil when the call is not guarded, or an
// error when the registry cannot create the guard.
func (c *config) guard(ctx context.Context, cl *call) (*core.Guard, error) {
	// selects, spelt out: one call less on the hot path.
	if c.reg == nil || (c.match != nil && !c.match(ctx, cl.method)) ||
		(c.selector != nil && !c.selector.Match(ctx, cl.meta())) {
		return nil, nil
	}
	name := c.key(ctx, cl.method)
	if name == "" {
		return nil, nil
	}
	g, ok := c.reg.Lookup(name)
	if !ok {
		var err error
		if g, err = c.create(cl.method, name); err != nil {
			return nil, err
		}
	}
	return c.reg.ForCall(ctx, g), nil
}

// selects reports whether the Matcher and the selector both select the call,
// as guard decides it.
func (c *config) selects(ctx context.Context, cl *call) bool {
	return (c.match == nil || c.match(ctx, cl.method)) &&
		(c.selector == nil || c.selector.Match(ctx, cl.meta()))
}

// create creates the guard of a call's first call, and reports it (once) when
// the guard falls to the registry's default policy.
func (c *config) create(method, name string) (*core.Guard, error) {
	if c.quiet || c.policy != "" {
		return c.reg.Guard(name, c.guardOpts...)
	}
	def, matched, perr := c.reg.PolicyFor(name)
	g, err := c.reg.Guard(name, c.guardOpts...)
	if err != nil {
		return nil, err
	}
	// An explicit policy among the guard options (core.UsePolicy) shows as a
	// policy other than the default.
	if perr == nil && !matched && g.Policy().Name == def.Name && c.logged.add(name) {
		l := c.logger
		if l == nil {
			l = slog.Default()
		}
		l.Warn("grpcmw: a guard has the registry's default policy, as no policy is named after it or matches it",
			slog.String("guard", name), slog.String("method", method), slog.String("policy", def.Name),
			slog.String("hint", "add a policy whose Match pattern selects the guard, or use grpcmw.WithPolicy"))
	}
	return g, nil
}

// maxLogged bounds the guards an interceptor remembers having reported.
const maxLogged = 1000

// loggedSet remembers the guards reported as having the default policy.
type loggedSet struct {
	mu    sync.Mutex
	names map[string]struct{}
}

// add reports whether name is new, and remembers it, up to maxLogged names.
func (s *loggedSet) add(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.names[name]; ok || len(s.names) >= maxLogged {
		return false
	}
	if s.names == nil {
		s.names = make(map[string]struct{})
	}
	s.names[name] = struct{}{}
	return true
}

// publicMessage is the message of a rejection sent with WithPublicErrors.
const publicMessage = "call rejected; retry later"

// guardError reports a registry that could not create a guard (an unknown
// explicit policy): a configuration error, not the dependency's.
func (c *config) guardError(err error) error {
	st := status.New(codes.Internal, "grpcmw: "+err.Error())
	if c.public {
		return &answer{err: st.Err(), st: status.New(codes.Internal, "internal error")}
	}
	return st.Err()
}

// rejection turns an error of Guard.Allow into the interceptor's error: a
// rejection, or the caller's context ending while it queued in a bulkhead.
// A server also sends its pushback in the trailer.
func (c *config) rejection(ctx context.Context, cl *call, err error) error {
	r := asRejected(err)
	if r == nil {
		return status.FromContextError(err).Err()
	}
	if !cl.server {
		return clientRejection{r}
	}
	d := c.pushbackFor(ctx, cl, r)
	msg := r.Error()
	if c.public {
		msg = publicMessage
	}
	return &answer{err: r, st: rejectionStatus(serverRejectionCode(r), msg, d)}
}

// outgoing is the error a server sends for a call's error: with
// WithPublicErrors, a rejection by a guard the handler called through is
// answered without the guard's name.
func (c *config) outgoing(ctx context.Context, cl *call, err error) error {
	if err == nil || !c.public {
		return err
	}
	return c.hide(ctx, cl, err)
}

// hide is outgoing with WithPublicErrors.
func (c *config) hide(ctx context.Context, cl *call, err error) error {
	if !cl.server {
		return err
	}
	if _, ok := err.(*answer); ok {
		return err
	}
	r := asRejected(err)
	if r == nil {
		return err
	}
	d := c.pushbackFor(ctx, cl, r)
	return &answer{err: err, st: rejectionStatus(codes.Unavailable, publicMessage, d)}
}

// pushbackFor sets a server's pushback trailer for a rejection and returns
// the pushback: the rejection's retry-after, or WithPushback's value.
func (c *config) pushbackFor(ctx context.Context, cl *call, r *core.RejectedError) time.Duration {
	d := r.RetryAfter()
	if d <= 0 {
		d = c.pushback
	}
	setTrailer(ctx, cl, pushbackMD(d))
	return d
}

// setTrailer adds md to a server call's trailer.
func setTrailer(ctx context.Context, cl *call, md metadata.MD) {
	if cl.ss != nil {
		cl.ss.SetTrailer(md)
		return
	}
	_ = grpc.SetTrailer(ctx, md)
}
