// Package grpcmw is a stub of breakerbox's grpcmw for the analyzer's tests.
package grpcmw

import (
	"google.golang.org/grpc"

	"github.com/breakerbox/breakerbox/core"
)

type Option interface{ apply() }

func UnaryClientInterceptor(reg *core.Registry, opts ...Option) grpc.UnaryClientInterceptor {
	return nil
}

func StreamClientInterceptor(reg *core.Registry, opts ...Option) grpc.StreamClientInterceptor {
	return nil
}
