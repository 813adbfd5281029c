package grpcmw_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/grpcmw"
	"github.com/breakerbox/breakerbox/shed"
)

// sheddingSheddable returns a shedder that one past hour-long interval of
// a standing queue (40ms; 10 served of 50 sheddable and 50 critical calls)
// has brought to shed every sheddable call and nothing else. The next
// interval lasts past the end of the test.
func sheddingSheddable(t *testing.T) *shed.Shedder {
	t.Helper()
	s, err := shed.New(shed.Config{Interval: time.Hour, RetryAfter: 2500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour - time.Second)
	for i := range 100 {
		c := shed.Sheddable
		if i%2 == 0 {
			c = shed.Critical
		}
		_ = s.AllowAt(at, c)
	}
	for i := range 10 {
		s.ObserveAt(at.Add(time.Second), 40*time.Millisecond+time.Duration(i))
	}
	return s
}

func TestShedderHonoursCriticalityMetadata(t *testing.T) {
	s := sheddingSheddable(t)
	ts := &testServer{}
	rec := &errRecorder{}
	var seen []shed.Criticality
	spy := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		c, _ := shed.FromContext(ctx)
		seen = append(seen, c)
		return h(ctx, req)
	}
	opts := []grpcmw.Option{grpcmw.WithShedder(s, nil)}
	hs := health.NewServer()
	addr := serve(t, ts, hs,
		grpc.ChainUnaryInterceptor(rec.unary, grpcmw.UnaryServerInterceptor(newRegistry(t), opts...), spy),
		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(newRegistry(t), opts...)))
	cc := dial(t, addr)
	client := testpb.NewTestServiceClient(cc)
	with := func(crit string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), grpcmw.CriticalityMetadataKey, crit)
	}

	for _, crit := range []string{"critical", "default", "CRITICAL_PLUS"} {
		if _, err := client.EmptyCall(with(crit), &testpb.Empty{}); err != nil {
			t.Fatalf("%s call: %v", crit, err)
		}
	}
	if _, err := client.EmptyCall(context.Background(), &testpb.Empty{}); err != nil {
		t.Fatalf("call without criticality (default): %v", err)
	}
	if want := []shed.Criticality{shed.Critical, shed.Default, shed.Critical, shed.Default}; len(seen) != 4 ||
		seen[0] != want[0] || seen[1] != want[1] || seen[2] != want[2] || seen[3] != want[3] {
		t.Errorf("handlers saw criticalities %v, want %v", seen, want)
	}

	reached := ts.calls.Load()
	var trailer metadata.MD
	_, err := client.EmptyCall(with("sheddable"), &testpb.Empty{}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("sheddable call: %v, want ResourceExhausted", err)
	}
	if d := pushbackOf(t, trailer); d != 2500*time.Millisecond {
		t.Errorf("pushback %v, want the shedder's 2.5s", d)
	}
	if d := retryInfo(t, status.Convert(err)); d != 2500*time.Millisecond {
		t.Errorf("RetryInfo %v, want 2.5s", d)
	}
	if outer := rec.last(); !errors.Is(outer, core.ErrRejected) || !errors.Is(outer, shed.ErrShed) {
		t.Errorf("outer interceptor saw %v, want a shed rejection", outer)
	}
	// A sheddable stream is shed too.
	stream, err := client.StreamingOutputCall(with("sheddable"), &testpb.StreamingOutputCallRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("sheddable stream: %v, want ResourceExhausted", err)
	}
	if ts.calls.Load() != reached {
		t.Error("a shed call reached its handler")
	}
	// Health checks are never shed, whatever they carry.
	hc := healthpb.NewHealthClient(cc)
	if _, err := hc.Check(with("sheddable"), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("sheddable health check: %v", err)
	}
}

func TestShedderPublicErrorsHideTheMessage(t *testing.T) {
	s := sheddingSheddable(t)
	addr, _ := guardedServer(t, &testServer{}, newRegistry(t), grpcmw.WithShedder(s, func(context.Context) shed.Criticality {
		return shed.Sheddable
	}), grpcmw.WithPublicErrors())
	_, err := testpb.NewTestServiceClient(dial(t, addr)).EmptyCall(context.Background(), &testpb.Empty{})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || st.Message() != "call rejected; retry later" {
		t.Errorf("shed call with public errors: %v", err)
	}
}
