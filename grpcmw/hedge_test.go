package grpcmw_test

import (
	"context"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/grpcmw"
)

// slowFirstServer answers UnaryCall with the number of the call, except
// the first, which waits until its client cancels it; it counts
// EmptyCalls.
type slowFirstServer struct {
	testpb.UnimplementedTestServiceServer
	unary, empty atomic.Int64
	cancelled    chan struct{}
}

func (s *slowFirstServer) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	n := s.unary.Add(1)
	if n == 1 {
		<-ctx.Done()
		s.cancelled <- struct{}{}
		return nil, ctx.Err()
	}
	return &testpb.SimpleResponse{Username: "call " + strconv.FormatInt(n, 10)}, nil
}

func (s *slowFirstServer) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	s.empty.Add(1)
	return &testpb.Empty{}, nil
}

func TestUnaryClientHedgesSelectedMethodsOnly(t *testing.T) {
	srv := &slowFirstServer{cancelled: make(chan struct{}, 4)}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	testpb.RegisterTestServiceServer(s, srv)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	addr := lis.Addr().String()
	reg := newRegistry(t, core.Policy{Name: "h", Match: []string{"*"}, Hedge: &core.HedgePolicy{Delay: core.Duration(time.Millisecond)}})
	cc := dial(t, addr, grpc.WithUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg, grpcmw.WithHedging(grpcmw.MatchMethods(mUnary)))))
	client := testpb.NewTestServiceClient(cc)

	resp, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{})
	if err != nil || resp.GetUsername() != "call 2" {
		t.Fatalf("UnaryCall = %v, %v; want the hedge's answer, call 2", resp, err)
	}
	select {
	case <-srv.cancelled:
	case <-time.After(waitFor):
		t.Fatal("the losing attempt was not cancelled")
	}
	g, _ := reg.Lookup(mUnary)
	// Which attempt reaches the server first, and so hangs, is up to the
	// network: the other one answers.
	if h := g.Snapshot().Hedge; h.Started != 1 || h.Cancelled != 1 {
		t.Errorf("hedge stats %+v; want one hedge started, one loser cancelled", h)
	}
	// EmptyCall is not selected: one attempt, however slow.
	if _, err := client.EmptyCall(context.Background(), &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	ge, _ := reg.Lookup(mEmpty)
	if n, h := srv.empty.Load(), ge.Snapshot().Hedge; n != 1 || h.Calls != 0 {
		t.Errorf("the server saw %d EmptyCalls, hedge stats %+v; want 1 call that never reached the hedger", n, h)
	}
}
