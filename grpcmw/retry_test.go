package grpcmw_test

import (
	"context"
	"errors"
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
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/grpcmw"
)

// arrivals is an outer server interceptor recording when each call arrived,
// rejected or not.
type arrivals struct {
	mu    sync.Mutex
	times []time.Time
}

func (a *arrivals) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if info.FullMethod == mEmpty {
		a.mu.Lock()
		a.times = append(a.times, time.Now())
		a.mu.Unlock()
	}
	return h(ctx, req)
}

func (a *arrivals) get() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.times...)
}

func TestClientRetryHonoursPushback(t *testing.T) {
	const pushback = 150 * time.Millisecond
	ts := &testServer{}
	serverReg := newRegistry(t, core.Policy{Name: "shed", Match: []string{"grpc.testing.*"},
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 1}})
	arr := &arrivals{}
	addr := serve(t, ts, nil, grpc.ChainUnaryInterceptor(arr.unary,
		grpcmw.UnaryServerInterceptor(serverReg, grpcmw.WithKey(grpcmw.ServiceKey), grpcmw.WithPushback(pushback))))

	// A slow call on another connection holds the server's only slot.
	hold := make(chan struct{})
	ts.hold.Store(&hold)
	held := make(chan error, 1)
	go func() {
		_, err := testpb.NewTestServiceClient(dial(t, addr)).UnaryCall(context.Background(), &testpb.SimpleRequest{})
		held <- err
	}()
	eventually(t, "the slot to be held", func() bool { return ts.active.Load() == 1 })

	var delays []time.Duration
	var release sync.Once
	r, err := retry.New(retry.Config{
		MaxAttempts:  3,
		InitialDelay: time.Millisecond, // far below the pushback
		MaxDelay:     5 * time.Second,
		Jitter:       retry.NoJitter,
		RetryOn:      grpcmw.Retryable,
		OnRetry: func(_ context.Context, a retry.Attempt) {
			delays = append(delays, a.Delay)
			// The server frees its slot before the client retries: the
			// held call's answer comes after its slot was released.
			release.Do(func() {
				close(hold)
				if err := <-held; err != nil {
					t.Errorf("held call: %v", err)
				}
			})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := newRegistry(t)
	client := testpb.NewTestServiceClient(dial(t, addr,
		grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg, grpcmw.WithRetrier(r)))))

	start := time.Now()
	if _, err := client.EmptyCall(context.Background(), &testpb.Empty{}); err != nil {
		t.Fatalf("retried call: %v", err)
	}
	elapsed := time.Since(start)

	if len(delays) != 1 || delays[0] < pushback {
		t.Fatalf("retry delays %v, want one of at least %v", delays, pushback)
	}
	at := arr.get()
	if len(at) != 2 {
		t.Fatalf("server saw %d attempts, want 2", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < pushback {
		t.Fatalf("second attempt came %v after the first, before the %v pushback", gap, pushback)
	}
	if elapsed < pushback {
		t.Fatalf("call took %v, less than the pushback", elapsed)
	}
	// Each attempt went through the client's guard.
	if snap := mustGuard(t, reg, mEmpty).Snapshot().Breaker; snap.Failed != 1 || snap.Succeeded != 1 {
		t.Fatalf("client guard: %d failed, %d succeeded; want 1, 1", snap.Failed, snap.Succeeded)
	}
}

// fakeInvoker answers attempts from a script, setting trailers as a server
// would.
type fakeInvoker struct {
	calls   int
	errs    []error
	trailer []metadata.MD
}

func (f *fakeInvoker) invoke(_ context.Context, _ string, _, _ any, _ *grpc.ClientConn, opts ...grpc.CallOption) error {
	i := f.calls
	f.calls++
	if i < len(f.trailer) && f.trailer[i] != nil {
		for _, o := range opts {
			if tr, ok := o.(grpc.TrailerCallOption); ok {
				*tr.TrailerAddr = f.trailer[i]
			}
		}
	}
	if i < len(f.errs) {
		return f.errs[i]
	}
	return nil
}

func TestClientRetryRules(t *testing.T) {
	r, err := retry.New(retry.Config{MaxAttempts: 3, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond,
		Jitter: retry.NoJitter, RetryOn: grpcmw.Retryable})
	if err != nil {
		t.Fatal(err)
	}
	unavailable := status.Error(codes.Unavailable, "down")
	exhausted := status.Error(codes.ResourceExhausted, "busy")
	invalid := status.Error(codes.InvalidArgument, "bad")
	for _, tc := range []struct {
		name      string
		errs      []error
		trailer   []metadata.MD
		wantCalls int
		wantErr   error
	}{
		{"unavailable retried", []error{unavailable, unavailable}, nil, 3, nil},
		{"invalid argument not retried", []error{invalid}, nil, 1, invalid},
		{"exhausted without pushback not retried", []error{exhausted}, nil, 1, exhausted},
		{"exhausted with pushback retried", []error{exhausted},
			[]metadata.MD{metadata.Pairs(grpcmw.PushbackHeader, "1")}, 2, nil},
		{"negative pushback stops", []error{unavailable},
			[]metadata.MD{metadata.Pairs(grpcmw.PushbackHeader, "-1")}, 1, unavailable},
		{"malformed pushback stops", []error{unavailable},
			[]metadata.MD{metadata.Pairs(grpcmw.PushbackHeader, "soon")}, 1, unavailable},
		{"gives up after max attempts", []error{unavailable, unavailable, unavailable}, nil, 3, unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t, core.Policy{Name: "never-trip", Match: []string{"/*/*"},
				Breaker: &core.BreakerPolicy{Mode: "metrics-only"}})
			icpt := grpcmw.UnaryClientInterceptor(reg, grpcmw.WithRetrier(r))
			f := &fakeInvoker{errs: tc.errs, trailer: tc.trailer}
			err := icpt(context.Background(), mEmpty, nil, nil, nil, f.invoke)
			if f.calls != tc.wantCalls || err != tc.wantErr {
				t.Fatalf("%d calls, err %v; want %d, %v", f.calls, err, tc.wantCalls, tc.wantErr)
			}
		})
	}

	// The guard's own rejection is never retried.
	reg := newRegistry(t)
	reg.MustGuard(mEmpty).ForceOpen(breaker.Manual{Actor: "test"})
	f := &fakeInvoker{}
	err = grpcmw.UnaryClientInterceptor(reg, grpcmw.WithRetrier(r))(context.Background(), mEmpty, nil, nil, nil, f.invoke)
	if !errors.Is(err, core.ErrRejected) || f.calls != 0 {
		t.Fatalf("rejected: %v after %d calls", err, f.calls)
	}
	if grpcmw.Retryable(nil) || grpcmw.Retryable(err) || !grpcmw.Retryable(unavailable) {
		t.Fatal("Retryable")
	}
}

func TestClientRetryUsesRetryInfoWithoutTrailer(t *testing.T) {
	const maxDelay = 20 * time.Millisecond
	var delays []time.Duration
	r, err := retry.New(retry.Config{MaxAttempts: 2, InitialDelay: time.Millisecond, MaxDelay: maxDelay,
		Jitter: retry.NoJitter, RetryOn: grpcmw.Retryable,
		OnRetry: func(_ context.Context, a retry.Attempt) { delays = append(delays, a.Delay) }})
	if err != nil {
		t.Fatal(err)
	}
	// A client rejection carries RetryInfo: use its status, as another
	// breakerbox client in a proxy would pass it on, without a trailer.
	other := newRegistry(t)
	other.MustGuard(mEmpty).OpenFor(10*time.Second, breaker.Manual{})
	rejected := grpcmw.UnaryClientInterceptor(other)(context.Background(), mEmpty, nil, nil, nil, (&fakeInvoker{}).invoke)
	withInfo := status.ErrorProto(status.Convert(rejected).Proto())

	reg := newRegistry(t)
	f := &fakeInvoker{errs: []error{withInfo}}
	if err := grpcmw.UnaryClientInterceptor(reg, grpcmw.WithRetrier(r))(context.Background(), mEmpty, nil, nil, nil, f.invoke); err != nil {
		t.Fatal(err)
	}
	// The 10s hint raised the 1ms backoff to the cap.
	if len(delays) != 1 || delays[0] != maxDelay {
		t.Fatalf("delays %v, want [%v]", delays, maxDelay)
	}
}
