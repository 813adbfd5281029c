package grpcmw_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
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
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	reg.MustGuard("/payments.Payments/Charge").ForceOpen(breaker.Manual{Actor: "oncall", Reason: "maintenance"})

	conn, err := grpc.NewClient("passthrough:///127.0.0.1:1",
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg)),
		grpc.WithChainStreamInterceptor(grpcmw.StreamClientInterceptor(reg)))
	if err != nil {
		log.Fatal(err)
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

// A server guards its methods with one option list for both interceptors,
// checks its policies when it starts, and sheds calls beyond its rate limit
// with ResourceExhausted, a message that names no guard, and the
// grpc-retry-pushback-ms trailer telling clients when to come back.
func Example_server() {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:      "inbound",
		Match:     []string{"/grpc.testing.TestService/*"}, // guards are named after methods
		Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 64},
		RateLimit: &core.RateLimitPolicy{Limit: 1, Per: core.Duration(time.Hour)},
	}))
	if err != nil {
		log.Fatal(err)
	}

	opts := []grpcmw.Option{grpcmw.WithPublicErrors()}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg, opts...)),
		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg, opts...)))
	testpb.RegisterTestServiceServer(srv, &testServer{})
	if err := grpcmw.Validate(reg, srv, opts...); err != nil {
		log.Fatal(err)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() {
		if err := srv.Serve(lis); err != nil {
			log.Print(err)
		}
	}()
	defer srv.Stop()

	// A plain client, on loopback.
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := testpb.NewTestServiceClient(conn)
	for range 2 {
		var trailer metadata.MD
		_, err := client.EmptyCall(context.Background(), &testpb.Empty{}, grpc.Trailer(&trailer))
		fmt.Printf("%v %q pushback: %v\n", status.Code(err), status.Convert(err).Message(),
			len(trailer.Get(grpcmw.PushbackHeader)) == 1)
	}
	// Output:
	// OK "" pushback: false
	// ResourceExhausted "call rejected; retry later" pushback: true
}

// startTestServer serves grpc-go's test service, unguarded, on a loopback
// port, and returns its address and a function that stops it.
func startTestServer() (addr string, stop func()) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, &testServer{})
	go func() {
		if err := srv.Serve(lis); err != nil {
			log.Print(err)
		}
	}()
	return lis.Addr().String(), srv.Stop
}

// A client guards its calls with one guard per service, and checks at
// start-up that the services it calls have a policy.
func Example_client() {
	target, stop := startTestServer()
	defer stop()

	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:    "testing",
		Match:   []string{"grpc.testing.*"}, // guards are named after services
		Breaker: &core.BreakerPolicy{WindowSize: 20, MinCalls: 10, FailureRate: 50},
	}))
	if err != nil {
		log.Fatal(err)
	}

	opts := []grpcmw.Option{grpcmw.WithKey(grpcmw.ServiceKey)}
	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()), // plaintext: use TLS credentials across a network
		grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg, opts...)),
		grpc.WithChainStreamInterceptor(grpcmw.StreamClientInterceptor(reg, opts...)))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	if err := grpcmw.Validate(reg, grpcmw.Services(&testpb.TestService_ServiceDesc), opts...); err != nil {
		log.Fatal(err)
	}

	client := testpb.NewTestServiceClient(conn)
	_, err = client.EmptyCall(context.Background(), &testpb.Empty{})
	g, _ := reg.Lookup("grpc.testing.TestService")
	fmt.Println(status.Code(err), g.Name(), g.Policy().Name, g.Snapshot().Breaker.Succeeded)
	// Output: OK grpc.testing.TestService testing 1
}

// Services go NOT_SERVING in the standard health service while a critical
// guard of theirs is open.
func ExampleNewHealth() {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name: "payments", Match: []string{"/payments.Payments/*"}, Critical: true,
	}))
	if err != nil {
		log.Fatal(err)
	}
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
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
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
		log.Fatal(err)
	}
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
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

// Guard unary calls only: a go-grpc-middleware selector sees each call's
// type, and, for a unary call, its request.
func ExampleWithSelector() {
	target, stop := startTestServer()
	defer stop()
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "testing", Match: []string{"/grpc.testing.TestService/*"}}))
	if err != nil {
		log.Fatal(err)
	}

	sel := selector.MatchFunc(func(_ context.Context, call interceptors.CallMeta) bool {
		return call.Typ == interceptors.Unary // leave streams unguarded
	})
	opts := []grpcmw.Option{grpcmw.WithSelector(sel)}

	conn, err := grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg, opts...)),
		grpc.WithChainStreamInterceptor(grpcmw.StreamClientInterceptor(reg, opts...)))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	client := testpb.NewTestServiceClient(conn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := client.EmptyCall(ctx, &testpb.Empty{}); err != nil {
		log.Fatal(err)
	}
	if _, err := client.FullDuplexCall(ctx); err != nil {
		log.Fatal(err)
	}
	for _, s := range reg.Snapshot() {
		fmt.Println(s.Name)
	}
	// Output: /grpc.testing.TestService/EmptyCall
}

// This package's Matchers select calls for other middleware too, through
// go-grpc-middleware's selector interceptors.
func ExampleMatcher_Match() {
	authInterceptor := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if len(metadata.ValueFromIncomingContext(ctx, "authorization")) == 0 {
			return nil, status.Error(codes.Unauthenticated, "no credentials")
		}
		return handler(ctx, req)
	}
	auth := selector.UnaryServerInterceptor(authInterceptor, grpcmw.MatchServices("payments.Payments"))
	_ = grpc.NewServer(grpc.ChainUnaryInterceptor(auth))

	m := grpcmw.MatchServices("payments.Payments")
	fmt.Println(m.Match(context.Background(), interceptors.NewServerCallMeta("/payments.Payments/Charge", nil, nil)))
	fmt.Println(m.Match(context.Background(), interceptors.NewServerCallMeta("/grpc.health.v1.Health/Check", nil, nil)))
	// Output:
	// true
	// false
}

// Validate reports, at start-up, the methods whose guard would fall to the
// registry's default policy and the Match patterns that match none of the
// server's methods: here a misspelt method name.
func ExampleValidate() {
	reg, err := core.NewRegistry(core.WithPolicies(
		core.Policy{Name: "reads", Match: []string{"/grpc.testing.TestService/*Unary*", "/grpc.testing.TestService/EmptyCal"}},
		core.Policy{Name: "streams", Match: []string{"/grpc.testing.TestService/*Duplex*", "/grpc.testing.TestService/Streaming*"}},
		core.Policy{Name: "unimplemented", Match: []string{"/grpc.testing.TestService/UnimplementedCall"}},
	))
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer()
	testpb.RegisterTestServiceServer(srv, &testServer{})
	err = grpcmw.Validate(reg, srv)
	fmt.Println(err)
	// Output:
	// grpcmw: method /grpc.testing.TestService/EmptyCall: guard "/grpc.testing.TestService/EmptyCall" has the registry's default policy "default": no policy is named after it or matches it (add a policy whose Match pattern selects it, or use WithPolicy)
	// grpcmw: policy "reads": Match pattern "/grpc.testing.TestService/EmptyCal" matches no guarded method of its services
}

// WithPolicy gives every guard the interceptors create one policy, whatever
// its name: no Match pattern needed.
func ExampleWithPolicy() {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:     "inbound",
		Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 64},
	}))
	if err != nil {
		log.Fatal(err)
	}
	opts := []grpcmw.Option{grpcmw.WithPolicy("inbound")}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg, opts...)),
		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg, opts...)))
	testpb.RegisterTestServiceServer(srv, &testServer{})
	if err := grpcmw.Validate(reg, srv, opts...); err != nil {
		log.Fatal(err)
	}
	g, _ := reg.Lookup("/grpc.testing.TestService/UnaryCall")
	fmt.Println(g.Name(), g.Policy().Name)
	// Output: /grpc.testing.TestService/UnaryCall inbound
}
