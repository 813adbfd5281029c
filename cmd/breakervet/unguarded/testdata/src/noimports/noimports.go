package noimports

import "google.golang.org/grpc"

// No registry in scope: the gRPC call gets no fix (an interceptor without a
// registry guards nothing); the file has no golden, so any fix would fail
// the test.
func dial() {
	grpc.NewClient("x") // want `grpc.NewClient creates a client`
}
