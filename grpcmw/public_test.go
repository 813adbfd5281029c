package grpcmw_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/grpcmw"
)

const publicMessage = "call rejected; retry later"

// By default a server's rejection names the guard, which with MetadataKey
// names the tenant; WithPublicErrors sends a generic message instead, with
// the same code, RetryInfo and pushback trailer, while the server's outer
// interceptors still see the guard's error.
func TestServerRejectionNamesGuardUnlessPublicErrors(t *testing.T) {
	for _, public := range []bool{false, true} {
		t.Run(fmt.Sprintf("public=%v", public), func(t *testing.T) {
			reg := newRegistry(t)
			guard := mEmpty + "@acme"
			reg.MustGuard(guard).OpenFor(time.Hour, breaker.Manual{Actor: "test"})
			reg.MustGuard(mFullDuplex+"@acme").OpenFor(time.Hour, breaker.Manual{Actor: "test"})
			opts := []grpcmw.Option{grpcmw.WithKey(grpcmw.MetadataKey("x-tenant", nil))}
			if public {
				opts = append(opts, grpcmw.WithPublicErrors())
			}
			addr, rec := guardedServer(t, &testServer{}, reg, opts...)
			client := testpb.NewTestServiceClient(dial(t, addr))
			ctx := metadata.AppendToOutgoingContext(context.Background(), "x-tenant", "acme")

			var trailer metadata.MD
			_, err := client.EmptyCall(ctx, &testpb.Empty{}, grpc.Trailer(&trailer))
			checkRejection(t, "unary", err, codes.Unavailable, public, guard)
			if d := pushbackOf(t, trailer); d <= 0 {
				t.Errorf("unary: pushback %v", d)
			}
			if inner := rec.last(); !isRejected(inner) || !strings.Contains(inner.Error(), guard) {
				t.Errorf("outer interceptor saw %v, want the guard's rejection", inner)
			}

			st, err := client.FullDuplexCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, err = st.Recv()
			checkRejection(t, "stream", err, codes.Unavailable, public, mFullDuplex+"@acme")
			if d := pushbackOf(t, st.Trailer()); d <= 0 {
				t.Errorf("stream: pushback %v", d)
			}
		})
	}
}

func checkRejection(t *testing.T, what string, err error, code codes.Code, public bool, guard string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: %v, want %v", what, err, code)
	}
	msg := status.Convert(err).Message()
	if public && msg != publicMessage {
		t.Errorf("%s: public message %q, want %q", what, msg, publicMessage)
	}
	if !public && !strings.Contains(msg, guard) {
		t.Errorf("%s: message %q does not name the guard %q", what, msg, guard)
	}
	if retryInfo(t, status.Convert(err)) <= 0 {
		t.Errorf("%s: no RetryInfo in %v", what, status.Convert(err).Details())
	}
}

// upstreamCall stands for a handler that calls a dependency through a guard
// named after its address, which is open, and returns the rejection
// wrapped, as handlers do.
func upstreamCall(upstream *core.Registry) error {
	p, err := upstream.MustGuard("10.0.0.5:8443").Allow(context.Background())
	if err != nil {
		return fmt.Errorf("charge: %w", err)
	}
	p.Done(nil)
	return nil
}

// A handler's error that is a rejection by a guard it called through names
// that guard, often an upstream's address; WithPublicErrors answers it with
// Unavailable, a generic message and the rejection's retry-after, for
// guarded and unguarded methods, unary and streams.
func TestPublicErrorsHideUpstreamRejection(t *testing.T) {
	upstream := newRegistry(t)
	upstream.MustGuard("10.0.0.5:8443").OpenFor(time.Hour, breaker.Manual{Actor: "test"})
	handlerUnary := func(context.Context, any, *grpc.UnaryServerInfo, grpc.UnaryHandler) (any, error) {
		return nil, upstreamCall(upstream)
	}
	handlerStream := func(any, grpc.ServerStream, *grpc.StreamServerInfo, grpc.StreamHandler) error {
		return upstreamCall(upstream)
	}
	for _, tc := range []struct {
		name   string
		opts   []grpcmw.Option
		public bool
	}{
		{"default", nil, false},
		{"public", []grpcmw.Option{grpcmw.WithPublicErrors()}, true},
		{"public, unguarded method", []grpcmw.Option{grpcmw.WithPublicErrors(), grpcmw.WithMatcher(grpcmw.MatchServices("other.Svc"))}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t)
			opts := append(tc.opts, grpcmw.WithLogger(nil))
			addr := serve(t, &testServer{}, nil,
				grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg, opts...), handlerUnary),
				grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg, opts...), handlerStream))
			client := testpb.NewTestServiceClient(dial(t, addr))
			ctx := context.Background()

			var trailer metadata.MD
			_, uerr := client.EmptyCall(ctx, &testpb.Empty{}, grpc.Trailer(&trailer))
			st, err := client.FullDuplexCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			_, serr := st.Recv()
			for what, err := range map[string]error{"unary": uerr, "stream": serr} {
				msg := status.Convert(err).Message()
				if !tc.public {
					if !strings.Contains(msg, "10.0.0.5:8443") {
						t.Errorf("%s: message %q; the test expects the default to name the upstream", what, msg)
					}
					continue
				}
				if status.Code(err) != codes.Unavailable || msg != publicMessage || retryInfo(t, status.Convert(err)) <= 0 {
					t.Errorf("%s: %v with details %v, want Unavailable %q with RetryInfo", what, err, status.Convert(err).Details(), publicMessage)
				}
			}
			if tc.public {
				if d := pushbackOf(t, trailer); d <= 0 {
					t.Errorf("unary: pushback %v", d)
				}
				if d := pushbackOf(t, st.Trailer()); d <= 0 {
					t.Errorf("stream: pushback %v", d)
				}
			}
		})
	}
}

// A configuration error (an unknown policy) names the policy, unless
// WithPublicErrors; the client's interceptors ignore the option.
func TestPublicErrorsHideConfigurationErrors(t *testing.T) {
	ctx := context.Background()
	reg := newRegistry(t)
	us := grpcmw.UnaryServerInterceptor(reg, grpcmw.WithPolicy("missing"), grpcmw.WithPublicErrors())
	_, err := us(ctx, nil, unaryInfo, okHandler)
	if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "internal error" {
		t.Errorf("server: %v, want Internal \"internal error\"", err)
	}
	if !strings.Contains(err.Error(), "missing") {
		t.Errorf("server: outer interceptors see %q, want the configuration error", err)
	}

	reg.MustGuard(mUnary).ForceOpen(breaker.Manual{Actor: "test"})
	uc := grpcmw.UnaryClientInterceptor(reg, grpcmw.WithPublicErrors())
	err = uc(ctx, mUnary, nil, nil, nil, okInvoker)
	if !errors.Is(err, breaker.ErrOpen) || !strings.Contains(status.Convert(err).Message(), mUnary) {
		t.Errorf("client: %v, want the guard's own rejection", err)
	}
}
