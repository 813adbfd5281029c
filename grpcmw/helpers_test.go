package grpcmw_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/core"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleakOptions...)
}

// goleakOptions ignore the rate limiters' shared coarse clock, which stops by
// itself a second after its last reader.
var goleakOptions = []goleak.Option{
	goleak.IgnoreTopFunction("github.com/breakerbox/breakerbox/ratelimit.(*coarseClock).run"),
}

// Full method names of the grpc-go test service.
const (
	svcName        = "grpc.testing.TestService"
	mEmpty         = "/grpc.testing.TestService/EmptyCall"
	mUnary         = "/grpc.testing.TestService/UnaryCall"
	mFullDuplex    = "/grpc.testing.TestService/FullDuplexCall"
	mOutputStream  = "/grpc.testing.TestService/StreamingOutputCall"
	mInputStream   = "/grpc.testing.TestService/StreamingInputCall"
	waitFor        = 10 * time.Second // bound of every polling loop
	pollingBackoff = time.Millisecond
)

// testServer is grpc-go's TestService, failing on command and counting the
// requests that reach it.
type testServer struct {
	testpb.UnimplementedTestServiceServer

	calls   atomic.Int64 // unary calls and streams that reached a handler
	active  atomic.Int64 // handlers running now
	failing atomic.Int32 // a codes.Code to fail with; 0 (OK) succeeds
	// hold, if set, makes UnaryCall wait until it is closed or the call's
	// context ends.
	hold atomic.Pointer[chan struct{}]
}

func (s *testServer) enter() func() {
	s.calls.Add(1)
	s.active.Add(1)
	return func() { s.active.Add(-1) }
}

func (s *testServer) err() error {
	if c := codes.Code(s.failing.Load()); c != codes.OK {
		return status.Error(c, "failing on command")
	}
	return nil
}

func (s *testServer) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	defer s.enter()()
	if err := s.err(); err != nil {
		return nil, err
	}
	return &testpb.Empty{}, nil
}

func (s *testServer) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	defer s.enter()()
	if h := s.hold.Load(); h != nil {
		select {
		case <-*h:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := s.err(); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: in.GetPayload()}, nil
}

// StreamingOutputCall sends one response per response parameter, then fails
// if told to.
func (s *testServer) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	defer s.enter()()
	for _, p := range in.GetResponseParameters() {
		body := make([]byte, p.GetSize())
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: body}}); err != nil {
			return err
		}
	}
	return s.err()
}

// StreamingInputCall sums the payload sizes it receives.
func (s *testServer) StreamingInputCall(stream testpb.TestService_StreamingInputCallServer) error {
	defer s.enter()()
	var n int32
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			if err := s.err(); err != nil {
				return err
			}
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: n})
		}
		if err != nil {
			return err
		}
		n += int32(len(in.GetPayload().GetBody()))
	}
}

// FullDuplexCall echoes every request's payload until the client closes
// its side, then fails if told to.
func (s *testServer) FullDuplexCall(stream testpb.TestService_FullDuplexCallServer) error {
	defer s.enter()()
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return s.err()
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: in.GetPayload()}); err != nil {
			return err
		}
	}
}

// serve starts a gRPC server on a loopback port with ts (and hs, if not
// nil) and returns its address; the server stops when the test ends.
func serve(t testing.TB, ts *testServer, hs *health.Server, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(s, ts)
	if hs != nil {
		healthpb.RegisterHealthServer(s, hs)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return lis.Addr().String()
}

// dial connects to addr; the connection closes when the test ends.
func dial(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

func newRegistry(t testing.TB, ps ...core.Policy) *core.Registry {
	t.Helper()
	reg, err := core.NewRegistry(core.WithPolicies(ps...))
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// eventually polls cond until it holds, failing the test after waitFor. It
// bounds waits for asynchronous effects; it asserts nothing about time.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(pollingBackoff)
	}
}

// waitUntil polls cond for at most waitFor, for goroutines other than the
// test's, which must not call t.Fatal.
func waitUntil(cond func() bool) bool {
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollingBackoff)
	}
	return true
}

func mustGuard(t testing.TB, reg *core.Registry, name string) *core.Guard {
	t.Helper()
	g, ok := reg.Lookup(name)
	if !ok {
		t.Fatalf("no guard %q", name)
	}
	return g
}

func isRejected(err error) bool { return errors.Is(err, core.ErrRejected) }
