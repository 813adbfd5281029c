package grpcmw_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/breakerbox/breakerbox/grpcmw"
)

// oneSlot is a policy with a bulkhead of one slot and no queue.
func oneSlot(match string) core.Policy {
	return core.Policy{Name: "one-slot", Match: []string{match}, Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1}}
}

func streamClient(t *testing.T, addr string, reg *core.Registry, opts ...grpcmw.Option) testpb.TestServiceClient {
	return testpb.NewTestServiceClient(dial(t, addr, grpc.WithChainStreamInterceptor(grpcmw.StreamClientInterceptor(reg, opts...))))
}

func echo(t *testing.T, s testpb.TestService_FullDuplexCallClient) {
	t.Helper()
	if err := s.Send(&testpb.StreamingOutputCallRequest{Payload: &testpb.Payload{Body: []byte("ping")}}); err != nil {
		t.Fatalf("send: %v", err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatalf("recv: %v", err)
	}
}

func inUse(g *core.Guard) int { return g.Bulkhead().Snapshot().InUse }

func TestStreamClientHoldsSlotForStreamLife(t *testing.T) {
	ts := &testServer{}
	addr := serve(t, ts, nil)
	reg := newRegistry(t, oneSlot("/grpc.testing.TestService/*"))
	client := streamClient(t, addr, reg)
	ctx := context.Background()

	s1, err := client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	echo(t, s1)
	g := mustGuard(t, reg, mFullDuplex)
	if inUse(g) != 1 {
		t.Fatalf("open stream holds %d slots, want 1", inUse(g))
	}

	// A second stream is rejected at its start, before the network.
	reached := ts.calls.Load()
	_, err = client.FullDuplexCall(ctx)
	if status.Code(err) != codes.Unavailable || !errors.Is(err, core.ErrRejected) || !errors.Is(err, bulkhead.ErrFull) {
		t.Fatalf("second stream: %v, want a bulkhead rejection", err)
	}
	if ts.calls.Load() != reached {
		t.Fatal("a rejected stream reached the server")
	}

	// The stream ends when the client reads the final status.
	if err := s1.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Recv(); err != io.EOF {
		t.Fatalf("final recv: %v, want io.EOF", err)
	}
	if inUse(g) != 0 {
		t.Fatal("a finished stream kept its slot")
	}
	if snap := g.Snapshot().Breaker; snap.Succeeded != 1 {
		t.Fatalf("finished stream: %d successes, want 1", snap.Succeeded)
	}
	s3, err := client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatalf("stream after the slot freed: %v", err)
	}
	echo(t, s3)
	_ = s3.CloseSend()
	if _, err := s3.Recv(); err != io.EOF {
		t.Fatal(err)
	}
}

func TestStreamFinalStatusDecidesOutcome(t *testing.T) {
	ts := &testServer{}
	addr := serve(t, ts, nil)
	reg := newRegistry(t, core.Policy{Name: "p", Match: []string{"/grpc.testing.TestService/*"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 4},
		Breaker:  &core.BreakerPolicy{ConsecutiveFailures: 2, DisableFailureRate: true, OpenDuration: core.Duration(time.Minute)}})
	client := streamClient(t, addr, reg)
	ctx := context.Background()

	// Server streaming, read to io.EOF: success.
	out, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
		ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 2}, {Size: 3}}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, err := out.Recv(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
	}
	gOut := mustGuard(t, reg, mOutputStream)
	if snap := gOut.Snapshot(); n != 3 || snap.Breaker.Succeeded != 1 || snap.Bulkhead.InUse != 0 {
		t.Fatalf("server stream: %d messages, %+v", n, snap)
	}

	// Client streaming: CloseAndRecv never sees io.EOF, yet the stream ends.
	in, err := client.StreamingInputCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := in.Send(&testpb.StreamingInputCallRequest{Payload: &testpb.Payload{Body: make([]byte, 10)}}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := in.CloseAndRecv()
	if err != nil || resp.GetAggregatedPayloadSize() != 30 {
		t.Fatalf("client stream: %v, %v", resp, err)
	}
	gIn := mustGuard(t, reg, mInputStream)
	if snap := gIn.Snapshot(); snap.Breaker.Succeeded != 1 || snap.Bulkhead.InUse != 0 {
		t.Fatalf("client stream: %+v", snap)
	}

	// Bidirectional streams ending in Internal: failures; two open the breaker.
	ts.failing.Store(int32(codes.Internal))
	for i := 0; i < 2; i++ {
		s, err := client.FullDuplexCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		echo(t, s)
		_ = s.CloseSend()
		if _, err := s.Recv(); status.Code(err) != codes.Internal {
			t.Fatalf("failing stream ended with %v", err)
		}
	}
	gDuplex := mustGuard(t, reg, mFullDuplex)
	if snap := gDuplex.Snapshot(); snap.Breaker.State != breaker.Open || snap.Breaker.Failed != 2 || snap.Bulkhead.InUse != 0 {
		t.Fatalf("after two failed streams: %+v", snap)
	}
	reached := ts.calls.Load()
	if _, err := client.FullDuplexCall(ctx); !errors.Is(err, breaker.ErrOpen) || status.Code(err) != codes.Unavailable {
		t.Fatalf("stream on an open breaker: %v", err)
	}
	if ts.calls.Load() != reached {
		t.Fatal("a rejected stream reached the server")
	}
}

func TestStreamClientAbandonFreesSlot(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Run("abandon", func(t *testing.T) {
		ts := &testServer{}
		serverReg := newRegistry(t, oneSlot("/grpc.testing.TestService/*"))
		addr := serve(t, ts, nil, grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(serverReg)))
		reg := newRegistry(t, oneSlot("/grpc.testing.TestService/*"))
		client := streamClient(t, addr, reg)

		for i := 0; i < 3; i++ {
			ctx, cancel := context.WithCancel(context.Background())
			s, err := client.FullDuplexCall(ctx)
			if err != nil {
				t.Fatalf("stream %d: %v", i, err)
			}
			echo(t, s)
			// The client walks away without closing or reading the status.
			cancel()
			g := mustGuard(t, reg, mFullDuplex)
			eventually(t, "the client's slot", func() bool { return inUse(g) == 0 })
			sg := mustGuard(t, serverReg, mFullDuplex)
			eventually(t, "the server's slot", func() bool { return inUse(sg) == 0 && ts.active.Load() == 0 })
		}
		snap := mustGuard(t, reg, mFullDuplex).Snapshot().Breaker
		if snap.Ignored != 3 || snap.Failed != 0 {
			t.Fatalf("abandoned streams: %d ignored, %d failed; want 3, 0", snap.Ignored, snap.Failed)
		}
		if snap := mustGuard(t, serverReg, mFullDuplex).Snapshot().Breaker; snap.Failed != 0 || snap.Ignored != 3 {
			t.Fatalf("server side of abandoned streams: %+v", snap)
		}
	})
	// The servers, connections and streams are gone: no goroutine is left.
	goleak.VerifyNone(t, append(goleakOptions, before)...)
}

func TestStreamDeadlineIsFailure(t *testing.T) {
	ts := &testServer{}
	addr := serve(t, ts, nil)
	reg := newRegistry(t, oneSlot("/grpc.testing.TestService/*"))
	client := streamClient(t, addr, reg)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// The deadline passes while the stream is open (or, on a slow machine,
	// while it opens): either way one failure, and the slot is freed.
	if _, err := client.FullDuplexCall(ctx); err != nil && status.Code(err) != codes.DeadlineExceeded {
		t.Fatal(err)
	}
	<-ctx.Done()
	g := mustGuard(t, reg, mFullDuplex)
	eventually(t, "the slot", func() bool { return inUse(g) == 0 })
	if snap := g.Snapshot().Breaker; snap.Failed != 1 {
		t.Fatalf("a stream past its deadline: %+v, want one failure", snap)
	}
}

func TestStreamServerShedding(t *testing.T) {
	ts := &testServer{}
	reg := newRegistry(t, oneSlot("/grpc.testing.TestService/*"))
	addr := serve(t, ts, nil, grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg, grpcmw.WithPushback(70*time.Millisecond))))
	client := testpb.NewTestServiceClient(dial(t, addr))
	ctx := context.Background()

	s1, err := client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	echo(t, s1)

	s2, err := client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s2.Recv()
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second stream: %v, want ResourceExhausted", err)
	}
	if d := pushbackOf(t, s2.Trailer()); d != 70*time.Millisecond {
		t.Fatalf("pushback %v", d)
	}
	if ts.calls.Load() != 1 {
		t.Fatalf("%d streams reached the handler, want 1", ts.calls.Load())
	}
	_ = s1.CloseSend()
	if _, err := s1.Recv(); err != io.EOF {
		t.Fatal(err)
	}
	g := mustGuard(t, reg, mFullDuplex)
	eventually(t, "the server's slot", func() bool { return inUse(g) == 0 })
}

func TestStreamClientSendAndHeaderErrorsEndStream(t *testing.T) {
	reg := newRegistry(t, oneSlot("/*/*"))
	icpt := grpcmw.StreamClientInterceptor(reg)
	desc := &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
	broken := status.Error(codes.Internal, "broken")
	for _, tc := range []struct {
		name string
		use  func(grpc.ClientStream) error
	}{
		{"send", func(s grpc.ClientStream) error { return s.SendMsg(nil) }},
		{"header", func(s grpc.ClientStream) error { _, err := s.Header(); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := "/svc/" + tc.name
			cs, err := icpt(context.Background(), desc, nil, method,
				func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
					return &fakeClientStream{err: broken}, nil
				})
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.use(cs); err != broken {
				t.Fatalf("got %v", err)
			}
			g := mustGuard(t, reg, method)
			if snap := g.Snapshot(); snap.Breaker.Failed != 1 || snap.Bulkhead.InUse != 0 {
				t.Fatalf("%+v", snap)
			}
			// Later errors report nothing more.
			_ = cs.RecvMsg(nil)
			if snap := g.Snapshot(); snap.Breaker.Failed != 1 {
				t.Fatalf("reported twice: %+v", snap)
			}
		})
	}

	// A streamer that fails reports at once.
	_, err := icpt(context.Background(), desc, nil, "/svc/start",
		func(context.Context, *grpc.StreamDesc, *grpc.ClientConn, string, ...grpc.CallOption) (grpc.ClientStream, error) {
			return nil, broken
		})
	if err != broken {
		t.Fatal(err)
	}
	if snap := mustGuard(t, reg, "/svc/start").Snapshot(); snap.Breaker.Failed != 1 || snap.Bulkhead.InUse != 0 {
		t.Fatalf("%+v", snap)
	}
}

// fakeClientStream fails every operation with err.
type fakeClientStream struct {
	grpc.ClientStream
	err error
}

func (s *fakeClientStream) SendMsg(any) error            { return s.err }
func (s *fakeClientStream) RecvMsg(any) error            { return s.err }
func (s *fakeClientStream) Header() (metadata.MD, error) { return nil, s.err }
func (s *fakeClientStream) CloseSend() error             { return nil }
func (s *fakeClientStream) Context() context.Context     { return context.Background() }
func (s *fakeClientStream) Trailer() metadata.MD         { return nil }
