package grpcmw_test

import (
	"context"
	"io"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/grpcmw"
)

// Fake ends of the interceptor chain, so that only the interceptor's own
// work is measured.
var (
	okInvoker = func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil }
	okHandler = func(context.Context, any) (any, error) { return nil, nil }
	okStream  = func(any, grpc.ServerStream) error { return nil }
	errDown   = status.Error(codes.Unavailable, "down")
	unaryInfo = &grpc.UnaryServerInfo{FullMethod: mEmpty}
	duplex    = &grpc.StreamServerInfo{FullMethod: mFullDuplex, IsClientStream: true, IsServerStream: true}
	duplexCS  = &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
)

var theEOFStream = &eofStream{}

// eofStream is a client stream whose every receive ends it.
type eofStream struct{ fakeClientStream }

func (*eofStream) RecvMsg(any) error { return io.EOF }

var eofStreamer = func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
	return theEOFStream, nil
}

func allocs(t *testing.T, name string, want float64, f func()) {
	t.Helper()
	f() // create the guard
	if got := testing.AllocsPerRun(1000, f); got > want {
		t.Errorf("%s: %v allocations per call, want at most %v", name, got, want)
	}
}

func TestInterceptorAllocations(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t, core.Policy{Name: "bh", Match: []string{"/*/*"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1 << 20}})

	uc := grpcmw.UnaryClientInterceptor(reg)
	allocs(t, "unary client, admitted", 0, func() { _ = uc(ctx, mEmpty, nil, nil, nil, okInvoker) })
	failing := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return errDown }
	allocs(t, "unary client, failed", 0, func() { _ = uc(ctx, mUnary, nil, nil, nil, failing) })

	us := grpcmw.UnaryServerInterceptor(reg)
	allocs(t, "unary server, admitted", 0, func() { _, _ = us(ctx, nil, unaryInfo, okHandler) })

	ss := grpcmw.StreamServerInterceptor(reg)
	fss := &fakeServerStream{ctx: ctx}
	allocs(t, "stream server, admitted", 0, func() { _ = ss(nil, fss, duplex, okStream) })

	// The client stream wrapper, and with a context that can end, the
	// method value given to context.AfterFunc and AfterFunc's own two.
	sc := grpcmw.StreamClientInterceptor(reg)
	allocs(t, "stream client, admitted", 1, func() {
		s, _ := sc(ctx, duplexCS, nil, mFullDuplex, eofStreamer)
		_ = s.RecvMsg(nil)
	})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	allocs(t, "stream client with a cancellable context, admitted", 4, func() {
		s, _ := sc(cctx, duplexCS, nil, mFullDuplex, eofStreamer)
		_ = s.RecvMsg(nil)
	})

	// With a retrier, each attempt captures its trailer for the pushback.
	r, err := retry.New(retry.Config{RetryOn: grpcmw.Retryable})
	if err != nil {
		t.Fatal(err)
	}
	ucr := grpcmw.UnaryClientInterceptor(reg, grpcmw.WithRetrier(r))
	allocs(t, "unary client with a retrier, admitted", 2, func() { _ = ucr(ctx, mEmpty, nil, nil, nil, okInvoker) })

	// A selector that allocates nothing itself, WithPolicy and
	// WithPublicErrors keep the admitted paths free of allocations.
	sel := selector.MatchFunc(func(_ context.Context, cm interceptors.CallMeta) bool { return cm.Service != "other.Svc" })
	more := []grpcmw.Option{grpcmw.WithSelector(sel), grpcmw.WithPolicy("bh"), grpcmw.WithPublicErrors()}
	ucs := grpcmw.UnaryClientInterceptor(reg, more...)
	allocs(t, "unary client with a selector, admitted", 0, func() { _ = ucs(ctx, mEmpty, nil, nil, nil, okInvoker) })
	uss := grpcmw.UnaryServerInterceptor(reg, more...)
	allocs(t, "unary server with a selector, admitted", 0, func() { _, _ = uss(ctx, nil, unaryInfo, okHandler) })
	sss := grpcmw.StreamServerInterceptor(reg, more...)
	allocs(t, "stream server with a selector, admitted", 0, func() { _ = sss(nil, fss, duplex, okStream) })
	// A failed call (which does not trip this breaker) is checked for a
	// rejection to hide without allocating.
	never := grpcmw.WithClassifier(func(codes.Code) breaker.Result { return breaker.Ignore })
	usf := grpcmw.UnaryServerInterceptor(reg, grpcmw.WithPublicErrors(), never)
	failingHandler := func(context.Context, any) (any, error) { return nil, errDown }
	allocs(t, "unary server with public errors, failed", 0, func() { _, _ = usf(ctx, nil, unaryInfo, failingHandler) })

	// Rejections on the client allocate nothing either.
	reg.MustGuard("/svc/open").ForceOpen(breaker.Manual{Actor: "test"})
	allocs(t, "unary client, rejected", 0, func() { _ = uc(ctx, "/svc/open", nil, nil, nil, okInvoker) })
}
