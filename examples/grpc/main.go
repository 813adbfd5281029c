// Command grpc shows grpcmw's interceptors on a gRPC client and server (the
// storefront's inventory service, over an in-memory connection). The server
// keeps answering Unavailable, so the client's breaker opens, and further
// calls fail at once with codes.Unavailable and an error matching
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
	"google.golang.org/grpc/test/bufconn"

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
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:    "inventory",
		Match:   []string{"/storefront.v1.Inventory/*"}, // guards are named after methods
		Breaker: &core.BreakerPolicy{WindowSize: 10, MinCalls: 3, FailureRate: 50, OpenDuration: core.Duration(30 * time.Second)},
	}))
	if err != nil {
		log.Fatal(err)
	}
	// Server: its guards reject calls beyond 64 at once; their breaker only measures.
	srvReg, err := core.NewRegistry(core.WithDefaultPolicy(core.Policy{Name: "shed",
		Breaker: &core.BreakerPolicy{Mode: "metrics-only"}, Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 64}}))
	if err != nil {
		log.Fatal(err)
	}
	ln := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(grpcmw.UnaryServerInterceptor(srvReg)))
	svc := &inventory{}
	pb.RegisterInventoryServer(srv, svc)
	go srv.Serve(ln)
	defer srv.Stop()

	// Client: the one line is the interceptor.
	conn, err := grpc.NewClient("passthrough:///inventory",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return ln.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg)))
	if err != nil {
		log.Fatal(err)
	}
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
