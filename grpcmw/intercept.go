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

	// holds marks a client stream, which outlives the interceptor: once it
	// has started, intercept hands its permit over here (admitted set), and
	// the stream reports its outcome when it ends.
	holds    bool
	admitted bool
	permit   core.Permit
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
// one to send to the client (see WithPublicErrors).
func (c *config) intercept(ctx context.Context, cl *call, run func(context.Context) error) error {
	g, err := c.guard(ctx, cl)
	if err != nil {
		return c.guardError(err)
	}
	if g == nil {
		return c.outgoing(ctx, cl, run(ctx))
	}
	return c.run(ctx, g, cl, run)
}

// run is intercept for a call whose guard is known: one attempt of a
// retried call goes through it on its own.
func (c *config) run(ctx context.Context, g *core.Guard, cl *call, run func(context.Context) error) (err error) {
	p, err := g.Allow(ctx)
	if err != nil {
		return c.rejection(ctx, cl, err)
	}
	defer p.Settle()
	err = run(ctx)
	if cl.holds && err == nil {
		// A client stream that started: it reports when it ends. The
		// deferred Settle leaves the zero Permit alone.
		cl.permit, cl.admitted = p, true
		p = core.Permit{}
		return nil
	}
	p.Report(c.classify(codeOf(err)), err)
	return c.outgoing(ctx, cl, err)
}

// guard returns the guard for a call, nil when the call is not guarded, or an
// error when the registry cannot create the guard.
func (c *config) guard(ctx context.Context, cl *call) (*core.Guard, error) {
	if c.reg == nil || !c.selects(ctx, cl) {
		return nil, nil
	}
	name := c.key(ctx, cl.method)
	if name == "" {
		return nil, nil
	}
	if g, ok := c.reg.Lookup(name); ok {
		return g, nil
	}
	return c.create(cl.method, name)
}

// selects reports whether the Matcher and the selector both select the call.
func (c *config) selects(ctx context.Context, cl *call) bool {
	if c.match != nil && !c.match(ctx, cl.method) {
		return false
	}
	return c.selector == nil || c.selector.Match(ctx, cl.meta())
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
	if err == nil || !c.public || !cl.server {
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
