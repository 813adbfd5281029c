package grpcmw

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/breakerbox/breakerbox/core/hedge"
)

// WithHedging makes the unary client interceptor hedge the calls of the
// methods m selects, which must be idempotent (a read, or a write the
// server deduplicates), when their guard's policy has a hedge section
// (core.HedgePolicy): when an attempt has not answered after the hedge
// delay, another attempt starts, each through the guard's gates; the first
// successful answer is copied into the call's reply, and the other attempts
// are cancelled. Hedges spend the guard's retry budget and stop while its
// breaker is not closed. MatchMethods names the methods, as in
// WithHedging(MatchMethods("/quotes.Quotes/Get")).
//
// Each attempt receives into a reply of its own (the reply must be a
// proto.Message; other calls are not hedged). A hedged call is not retried
// by WithRetrier as well. Call options that capture the header or the
// trailer (grpc.Header, grpc.Trailer) are shared by the attempts: do not
// use them on hedged methods. A nil m hedges no call. The stream
// interceptors never hedge.
func WithHedging(m Matcher) Option {
	return optionFunc(func(c *config) { c.hedge = m })
}

// hedges reports whether the call is hedged.
func (c *config) hedges(ctx context.Context, method string, reply any) bool {
	if c.hedge == nil || !c.hedge(ctx, method) {
		return false
	}
	_, ok := reply.(proto.Message)
	return ok
}

// unaryClientHedged runs a unary call of a hedged method through its
// guard's hedger, if the guard has one.
func (c *config) unaryClientHedged(ctx context.Context, cl call, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts []grpc.CallOption) error {
	g, err := c.guard(ctx, &cl)
	if err != nil {
		return c.guardError(err)
	}
	if g == nil {
		return invoker(ctx, cl.method, cl.req, reply, cc, opts...)
	}
	cl.g = g
	if !g.Hedges() {
		return c.intercept(ctx, &cl, nil, func(ctx context.Context) error {
			return invoker(ctx, cl.method, cl.req, reply, cc, opts...)
		})
	}
	out := reply.(proto.Message)
	won, err := hedge.Do(ctx, g.Hedger(), func(ctx context.Context) (proto.Message, error) {
		r := out.ProtoReflect().New().Interface()
		acl := cl
		err := c.intercept(ctx, &acl, nil, func(ctx context.Context) error {
			return invoker(ctx, cl.method, cl.req, r, cc, opts...)
		})
		return r, err
	})
	if err != nil {
		return err
	}
	proto.Reset(out)
	proto.Merge(out, won)
	return nil
}
