package grpcmw_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/retry"
	"github.com/breakerbox/breakerbox/grpcmw"
)

// A client whose breaker is open fails fast with Unavailable, without
// touching the network: nothing listens at the target here.
func Example() {
	reg, _ := core.NewRegistry()
	reg.MustGuard("/payments.Payments/Charge").ForceOpen(breaker.Manual{Actor: "oncall", Reason: "maintenance"})

	conn, err := grpc.NewClient("passthrough:///127.0.0.1:1",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg)),
		grpc.WithChainStreamInterceptor(grpcmw.StreamClientInterceptor(reg)))
	if err != nil {
		panic(err)
	}
	defer conn.Close()

	err = conn.Invoke(context.Background(), "/payments.Payments/Charge", &emptypb.Empty{}, &emptypb.Empty{})
	fmt.Println(status.Code(err))
	fmt.Println(status.Convert(err).Message())
	fmt.Println(errors.Is(err, core.ErrRejected), errors.Is(err, breaker.ErrOpen))
	// Output:
	// Unavailable
	// breakerbox: guard "/payments.Payments/Charge" rejected the call: breaker: open
	// true true
}

// A server sheds calls beyond its rate limit with ResourceExhausted and
// tells clients when to come back in the grpc-retry-pushback-ms trailer.
func ExampleUnaryServerInterceptor() {
	reg, _ := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:      "inbound",
		Match:     []string{"/grpc.testing.TestService/*"},
		RateLimit: &core.RateLimitPolicy{Limit: 1, Per: core.Duration(time.Hour)},
	}))
	opts := []grpcmw.Option{grpcmw.WithKey(grpcmw.MethodKey)}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg, opts...)),
		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg, opts...)))
	testpb.RegisterTestServiceServer(srv, &testServer{}) // grpc-go's test service
	lis, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, _ := grpc.NewClient("passthrough:///"+lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer conn.Close()
	client := testpb.NewTestServiceClient(conn)

	for i := 0; i < 2; i++ {
		var trailer metadata.MD
		_, err := client.EmptyCall(context.Background(), &testpb.Empty{}, grpc.Trailer(&trailer))
		fmt.Println(status.Code(err), len(trailer.Get(grpcmw.PushbackHeader)) == 1)
	}
	// Output:
	// OK false
	// ResourceExhausted true
}

// Services go NOT_SERVING in the standard health service while a critical
// guard of theirs is open.
func ExampleNewHealth() {
	reg, _ := core.NewRegistry(core.WithPolicies(core.Policy{
		Name: "payments", Match: []string{"/payments.Payments/*"}, Critical: true,
	}))
	hs := health.NewServer() // register it with healthpb.RegisterHealthServer
	h := grpcmw.NewHealth(reg, hs, grpcmw.HealthServices("payments.Payments"))

	check := func() {
		resp, _ := hs.Check(context.Background(), &healthpb.HealthCheckRequest{Service: "payments.Payments"})
		fmt.Println(resp.GetStatus(), h.Down("payments.Payments"))
	}
	check()
	g := reg.MustGuard("/payments.Payments/Charge")
	g.ForceOpen(breaker.Manual{Actor: "oncall"})
	check()
	g.Release(breaker.Manual{Actor: "oncall"})
	check()
	// Output:
	// SERVING []
	// NOT_SERVING [/payments.Payments/Charge]
	// SERVING []
}

// Per-tenant guards on a server: the tenant comes from request metadata.
func ExampleMetadataKey() {
	key := grpcmw.MetadataKey("x-tenant", grpcmw.ServiceKey)
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-tenant", "acme"))
	fmt.Println(key(ctx, "/payments.Payments/Charge"))
	fmt.Println(key(context.Background(), "/payments.Payments/Charge"))
	// Output:
	// payments.Payments@acme
	// payments.Payments
}

// Guard only the calls to two services, and leave every other call alone.
func ExampleMatchServices() {
	reg, _ := core.NewRegistry()
	match := grpcmw.WithMatcher(grpcmw.MatchServices("payments.Payments", "ledger.Ledger"))
	_ = grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg, match))

	m := grpcmw.MatchServices("payments.Payments")
	fmt.Println(m(context.Background(), "/payments.Payments/Charge"), m(context.Background(), "/orders.Orders/Get"))
	// Output: true false
}

// Retry Unavailable calls and overloaded servers, waiting at least their
// pushback.
func ExampleWithRetrier() {
	r, err := retry.New(retry.Config{
		MaxAttempts: 3,
		MaxDelay:    2 * time.Second, // also caps a server's pushback
		RetryOn:     grpcmw.Retryable,
	})
	if err != nil {
		panic(err)
	}
	reg, _ := core.NewRegistry()
	_ = grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg, grpcmw.WithRetrier(r)))

	fmt.Println(grpcmw.Retryable(status.Error(codes.Unavailable, "connection refused")))
	fmt.Println(grpcmw.Retryable(status.Error(codes.InvalidArgument, "bad amount")))
	// Output:
	// true
	// false
}

func ExampleDefaultClassifier() {
	for _, c := range []codes.Code{codes.OK, codes.Unavailable, codes.NotFound, codes.Canceled} {
		fmt.Println(c, grpcmw.DefaultClassifier(c))
	}
	// Output:
	// OK success
	// Unavailable failure
	// NotFound success
	// Canceled ignore
}
