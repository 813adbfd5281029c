// Package grpc is a stub of google.golang.org/grpc for the analyzer's tests.
package grpc

import "context"

type ClientConn struct{}

type DialOption interface{ apply() }

type UnaryClientInterceptor func()

type StreamClientInterceptor func()

func NewClient(target string, opts ...DialOption) (*ClientConn, error) { return nil, nil }

func Dial(target string, opts ...DialOption) (*ClientConn, error) { return nil, nil }

func DialContext(ctx context.Context, target string, opts ...DialOption) (*ClientConn, error) {
	return nil, nil
}

func WithBlock() DialOption { return nil }

func WithChainUnaryInterceptor(is ...UnaryClientInterceptor) DialOption { return nil }

func WithChainStreamInterceptor(is ...StreamClientInterceptor) DialOption { return nil }
