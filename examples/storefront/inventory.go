package main

import (
	"context"
	"errors"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/grpcmw"

	"github.com/breakerbox/breakerbox/examples/storefront/inventorypb"
)

// inventoryService is the gRPC inventory service; it is also the inventory
// fake, misbehaving as its fault says.
type inventoryService struct {
	inventorypb.UnimplementedInventoryServer
	faults *Faults
}

// GetStock returns a product's stock.
func (s *inventoryService) GetStock(ctx context.Context, req *inventorypb.GetStockRequest) (*inventorypb.Stock, error) {
	if err := s.faults.Inject(ctx, fakeInventory); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, status.FromContextError(err).Err()
		}
		return nil, status.Error(codes.Unavailable, "inventory: "+err.Error())
	}
	n, ok := initialStock[req.GetProductId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no product %q", req.GetProductId())
	}
	return &inventorypb.Stock{ProductId: req.GetProductId(), Available: n}, nil
}

// newInventoryServer returns the gRPC server of the inventory service,
// behind grpcmw's server interceptors (one guard per method, with the
// "inbound" policy), with the standard health service wired to the
// registry's critical guards, and server reflection (for grpcurl).
func newInventoryServer(reg *core.Registry, faults *Faults, tp trace.TracerProvider) (*grpc.Server, *health.Server) {
	service := inventorypb.Inventory_ServiceDesc.ServiceName
	opts := []grpcmw.Option{
		grpcmw.WithMatcher(grpcmw.MatchServices(service)),
		grpcmw.WithGuardOptions(core.UsePolicy("inbound"), core.WithTags("grpc")),
	}
	srv := grpc.NewServer(
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp))),
		grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(reg, opts...)),
		grpc.ChainStreamInterceptor(grpcmw.StreamServerInterceptor(reg, opts...)),
	)
	inventorypb.RegisterInventoryServer(srv, &inventoryService{faults: faults})
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	grpcmw.NewHealth(reg, hs, grpcmw.HealthServices(service)).SetReady(true)
	reflection.Register(srv)
	return srv, hs
}
