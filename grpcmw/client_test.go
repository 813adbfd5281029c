package grpcmw_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
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

// tripPolicy opens after three consecutive failures and half-opens after
// openFor.
func tripPolicy(match string, openFor time.Duration) core.Policy {
	return core.Policy{
		Name:  "trip",
		Match: []string{match},
		Breaker: &core.BreakerPolicy{
			ConsecutiveFailures: 3,
			DisableFailureRate:  true,
			OpenDuration:        core.Duration(openFor),
			OpenBackoff:         1,
		},
	}
}

func TestUnaryClientBreakerOpensRejectsAndRecovers(t *testing.T) {
	ts := &testServer{}
	addr := serve(t, ts, nil)
	const openFor = time.Second
	reg := newRegistry(t, tripPolicy("/grpc.testing.TestService/*", openFor))
	cc := dial(t, addr, grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg)))
	client := testpb.NewTestServiceClient(cc)
	ctx := context.Background()

	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatalf("healthy call: %v", err)
	}
	g := mustGuard(t, reg, mEmpty)

	// The server fails on command: three Unavailable answers open the breaker.
	ts.failing.Store(int32(codes.Unavailable))
	for i := 0; i < 3; i++ {
		_, err := client.EmptyCall(ctx, &testpb.Empty{})
		if status.Code(err) != codes.Unavailable || isRejected(err) {
			t.Fatalf("failing call %d: %v, want the server's Unavailable", i, err)
		}
	}
	if s := g.Breaker().State(); s != breaker.Open {
		t.Fatalf("state after 3 failures = %v, want open", s)
	}

	// Rejected calls fail fast and never reach the server.
	reached := ts.calls.Load()
	for i := 0; i < 5; i++ {
		_, err := client.EmptyCall(ctx, &testpb.Empty{})
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("rejected call: code %v, want Unavailable", status.Code(err))
		}
		if !errors.Is(err, core.ErrRejected) || !errors.Is(err, breaker.ErrOpen) {
			t.Fatalf("rejected call: %v does not match core.ErrRejected and breaker.ErrOpen", err)
		}
		var re *core.RejectedError
		if !errors.As(err, &re) || re.Guard != mEmpty {
			t.Fatalf("rejected call: no *core.RejectedError for %q in %v", mEmpty, err)
		}
		st := status.Convert(err)
		if !strings.Contains(st.Message(), mEmpty) {
			t.Fatalf("message %q does not name the guard", st.Message())
		}
		if d := retryInfo(t, st); d <= 0 || d > openFor {
			t.Fatalf("RetryInfo delay = %v, want in (0, %v]", d, openFor)
		}
	}
	if got := ts.calls.Load(); got != reached {
		t.Fatalf("%d rejected calls reached the server", got-reached)
	}
	if snap := g.Snapshot(); snap.Rejected.Open != 5 {
		t.Fatalf("guard counted %d rejections, want 5", snap.Rejected.Open)
	}

	// The server recovers; once the breaker half-opens, a probe closes it.
	ts.failing.Store(0)
	eventually(t, "half-open", func() bool { return g.Breaker().State() == breaker.HalfOpen })
	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if s := g.Breaker().State(); s != breaker.Closed {
		t.Fatalf("state after a good probe = %v, want closed", s)
	}
	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatalf("call after recovery: %v", err)
	}
}

func retryInfo(t *testing.T, st *status.Status) time.Duration {
	t.Helper()
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return 0
}

func TestUnaryClientClassification(t *testing.T) {
	ts := &testServer{}
	addr := serve(t, ts, nil)
	reg := newRegistry(t, tripPolicy("/grpc.testing.TestService/*", time.Minute))
	cc := dial(t, addr, grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg)))
	client := testpb.NewTestServiceClient(cc)
	ctx := context.Background()

	// Caller errors never trip the breaker.
	for _, c := range []codes.Code{codes.InvalidArgument, codes.NotFound, codes.AlreadyExists,
		codes.PermissionDenied, codes.Unauthenticated, codes.FailedPrecondition} {
		ts.failing.Store(int32(c))
		for i := 0; i < 3; i++ {
			if _, err := client.EmptyCall(ctx, &testpb.Empty{}); status.Code(err) != c {
				t.Fatalf("want %v, got %v", c, err)
			}
		}
	}
	g := mustGuard(t, reg, mEmpty)
	snap := g.Snapshot().Breaker
	if snap.State != breaker.Closed || snap.Failed != 0 || snap.Succeeded != 18 {
		t.Fatalf("after caller errors: state %v, %d failed, %d succeeded; want closed, 0, 18",
			snap.State, snap.Failed, snap.Succeeded)
	}

	// A call its caller cancels is ignored.
	hold := make(chan struct{})
	ts.hold.Store(&hold)
	ts.failing.Store(0)
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		waitUntil(func() bool { return ts.active.Load() == 1 })
		cancel()
	}()
	if _, err := client.UnaryCall(cctx, &testpb.SimpleRequest{}); status.Code(err) != codes.Canceled {
		t.Fatalf("canceled call: %v", err)
	}
	ts.hold.Store(nil)
	close(hold)
	eventually(t, "the handler to return", func() bool { return ts.active.Load() == 0 })
	if snap := mustGuard(t, reg, mUnary).Snapshot().Breaker; snap.Ignored != 1 || snap.Failed != 0 {
		t.Fatalf("canceled call: %d ignored, %d failed; want 1, 0", snap.Ignored, snap.Failed)
	}

	// Each default failure code counts as a failure.
	for _, c := range []codes.Code{codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted, codes.Internal, codes.Unknown} {
		if got := grpcmw.DefaultClassifier(c); got != breaker.Failure {
			t.Errorf("DefaultClassifier(%v) = %v, want failure", c, got)
		}
	}
}

func TestUnaryClientCustomClassifierAndKeys(t *testing.T) {
	ts := &testServer{}
	addr := serve(t, ts, nil)
	reg := newRegistry(t, tripPolicy("grpc.testing.*", time.Minute))
	notFoundFails := func(c codes.Code) breaker.Result {
		if c == codes.NotFound {
			return breaker.Failure
		}
		return grpcmw.DefaultClassifier(c)
	}
	cc := dial(t, addr, grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg,
		grpcmw.WithKey(grpcmw.ServiceKey),
		grpcmw.WithClassifier(notFoundFails),
		grpcmw.WithGuardOptions(core.WithTags("testing")))))
	client := testpb.NewTestServiceClient(cc)
	ctx := context.Background()

	ts.failing.Store(int32(codes.NotFound))
	_, _ = client.EmptyCall(ctx, &testpb.Empty{})
	_, _ = client.UnaryCall(ctx, &testpb.SimpleRequest{})
	_, _ = client.EmptyCall(ctx, &testpb.Empty{})

	// One guard for the service, tagged, open after three NotFound answers
	// from two of its methods.
	g := mustGuard(t, reg, svcName)
	if !g.HasTag("testing") {
		t.Fatalf("guard tags %v, want testing", g.Tags())
	}
	if s := g.Breaker().State(); s != breaker.Open {
		t.Fatalf("service guard state = %v, want open", s)
	}
	if _, ok := reg.Lookup(mEmpty); ok {
		t.Fatal("a method guard was created with ServiceKey")
	}
	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); !isRejected(err) {
		t.Fatalf("want a rejection, got %v", err)
	}
}

func TestUnaryClientMatcherAndEmptyKey(t *testing.T) {
	ts := &testServer{}
	addr := serve(t, ts, nil)
	reg := newRegistry(t)
	noEmpty := func(ctx context.Context, m string) string {
		if m == mEmpty {
			return ""
		}
		return grpcmw.MethodKey(ctx, m)
	}
	cc := dial(t, addr, grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg,
		grpcmw.WithMatcher(grpcmw.Not(grpcmw.MatchMethods(mUnary))),
		grpcmw.WithKey(noEmpty))))
	client := testpb.NewTestServiceClient(cc)
	ctx := context.Background()
	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	if snap := reg.Snapshot(); len(snap) != 0 {
		t.Fatalf("guards created for unguarded calls: %v", snap)
	}
	if ts.calls.Load() != 2 {
		t.Fatalf("server saw %d calls, want 2", ts.calls.Load())
	}
}

func TestUnaryClientUnknownPolicy(t *testing.T) {
	reg := newRegistry(t)
	icpt := grpcmw.UnaryClientInterceptor(reg, grpcmw.WithGuardOptions(core.UsePolicy("missing")))
	called := false
	err := icpt(context.Background(), mEmpty, nil, nil, nil,
		func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			called = true
			return nil
		})
	if status.Code(err) != codes.Internal || called {
		t.Fatalf("unknown policy: err %v, invoker called %v; want Internal, false", err, called)
	}
}

func TestUnaryClientBulkheadQueueContext(t *testing.T) {
	reg := newRegistry(t, core.Policy{Name: "bh", Match: []string{"*"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1, MaxQueue: 1}})
	reg.MustGuard("x")
	g := mustGuard(t, reg, "x")
	if !g.Bulkhead().TryAcquire() {
		t.Fatal("could not take the slot")
	}
	defer g.Bulkhead().Release()
	icpt := grpcmw.UnaryClientInterceptor(reg, grpcmw.WithKey(func(context.Context, string) string { return "x" }))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := icpt(ctx, mEmpty, nil, nil, nil,
		func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil })
	if status.Code(err) != codes.DeadlineExceeded || isRejected(err) {
		t.Fatalf("queued call whose context ended: %v, want DeadlineExceeded", err)
	}
}

func TestUnaryClientBulkheadRejection(t *testing.T) {
	reg := newRegistry(t, core.Policy{Name: "bh", Match: []string{"/*/*"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1}})
	g := reg.MustGuard(mEmpty)
	g.Bulkhead().TryAcquire()
	defer g.Bulkhead().Release()
	icpt := grpcmw.UnaryClientInterceptor(reg)
	err := icpt(context.Background(), mEmpty, nil, nil, nil,
		func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { return nil })
	if status.Code(err) != codes.Unavailable || !errors.Is(err, bulkhead.ErrFull) {
		t.Fatalf("full bulkhead: %v", err)
	}
	if d := retryInfo(t, status.Convert(err)); d != 0 {
		t.Fatalf("RetryInfo %v for a rejection without a hint", d)
	}
}

func TestUnaryClientPanicCountsAsFailure(t *testing.T) {
	reg := newRegistry(t)
	icpt := grpcmw.UnaryClientInterceptor(reg)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic swallowed")
			}
		}()
		_ = icpt(context.Background(), mEmpty, nil, nil, nil,
			func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error { panic("boom") })
	}()
	if snap := mustGuard(t, reg, mEmpty).Snapshot().Breaker; snap.Failed != 1 {
		t.Fatalf("panic counted %d failures, want 1", snap.Failed)
	}
}

func TestMetadataKey(t *testing.T) {
	reg := newRegistry(t)
	key := grpcmw.MetadataKey("X-Tenant", nil)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-tenant", "acme"))
	if got := key(ctx, mEmpty); got != mEmpty+"@acme" {
		t.Fatalf("tenant key = %q", got)
	}
	if got := key(context.Background(), mEmpty); got != mEmpty {
		t.Fatalf("key without tenant = %q", got)
	}
	svc := grpcmw.MetadataKey("x-tenant", grpcmw.ServiceKey)
	if got := svc(ctx, mEmpty); got != svcName+"@acme" {
		t.Fatalf("service tenant key = %q", got)
	}
	_ = reg
}
