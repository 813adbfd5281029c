// Command grpc shows grpcmw's interceptors on a gRPC client and server (the
// storefront's inventory service, on a loopback port). The server keeps
// answering Unavailable, so the client's breaker opens, and further calls
// fail at once with codes.Unavailable and an error matching
// core.ErrRejected, without reaching the server.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/grpcmw"

	pb "github.com/breakerbox/breakerbox/examples/storefront/inventorypb"
)

type inventory struct {
	pb.UnimplementedInventoryServer
	calls atomic.Int64
}

func (s *inventory) GetStock(context.Context, *pb.GetStockRequest) (*pb.Stock, error) {
	s.calls.Add(1)
	return nil, status.Error(codes.Unavailable, "database down")
}

func main() {
	// Server: every method's guard sheds calls beyond 64 at once; its breaker only
	// measures. WithPublicErrors keeps guard names out of the answers.
	srvReg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "shed",
		Breaker: &core.BreakerPolicy{Mode: "metrics-only"}, Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 64}}))
	check(err)
	srvOpts := []grpcmw.Option{grpcmw.WithPolicy("shed"), grpcmw.WithPublicErrors()}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(srvReg, srvOpts...)))
	svc := &inventory{}
	pb.RegisterInventoryServer(srv, svc)
	check(grpcmw.Validate(srvReg, srv, srvOpts...)) // the policy exists
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go func() { check(srv.Serve(lis)) }() // nil once stopped
	defer srv.Stop()

	// Client: guards are named after methods ("/storefront.v1.Inventory/GetStock").
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "inventory", Match: []string{"/storefront.v1.Inventory/*"},
		Breaker: &core.BreakerPolicy{WindowSize: 10, MinCalls: 3, FailureRate: 50, OpenDuration: core.Duration(30 * time.Second)}}))
	check(err)
	check(grpcmw.Validate(reg, grpcmw.Services(&pb.Inventory_ServiceDesc))) // every method has a policy
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),           // plaintext: use TLS credentials across a network
		grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg))) // the one line
	check(err)
	defer conn.Close()
	client := pb.NewInventoryClient(conn)

	for i := 1; i <= 5; i++ {
		_, err := client.GetStock(context.Background(), &pb.GetStockRequest{ProductId: "p1"})
		fmt.Printf("call %d: %s: %s (rejected by the client's guard: %t)\n",
			i, status.Code(err), status.Convert(err).Message(), errors.Is(err, core.ErrRejected))
	}
	g, _ := reg.Lookup("/storefront.v1.Inventory/GetStock")
	fmt.Printf("the server saw %d calls; guard %q is %s\n", svc.calls.Load(), g.Name(), g.Breaker().State())
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
