package grpcmw

import (
	"context"

	"google.golang.org/grpc"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/shed"
)

// UnaryServerInterceptor returns a server interceptor that runs each unary
// call through the guard of reg that opts select (by default one per method),
// so that a server sheds load (a bulkhead, a rate limit) and fails fast while
// the method's breaker is open.
//
// A rejected call is answered without running the handler:
// codes.ResourceExhausted for shedding and rate limits, codes.Unavailable
// while the breaker is open, with the guard's message (a generic one with
// WithPublicErrors), a RetryInfo detail
// and the grpc-retry-pushback-ms trailer (the rejection's retry-after, or
// the WithPushback value when it has none), which grpc-go's own retries and
// this package's client honour. The error the interceptor returns also
// matches core.ErrRejected for the server's outer interceptors. A call whose
// context ends while it waits in a bulkhead's queue gets its context's
// status.
//
// The handler's error is classified by its status code (a context error
// counts as Canceled or DeadlineExceeded); a panicking handler counts as a
// failure and the panic goes on. The admitted path of a guard that exists
// allocates nothing. With [WithShedder], calls are shed by criticality
// before their guard runs.
func UnaryServerInterceptor(reg *core.Registry, opts ...Option) grpc.UnaryServerInterceptor {
	c := newConfig(reg, opts)
	return c.unaryServer
}

func (c *config) unaryServer(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	cl := call{method: info.FullMethod, server: true, req: req}
	if c.shedder != nil && c.selects(ctx, &cl) {
		var t shed.Ticket
		if ctx, t, err = c.admitShed(ctx, &cl); err != nil {
			return nil, err
		}
		defer t.Done()
	}
	err = c.intercept(ctx, &cl, nil, func(ctx context.Context) (err error) {
		resp, err = handler(ctx, req)
		return err
	})
	return resp, err
}

// StreamServerInterceptor returns a server interceptor that runs each stream
// through the guard of reg that opts select. The guard admits the stream when
// it starts and rejects it as UnaryServerInterceptor rejects a call; the
// handler's return decides the outcome, and the stream holds its bulkhead
// slot until the handler returns, on every path: success, error, panic, or
// a client that went away (which ends the stream's context, so a handler
// blocked in Recv or Send returns).
func StreamServerInterceptor(reg *core.Registry, opts ...Option) grpc.StreamServerInterceptor {
	c := newConfig(reg, opts)
	return c.streamServer
}

func (c *config) streamServer(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	cl := call{method: info.FullMethod, server: true, info: info, ss: ss}
	if c.shedder != nil && c.selects(ss.Context(), &cl) {
		_, t, err := c.admitShed(ss.Context(), &cl)
		if err != nil {
			return err
		}
		defer t.Done()
	}
	return c.intercept(ss.Context(), &cl, nil, func(context.Context) error {
		return handler(srv, ss)
	})
}
