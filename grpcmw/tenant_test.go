package grpcmw_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/grpcmw"
)

// tenantRegistry has a policy for every method whose breaker trips after
// five failures in a row, and an overlay for the tenant "acme" that trips
// it after one.
func tenantRegistry(t *testing.T) *core.Registry {
	t.Helper()
	reg := newRegistry(t)
	_, err := reg.Apply(core.Document{
		Policies: []core.Policy{{Name: "all", Match: []string{"*"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5, DisableFailureRate: true}}},
		Tenants: &core.TenantPolicy{Overrides: []core.TenantOverride{{
			Tenant: "acme", Policies: []core.Policy{{Name: "all", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1}}},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func as(tenant string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), "X-Tenant", tenant)
}

func TestServerTenantFromMetadata(t *testing.T) {
	ts := &testServer{}
	ts.failing.Store(int32(codes.Unavailable))
	reg := tenantRegistry(t)
	addr, _ := guardedServer(t, ts, reg, grpcmw.WithTenant(grpcmw.TenantMetadata("x-tenant")))
	client := testpb.NewTestServiceClient(dial(t, addr))

	_, _ = client.EmptyCall(as("acme"), &testpb.Empty{})
	_, _ = client.EmptyCall(as("acme"), &testpb.Empty{}) // rejected by acme's open guard
	if n := ts.calls.Load(); n != 1 {
		t.Fatalf("%d acme calls reached the handler, want 1 (its guard trips after one failure)", n)
	}
	for range 3 {
		_, _ = client.EmptyCall(as("globex"), &testpb.Empty{})
	}
	if n := ts.calls.Load(); n != 4 {
		t.Fatalf("globex calls were rejected: %d reached the handler, want 4", n)
	}
	if g := mustGuard(t, reg, mEmpty+"{tenant=acme}"); g.Breaker().State().String() != "open" {
		t.Fatalf("acme's guard is %s", g.Breaker().State())
	}
	if g := mustGuard(t, reg, mEmpty); g.Breaker().State().String() != "closed" {
		t.Fatalf("the method's guard is %s", g.Breaker().State())
	}
}

func TestClientTenantFromMetadataAndKeyFunc(t *testing.T) {
	ts := &testServer{}
	ts.failing.Store(int32(codes.Unavailable))
	addr := serve(t, ts, nil)
	for _, tc := range []struct {
		name string
		fn   func(context.Context) string
	}{
		{"metadata", grpcmw.TenantMetadata("x-tenant")},
		{"key func", func(ctx context.Context) string {
			md, _ := metadata.FromOutgoingContext(ctx)
			if v := md.Get("x-tenant"); len(v) > 0 {
				return v[0]
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := tenantRegistry(t)
			client := testpb.NewTestServiceClient(dial(t, addr, grpc.WithUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg, grpcmw.WithTenant(tc.fn)))))
			_, _ = client.EmptyCall(as("acme"), &testpb.Empty{})
			if _, err := client.EmptyCall(as("acme"), &testpb.Empty{}); !isRejected(err) {
				t.Fatalf("second acme call: %v, want a rejection", err)
			}
			for range 3 {
				if _, err := client.EmptyCall(as("globex"), &testpb.Empty{}); isRejected(err) {
					t.Fatalf("globex call rejected: %v", err)
				}
			}
			if g := mustGuard(t, reg, mEmpty+"{tenant=acme}"); g.Breaker().State().String() != "open" {
				t.Fatalf("acme's guard is %s", g.Breaker().State())
			}
		})
	}
}

func ExampleWithTenant() {
	reg, _ := core.NewRegistry()
	// A document with tenant overlays (see core.TenantPolicy) is applied
	// with reg.Apply; calls carrying "x-tenant: acme" then go through
	// acme's own guards.
	_ = grpc.NewServer(
		grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg, grpcmw.WithTenant(grpcmw.TenantMetadata("x-tenant")))),
		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg, grpcmw.WithTenant(grpcmw.TenantMetadata("x-tenant")))),
	)
}
