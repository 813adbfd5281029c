package grpcmw_test

import (
	"context"
	"io"
	"testing"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/grpcmw"
)

// BenchmarkInterceptor measures each interceptor's own work on the admitted
// path: a guard that exists, with a bulkhead, and a fake invoker, handler or
// stream behind it. Compare with BenchmarkLoopback's bare call for the
// overhead ratio.
func BenchmarkInterceptor(b *testing.B) {
	ctx := context.Background()
	reg := newRegistry(b, core.Policy{Name: "bh", Match: []string{"/*/*"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1 << 20}})
	uc := grpcmw.UnaryClientInterceptor(reg)
	us := grpcmw.UnaryServerInterceptor(reg)
	sc := grpcmw.StreamClientInterceptor(reg)
	ss := grpcmw.StreamServerInterceptor(reg)
	fss := &fakeServerStream{ctx: ctx}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()

	cases := []struct {
		name string
		call func()
	}{
		{"UnaryClient", func() { _ = uc(ctx, mEmpty, nil, nil, nil, okInvoker) }},
		{"UnaryServer", func() { _, _ = us(ctx, nil, unaryInfo, okHandler) }},
		{"StreamClient", func() {
			s, _ := sc(cctx, duplexCS, nil, mFullDuplex, eofStreamer)
			_ = s.RecvMsg(nil)
		}},
		{"StreamServer", func() { _ = ss(nil, fss, duplex, okStream) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.call()
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.call()
				}
			})
		})
	}
}

// loopbackSetups are the interceptor configurations the loopback benchmarks
// compare with a bare call.
func loopbackSetups(reg *core.Registry) []struct {
	name  string
	sopts []grpc.ServerOption
	dopts []grpc.DialOption
} {
	return []struct {
		name  string
		sopts []grpc.ServerOption
		dopts []grpc.DialOption
	}{
		{name: "bare"},
		// Pass-through interceptors: what grpc-go itself costs for having
		// an interceptor at all (the generated server code allocates the
		// UnaryServerInfo and a handler closure only then).
		{name: "noop", dopts: []grpc.DialOption{
			grpc.WithChainUnaryInterceptor(noopUnaryClient),
			grpc.WithChainStreamInterceptor(noopStreamClient)}, sopts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(noopUnaryServer),
			grpc.ChainStreamInterceptor(noopStreamServer)}},
		{name: "both", dopts: []grpc.DialOption{
			grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg)),
			grpc.WithChainStreamInterceptor(grpcmw.StreamClientInterceptor(reg))}, sopts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg)),
			grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg))}},
		{name: "client", dopts: []grpc.DialOption{
			grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg)),
			grpc.WithChainStreamInterceptor(grpcmw.StreamClientInterceptor(reg))}},
		{name: "server", sopts: []grpc.ServerOption{
			grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg)),
			grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg))}},
	}
}

func noopUnaryClient(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(ctx, method, req, reply, cc, opts...)
}

func noopStreamClient(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(ctx, desc, cc, method, opts...)
}

func noopUnaryServer(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(ctx, req)
}

func noopStreamServer(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, ss)
}

// BenchmarkLoopbackUnary is a real unary call over loopback TCP, bare and
// with each unary interceptor.
func BenchmarkLoopbackUnary(b *testing.B) {
	reg := newRegistry(b)
	for _, s := range loopbackSetups(reg) {
		b.Run(s.name, func(b *testing.B) {
			addr := serve(b, &testServer{}, nil, s.sopts...)
			client := testpb.NewTestServiceClient(dial(b, addr, s.dopts...))
			ctx := context.Background()
			in := &testpb.Empty{}
			if _, err := client.EmptyCall(ctx, in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := client.EmptyCall(ctx, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLoopbackStream is a real bidirectional stream over loopback TCP
// (open, one message each way, close), bare and with each stream
// interceptor.
func BenchmarkLoopbackStream(b *testing.B) {
	reg := newRegistry(b)
	for _, s := range loopbackSetups(reg) {
		b.Run(s.name, func(b *testing.B) {
			addr := serve(b, &testServer{}, nil, s.sopts...)
			client := testpb.NewTestServiceClient(dial(b, addr, s.dopts...))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			msg := &testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("ping")}}
			one := func() {
				st, err := client.FullDuplexCall(ctx)
				if err != nil {
					b.Fatal(err)
				}
				if err := st.Send(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := st.Recv(); err != nil {
					b.Fatal(err)
				}
				_ = st.CloseSend()
				if _, err := st.Recv(); err != io.EOF {
					b.Fatal(err)
				}
			}
			one()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				one()
			}
		})
	}
}
