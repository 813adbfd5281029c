// Package grpcmw puts breakerbox guards in front of gRPC calls: client and
// server interceptors, unary and stream, and a bridge from guards to the
// standard grpc.health.v1 health service.
//
// # Interceptors
//
// UnaryClientInterceptor, StreamClientInterceptor, UnaryServerInterceptor and
// StreamServerInterceptor take a *core.Registry and the same options, so one
// option list configures all four. A server (from the package's server
// example, which runs grpc-go's test service on a loopback port):
//
//	opts := []grpcmw.Option{grpcmw.WithPublicErrors()}
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg, opts...)),
//		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg, opts...)))
//	testpb.RegisterTestServiceServer(srv, &testServer{})
//	if err := grpcmw.Validate(reg, srv, opts...); err != nil {
//		log.Fatal(err)
//	}
//
// A client (from the client example):
//
//	opts := []grpcmw.Option{grpcmw.WithKey(grpcmw.ServiceKey)}
//	conn, err := grpc.NewClient(target,
//		grpc.WithTransportCredentials(insecure.NewCredentials()), // plaintext: use TLS credentials across a network
//		grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg, opts...)),
//		grpc.WithChainStreamInterceptor(grpcmw.StreamClientInterceptor(reg, opts...)))
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer conn.Close()
//
// grpc.NewClient refuses a client without transport credentials: give it
// TLS credentials (google.golang.org/grpc/credentials) across a network, and
// insecure.NewCredentials() only on loopback or inside a trusted mesh.
//
// Client and server interceptors that share a registry share the guards of
// equal names: a process that serves the methods it also calls (a proxy)
// gives each side its own registry or its own KeyFunc. A nil registry
// guards nothing.
//
// # Guards and policies
//
// Each call is guarded by the registry's guard named by a KeyFunc: one per
// full method name by default (MethodKey, "/pkg.Service/Method", such as
// "/payments.Payments/Charge"), one per service (ServiceKey, "pkg.Service"),
// or any function of the call, such as MetadataKey for one guard per tenant
// ("/payments.Payments/Charge@acme").
//
// A guard gets, when a call first creates it, the registry's policy named
// after it or whose Match pattern matches its name (core.Policy.Match:
// "/payments.Payments/*" for every method of a service, "/payments.*/*" for
// a package), or the one WithPolicy names for every guard the interceptors
// create. A guard no policy selects gets the registry's default policy:
// the interceptors log it once (WithLogger, slog.Default() by default), and
// Validate, run when the process starts, reports every such method and
// every Match pattern aimed at the services that matches none of their
// methods.
//
// # Selecting calls
//
// Which calls are guarded is decided once, for the four interceptors, by a
// Matcher (WithMatcher, MatchServices, MatchMethods, Not), by default every
// method but the health service's, and optionally by a go-grpc-middleware
// selector.Matcher (WithSelector), which also sees the call's type and, for
// a unary call, its request; a call is guarded when both select it:
//
//	sel := selector.MatchFunc(func(_ context.Context, call interceptors.CallMeta) bool {
//		return call.Typ == interceptors.Unary // leave streams unguarded
//	})
//	opts := []grpcmw.Option{grpcmw.WithSelector(sel)}
//
// The Matchers of this package are selector.Matchers too, for other
// middleware wrapped in go-grpc-middleware's selector interceptors.
//
// # Outcomes
//
// A call's final status code decides what it means for the breaker
// (DefaultClassifier, replaceable with WithClassifier): Unavailable,
// DeadlineExceeded, ResourceExhausted, Internal, Unknown and DataLoss are
// failures; Canceled (the caller gave up) is ignored; every other code is a
// success, because the dependency answered. A panicking handler or invoker
// counts as a failure and the panic goes on.
//
// # Rejections
//
// On the client, a rejected call never reaches the network. It fails with
// codes.Unavailable, a message naming the guard and a RetryInfo error detail
// with the retry-after when known, and the error matches core.ErrRejected
// (and breaker.ErrOpen or bulkhead.ErrFull) with errors.Is, while
// status.Code and status.FromError see the gRPC status.
//
// On the server, a rejected call is answered without running the handler:
// codes.ResourceExhausted for shedding (a full bulkhead) and rate limits,
// codes.Unavailable while the method's breaker is open, with a RetryInfo
// detail and the grpc-retry-pushback-ms trailer that gRPC clients honour
// when they retry. The status message names the guard, unless
// WithPublicErrors, which also keeps the names of the guards a handler
// called through (often upstream addresses) out of what clients see.
// WithRetrier makes this package's unary client interceptor retry, waiting
// at least the server's pushback.
//
// # Streams
//
// A stream is admitted when it starts and its final status decides its
// outcome, so a long stream holds its bulkhead slot for its whole life. The
// slot is released on every exit path: end of stream, error, panic, and a
// client that abandons the stream by cancelling its context.
//
// # Health
//
// NewHealth wires a registry to grpc-go's health.Server: a service is
// NOT_SERVING while any critical guard (core.Policy.Critical) mapped to it is
// open, and SERVING again once they close; the overall service "" follows
// the process's readiness (Health.SetReady), never a single breaker.
//
// # Cost
//
// With a guard that exists, the admitted path of the unary interceptors and
// of the server stream interceptor allocates nothing and takes no lock; the
// client stream interceptor allocates its stream wrapper and an
// AfterFunc registration. A selector adds what its Match costs. The
// interceptors add a fraction of a microsecond to a call that costs tens of
// microseconds on loopback (see the package's benchmarks).
package grpcmw
