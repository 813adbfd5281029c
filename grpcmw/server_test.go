package grpcmw_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/bulkhead"
	"github.com/breakerbox/breakerbox/grpcmw"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// errRecorder is an outer server interceptor that keeps the errors the
// guarded chain returned, as a logging interceptor would see them.
type errRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *errRecorder) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	return resp, err
}

func (r *errRecorder) last() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) == 0 {
		return nil
	}
	return r.errs[len(r.errs)-1]
}

func pushbackOf(t *testing.T, md metadata.MD) time.Duration {
	t.Helper()
	vs := md.Get(grpcmw.PushbackHeader)
	if len(vs) != 1 {
		t.Fatalf("trailer %v: want one %s", md, grpcmw.PushbackHeader)
	}
	ms, err := strconv.Atoi(vs[0])
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(ms) * time.Millisecond
}

// guardedServer serves ts with the four server interceptors of reg and opts,
// behind an errRecorder.
func guardedServer(t *testing.T, ts *testServer, reg *core.Registry, opts ...grpcmw.Option) (string, *errRecorder) {
	rec := &errRecorder{}
	addr := serve(t, ts, nil,
		grpc.ChainUnaryInterceptor(rec.unary, grpcmw.UnaryServerInterceptor(reg, opts...)),
		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg, opts...)))
	return addr, rec
}

func TestServerSheddingIsResourceExhaustedWithPushback(t *testing.T) {
	ts := &testServer{}
	reg := newRegistry(t, core.Policy{Name: "shed", Match: []string{"grpc.testing.*"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1}})
	addr, rec := guardedServer(t, ts, reg, grpcmw.WithKey(grpcmw.ServiceKey), grpcmw.WithPushback(150*time.Millisecond))
	client := testpb.NewTestServiceClient(dial(t, addr))
	ctx := context.Background()

	// One slow call holds the service's only slot.
	hold := make(chan struct{})
	ts.hold.Store(&hold)
	held := make(chan error, 1)
	go func() {
		_, err := client.UnaryCall(ctx, &testpb.SimpleRequest{})
		held <- err
	}()
	eventually(t, "the slow call to hold the slot", func() bool { return ts.active.Load() == 1 })

	reached := ts.calls.Load()
	var trailer metadata.MD
	_, err := client.EmptyCall(ctx, &testpb.Empty{}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("shed call: %v, want ResourceExhausted", err)
	}
	if d := pushbackOf(t, trailer); d != 150*time.Millisecond {
		t.Fatalf("pushback %v, want 150ms", d)
	}
	if d := retryInfo(t, status.Convert(err)); d != 150*time.Millisecond {
		t.Fatalf("RetryInfo %v, want 150ms", d)
	}
	if ts.calls.Load() != reached {
		t.Fatal("a shed call reached its handler")
	}
	if outer := rec.last(); !errors.Is(outer, core.ErrRejected) || !errors.Is(outer, bulkhead.ErrFull) {
		t.Fatalf("outer interceptor saw %v, want a rejection", outer)
	}

	close(hold)
	if err := <-held; err != nil {
		t.Fatalf("held call: %v", err)
	}
	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatalf("call after the slot freed: %v", err)
	}
}

func TestServerRateLimitIsResourceExhausted(t *testing.T) {
	ts := &testServer{}
	reg := newRegistry(t, core.Policy{Name: "rl", Match: []string{"/grpc.testing.TestService/*"},
		RateLimit: &core.RateLimitPolicy{Limit: 1, Per: core.Duration(time.Hour), Burst: 1}})
	addr, rec := guardedServer(t, ts, reg)
	client := testpb.NewTestServiceClient(dial(t, addr))
	ctx := context.Background()

	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	var trailer metadata.MD
	_, err := client.EmptyCall(ctx, &testpb.Empty{}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("limited call: %v", err)
	}
	if d := pushbackOf(t, trailer); d <= 0 || d > time.Hour {
		t.Fatalf("pushback %v, want the limiter's wait", d)
	}
	if outer := rec.last(); !errors.Is(outer, ratelimit.ErrLimited) {
		t.Fatalf("outer interceptor saw %v, want ratelimit.ErrLimited", outer)
	}
	if ts.calls.Load() != 1 {
		t.Fatalf("%d calls reached the server, want 1", ts.calls.Load())
	}
}

func TestServerOpenBreakerIsUnavailableWithPushback(t *testing.T) {
	ts := &testServer{}
	reg := newRegistry(t)
	addr, _ := guardedServer(t, ts, reg)
	client := testpb.NewTestServiceClient(dial(t, addr))
	ctx := context.Background()

	reg.MustGuard(mEmpty).OpenFor(10*time.Second, breaker.Manual{Actor: "test"})
	var trailer metadata.MD
	_, err := client.EmptyCall(ctx, &testpb.Empty{}, grpc.Trailer(&trailer))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("call to an open method: %v", err)
	}
	if d := pushbackOf(t, trailer); d <= 0 || d > 10*time.Second {
		t.Fatalf("pushback %v, want the remaining open time", d)
	}
	if ts.calls.Load() != 0 {
		t.Fatal("a rejected call reached its handler")
	}
	// A forced-open breaker has no retry-after: the default pushback.
	reg.MustGuard(mEmpty).ForceOpen(breaker.Manual{Actor: "test"})
	trailer = nil
	_, err = client.EmptyCall(ctx, &testpb.Empty{}, grpc.Trailer(&trailer))
	if d := pushbackOf(t, trailer); status.Code(err) != codes.Unavailable || d != grpcmw.DefaultPushback {
		t.Fatalf("forced open: %v, pushback %v", err, d)
	}
}

func TestServerClassifiesHandlerErrors(t *testing.T) {
	ts := &testServer{}
	reg := newRegistry(t, tripPolicy("/grpc.testing.TestService/*", time.Minute))
	addr, _ := guardedServer(t, ts, reg)
	client := testpb.NewTestServiceClient(dial(t, addr))
	ctx := context.Background()

	ts.failing.Store(int32(codes.InvalidArgument))
	for i := 0; i < 5; i++ {
		_, _ = client.EmptyCall(ctx, &testpb.Empty{})
	}
	if snap := mustGuard(t, reg, mEmpty).Snapshot().Breaker; snap.Failed != 0 || snap.State != breaker.Closed {
		t.Fatalf("InvalidArgument counted: %+v", snap)
	}

	// A client that cancels: the handler returns ctx.Err(), which is ignored.
	hold := make(chan struct{})
	defer close(hold)
	ts.hold.Store(&hold)
	ts.failing.Store(0)
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		waitUntil(func() bool { return ts.active.Load() == 1 })
		cancel()
	}()
	_, _ = client.UnaryCall(cctx, &testpb.SimpleRequest{})
	g := func() *core.Guard { g, _ := reg.Lookup(mUnary); return g }
	eventually(t, "the handler's outcome", func() bool {
		return g() != nil && g().Snapshot().Breaker.Ignored == 1
	})
	if snap := g().Snapshot().Breaker; snap.Failed != 0 {
		t.Fatalf("canceled call counted as a failure: %+v", snap)
	}

	// Internal from the handler is a failure; three open the breaker.
	ts.hold.Store(nil)
	ts.failing.Store(int32(codes.Internal))
	for i := 0; i < 3; i++ {
		_, _ = client.EmptyCall(ctx, &testpb.Empty{})
	}
	if s := mustGuard(t, reg, mEmpty).Breaker().State(); s != breaker.Open {
		t.Fatalf("state = %v, want open", s)
	}
}

func TestServerPanicCountsAsFailure(t *testing.T) {
	reg := newRegistry(t)
	icpt := grpcmw.UnaryServerInterceptor(reg)
	info := &grpc.UnaryServerInfo{FullMethod: mEmpty}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed")
			}
		}()
		_, _ = icpt(context.Background(), nil, info, func(context.Context, any) (any, error) { panic("boom") })
	}()
	if snap := mustGuard(t, reg, mEmpty).Snapshot().Breaker; snap.Failed != 1 {
		t.Fatalf("panic counted %d failures, want 1", snap.Failed)
	}

	sicpt := grpcmw.StreamServerInterceptor(reg)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed")
			}
		}()
		_ = sicpt(nil, &fakeServerStream{ctx: context.Background()}, &grpc.StreamServerInfo{FullMethod: mFullDuplex},
			func(any, grpc.ServerStream) error { panic("boom") })
	}()
	if snap := mustGuard(t, reg, mFullDuplex).Snapshot().Breaker; snap.Failed != 1 {
		t.Fatalf("stream panic counted %d failures, want 1", snap.Failed)
	}
}

func TestHealthServiceUnguardedByDefault(t *testing.T) {
	reg := newRegistry(t)
	icpt := grpcmw.UnaryServerInterceptor(reg)
	_, err := icpt(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"},
		func(context.Context, any) (any, error) { return nil, nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.Snapshot()) != 0 {
		t.Fatal("the health service got a guard")
	}
}

// fakeServerStream is a grpc.ServerStream with nothing behind it.
type fakeServerStream struct {
	grpc.ServerStream
	ctx     context.Context
	trailer metadata.MD
}

func (s *fakeServerStream) Context() context.Context  { return s.ctx }
func (s *fakeServerStream) SetTrailer(md metadata.MD) { s.trailer = metadata.Join(s.trailer, md) }
