package grpcmw_test

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/grpcmw"
)

// metaLog is a selector that records the CallMeta of every call it sees and
// selects the calls whose method is not skip.
type metaLog struct {
	skip string
	mu   sync.Mutex
	seen []string
}

func (l *metaLog) Match(_ context.Context, cm interceptors.CallMeta) bool {
	side := "server"
	if cm.IsClient {
		side = "client"
	}
	l.mu.Lock()
	l.seen = append(l.seen, side+" "+string(cm.Typ)+" "+cm.FullMethod())
	l.mu.Unlock()
	return cm.Method != l.skip
}

func (l *metaLog) calls() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.seen)
	slices.Sort(out)
	return out
}

// guardNames lists the guards of reg.
func guardNames(reg *core.Registry) []string {
	var names []string
	for _, s := range reg.Snapshot() {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// A go-grpc-middleware selector chooses the calls that the four
// interceptors guard, and sees each call's side and type.
func TestSelectorChoosesGuardedCallsInEveryInterceptor(t *testing.T) {
	srvReg, cliReg := newRegistry(t), newRegistry(t)
	srvSel, cliSel := &metaLog{skip: "EmptyCall"}, &metaLog{skip: "EmptyCall"}
	ts := &testServer{}
	srvOpts := []grpcmw.Option{grpcmw.WithSelector(srvSel), grpcmw.WithLogger(nil)}
	addr := serve(t, ts, nil,
		grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(srvReg, srvOpts...)),
		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(srvReg, srvOpts...)))
	cliOpts := []grpcmw.Option{grpcmw.WithSelector(cliSel), grpcmw.WithLogger(nil)}
	cc := dial(t, addr,
		grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(cliReg, cliOpts...)),
		grpc.WithChainStreamInterceptor(grpcmw.StreamClientInterceptor(cliReg, cliOpts...)))
	client := testpb.NewTestServiceClient(cc)
	ctx := context.Background()

	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	st, err := client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != io.EOF {
		t.Fatalf("duplex stream ended with %v", err)
	}

	want := []string{mFullDuplex, mUnary}
	if got := guardNames(cliReg); !slices.Equal(got, want) {
		t.Errorf("client guards %v, want %v", got, want)
	}
	eventually(t, "the server's stream to end", func() bool { return ts.active.Load() == 0 })
	if got := guardNames(srvReg); !slices.Equal(got, want) {
		t.Errorf("server guards %v, want %v", got, want)
	}
	if got, want := cliSel.calls(), []string{
		"client bidi_stream " + mFullDuplex, "client unary " + mEmpty, "client unary " + mUnary,
	}; !slices.Equal(got, want) {
		t.Errorf("client selector saw %q, want %q", got, want)
	}
	if got, want := srvSel.calls(), []string{
		"server bidi_stream " + mFullDuplex, "server unary " + mEmpty, "server unary " + mUnary,
	}; !slices.Equal(got, want) {
		t.Errorf("server selector saw %q, want %q", got, want)
	}
}

// The selector narrows the Matcher's choice: the health service stays
// unguarded with a selector that selects it, unless WithMatcher(nil) too.
func TestSelectorComposesWithMatcher(t *testing.T) {
	all := selector.MatchFunc(func(context.Context, interceptors.CallMeta) bool { return true })
	for _, tc := range []struct {
		name        string
		opts        []grpcmw.Option
		healthGuard bool
	}{
		{"selector alone", []grpcmw.Option{grpcmw.WithSelector(all)}, false},
		{"selector and WithMatcher(nil)", []grpcmw.Option{grpcmw.WithSelector(all), grpcmw.WithMatcher(nil)}, true},
		{"WithMatcher(nil) and a nil selector", []grpcmw.Option{grpcmw.WithSelector(all), grpcmw.WithSelector(nil), grpcmw.WithMatcher(nil)}, true},
		{"selector and a Matcher", []grpcmw.Option{grpcmw.WithSelector(all), grpcmw.WithMatcher(grpcmw.MatchServices("other.Svc"))}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t)
			opts := append(tc.opts, grpcmw.WithLogger(nil))
			addr := serve(t, &testServer{}, health.NewServer(),
				grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg, opts...)))
			hc := healthpb.NewHealthClient(dial(t, addr))
			if _, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatal(err)
			}
			_, guarded := reg.Lookup("/" + grpcmw.HealthService + "/Check")
			if guarded != tc.healthGuard {
				t.Fatalf("health check guarded: %v, want %v", guarded, tc.healthGuard)
			}
		})
	}
}

// A selector that sees the request (a unary call's) can keep some requests
// out of the guard.
func TestSelectorSeesUnaryRequest(t *testing.T) {
	reg := newRegistry(t)
	reg.MustGuard(mUnary).ForceOpen(breaker.Manual{Actor: "test"})
	// Requests asking for a compressed response bypass the guard.
	bypass := selector.MatchFunc(func(_ context.Context, cm interceptors.CallMeta) bool {
		r, ok := cm.ReqOrNil.(*testpb.SimpleRequest)
		return !ok || !r.GetResponseCompressed().GetValue()
	})
	addr := serve(t, &testServer{}, nil)
	client := testpb.NewTestServiceClient(dial(t, addr,
		grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg, grpcmw.WithSelector(bypass)))))
	ctx := context.Background()
	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); !isRejected(err) {
		t.Fatalf("selected call: got %v, want a rejection", err)
	}
	req := &testpb.SimpleRequest{ResponseCompressed: &testpb.BoolValue{Value: true}}
	if _, err := client.UnaryCall(ctx, req); err != nil {
		t.Fatalf("call left out by the selector: %v", err)
	}
}

// This package's Matchers are go-grpc-middleware selector.Matchers, for
// other middleware wrapped in selector's interceptors.
func TestMatcherIsASelectorMatcher(t *testing.T) {
	var m selector.Matcher = grpcmw.MatchServices(svcName)
	ctx := context.Background()
	if !m.Match(ctx, interceptors.NewServerCallMeta(mEmpty, nil, nil)) {
		t.Error("MatchServices does not select its service's method")
	}
	if m.Match(ctx, interceptors.NewServerCallMeta("/other.Svc/Get", nil, nil)) {
		t.Error("MatchServices selects another service's method")
	}
	if !grpcmw.Matcher(nil).Match(ctx, interceptors.NewClientCallMeta(mEmpty, nil, nil)) {
		t.Error("a nil Matcher does not select every call")
	}

	// A deny-all interceptor, applied only to what the Matcher selects.
	deny := func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
		return nil, status.Error(codes.PermissionDenied, "denied")
	}
	addr := serve(t, &testServer{}, nil, grpc.ChainUnaryInterceptor(
		selector.UnaryServerInterceptor(deny, grpcmw.MatchMethods(mUnary))))
	client := testpb.NewTestServiceClient(dial(t, addr))
	if _, err := client.EmptyCall(context.Background(), &testpb.Empty{}); err != nil {
		t.Errorf("EmptyCall: %v", err)
	}
	if _, err := client.UnaryCall(context.Background(), &testpb.SimpleRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("UnaryCall: %v, want PermissionDenied", err)
	}
}

// The interceptors wrapped in selector's from outside guard only what the
// selector selects, as WithSelector does.
func TestInterceptorsComposeWithSelectorFromOutside(t *testing.T) {
	reg := newRegistry(t)
	onlyUnary := selector.MatchFunc(func(_ context.Context, cm interceptors.CallMeta) bool {
		return strings.HasSuffix(cm.Method, "UnaryCall")
	})
	addr := serve(t, &testServer{}, nil, grpc.ChainUnaryInterceptor(
		selector.UnaryServerInterceptor(grpcmw.UnaryServerInterceptor(reg, grpcmw.WithLogger(nil)), onlyUnary)))
	client := testpb.NewTestServiceClient(dial(t, addr))
	ctx := context.Background()
	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := guardNames(reg); !slices.Equal(got, []string{mUnary}) {
		t.Fatalf("guards %v, want only %s", got, mUnary)
	}
}
