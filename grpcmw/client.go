package grpcmw

import (
	"context"
	"io"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/breakerbox/breakerbox/core"
)

// UnaryClientInterceptor returns a client interceptor that runs each unary
// call through the guard of reg that opts select (by default one per method).
//
// A call the guard rejects never reaches the network: it fails with
// codes.Unavailable, a message naming the guard and, when known, a RetryInfo
// detail with the retry-after; the error also matches core.ErrRejected and
// the primitive's sentinel (breaker.ErrOpen, bulkhead.ErrFull) with
// errors.Is. An admitted call's final status is classified by the
// Classifier and reported to the guard. With WithRetrier, failed calls are
// retried, honouring the server's pushback.
//
// The admitted path of a guard that exists allocates nothing.
func UnaryClientInterceptor(reg *core.Registry, opts ...Option) grpc.UnaryClientInterceptor {
	c := newConfig(reg, opts)
	return c.unaryClient
}

func (c *config) unaryClient(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	cl := call{method: method, req: req}
	if c.hedge != nil && c.hedges(ctx, method, reply) { // hedge.go
		return c.unaryClientHedged(ctx, cl, reply, cc, invoker, opts)
	}
	if c.retrier != nil {
		return c.unaryClientRetry(ctx, &cl, reply, cc, invoker, opts)
	}
	return c.intercept(ctx, &cl, nil, func(ctx context.Context) error {
		return invoker(ctx, method, req, reply, cc, opts...)
	})
}

// unaryClientRetry runs each attempt of a unary call through the call's
// guard, chosen once.
func (c *config) unaryClientRetry(ctx context.Context, cl *call, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	ctx = c.withTenant(ctx)
	g, err := c.guard(ctx, cl)
	if err != nil {
		return c.guardError(err)
	}
	if g == nil {
		return invoker(ctx, cl.method, cl.req, reply, cc, opts...)
	}
	cl.g = g
	err = c.retrier.Do(ctx, func(ctx context.Context) error {
		var trailer metadata.MD
		attemptOpts := append(opts[:len(opts):len(opts)], grpc.Trailer(&trailer))
		err := c.intercept(ctx, cl, nil, func(ctx context.Context) error {
			return invoker(ctx, cl.method, cl.req, reply, cc, attemptOpts...)
		})
		if err == nil {
			return nil
		}
		if d, stop, ok := pushback(trailer, err); ok {
			return &pushbackError{err: err, after: d, stop: stop}
		}
		return err
	})
	if pe, ok := err.(*pushbackError); ok {
		return pe.err
	}
	return err
}

// StreamClientInterceptor returns a client interceptor that runs each stream
// through the guard of reg that opts select. The guard admits the stream when
// it starts (a rejected stream fails as a rejected unary call does, without
// reaching the network); the stream's final status decides the outcome
// reported to the guard, and the stream holds its bulkhead slot until then.
//
// A stream ends, for the guard, when RecvMsg returns an error (io.EOF is
// success), when a stream without server streaming receives its response,
// when SendMsg or Header fails with anything but io.EOF, or when the context
// given to the stream ends, whichever comes first: a client that abandons a
// stream must cancel its context, as grpc-go requires anyway, and that frees
// the slot. Canceled counts as ignored and DeadlineExceeded as a failure
// with the default Classifier.
//
// Each admitted stream allocates its wrapper and, when its context can end,
// a context.AfterFunc registration: four small allocations, against the
// dozens grpc-go makes for a stream.
func StreamClientInterceptor(reg *core.Registry, opts ...Option) grpc.StreamClientInterceptor {
	c := newConfig(reg, opts)
	return c.streamClient
}

func (c *config) streamClient(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	cl := call{method: method, desc: desc}
	var h held
	var cs grpc.ClientStream
	err := c.intercept(ctx, &cl, &h, func(ctx context.Context) (err error) {
		cs, err = streamer(ctx, desc, cc, method, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !h.ok { // not guarded
		return cs, nil
	}
	s := &clientStream{ClientStream: cs, c: c, permit: h.p, ctx: ctx, serverStreams: desc.ServerStreams}
	if ctx.Done() != nil { // a context that can end: watch for abandonment
		s.stop = context.AfterFunc(ctx, s.abandoned)
	}
	return s, nil
}

// clientStream reports a stream's outcome to its guard exactly once, when
// the stream ends.
type clientStream struct {
	grpc.ClientStream
	c             *config
	permit        core.Permit
	ctx           context.Context
	stop          func() bool
	serverStreams bool
	done          atomic.Bool
}

// finish reports the stream's end, seen by one of the stream's methods.
func (s *clientStream) finish(err error) {
	if s.done.CompareAndSwap(false, true) {
		if s.stop != nil {
			s.stop()
		}
		s.permit.Report(s.c.classify(codeOf(err)), err)
	}
}

// abandoned runs when the stream's context ends before the stream did.
func (s *clientStream) abandoned() {
	if s.done.CompareAndSwap(false, true) {
		err := s.ctx.Err()
		s.permit.Report(s.c.classify(codeOf(err)), err)
	}
}

// RecvMsg receives a message; an error (io.EOF for success) ends the stream,
// and so does the response of a stream without server streaming.
func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err == nil:
		if !s.serverStreams {
			s.finish(nil)
		}
	case err == io.EOF:
		s.finish(nil)
	default:
		s.finish(err)
	}
	return err
}

// SendMsg sends a message; an error other than io.EOF (which means the
// status is waiting in RecvMsg) ends the stream.
func (s *clientStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && err != io.EOF {
		s.finish(err)
	}
	return err
}

// Header returns the header metadata; an error other than io.EOF ends the
// stream.
func (s *clientStream) Header() (metadata.MD, error) {
	md, err := s.ClientStream.Header()
	if err != nil && err != io.EOF {
		s.finish(err)
	}
	return md, err
}
