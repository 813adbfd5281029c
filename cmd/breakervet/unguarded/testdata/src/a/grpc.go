package a

import (
	"context"

	"google.golang.org/grpc"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/grpcmw"
)

func dials(ctx context.Context, reg *core.Registry, opts []grpc.DialOption) {
	grpc.NewClient("x")              // want `grpc.NewClient creates a client without breakerbox's interceptors`
	grpc.Dial("x", grpc.WithBlock()) // want `grpc.Dial creates a client`
	grpc.DialContext(ctx, "x",       // want `grpc.DialContext creates a client`
		grpc.WithBlock(),
	)
	grpc.NewClient("x", grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg)))
	grpc.NewClient("x", grpc.WithChainStreamInterceptor(grpcmw.StreamClientInterceptor(reg)))
	grpc.NewClient("x", opts...) // a parameter: not reported
}

func localOptions(reg *core.Registry) {
	opts := []grpc.DialOption{grpc.WithBlock()}
	grpc.NewClient("x", opts...) // want `grpc.NewClient creates a client`
}

func localGuardedOptions(reg *core.Registry) {
	opts := []grpc.DialOption{grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg))}
	grpc.NewClient("x", opts...)
}
