package natsstore_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/natsstore"
	"github.com/breakerbox/breakerbox/fleet/natsstore/embedded"
)

// A store on an embedded nats-server: the first replica to ask takes a
// guard's probe lease; the second finds it taken and by whom. With a real
// deployment, connect to its URL instead and hand the store to fleet.Join.
func Example() {
	dir, _ := os.MkdirTemp("", "natsstore-example-")
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown()

	nc, err := nats.Connect(srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := natsstore.New(ctx, js, natsstore.WithBucket("shop_fleet"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer store.Close()

	took, _, _ := store.Create(ctx, fleet.KindLease, "payments/charge", []byte("replica-1"), 5*time.Second)
	fmt.Println("replica-1 takes the lease:", took)
	took, cur, _ := store.Create(ctx, fleet.KindLease, "payments/charge", []byte("replica-2"), 5*time.Second)
	fmt.Printf("replica-2 takes the lease: %v (held by %s)\n", took, cur.Value)
	// Output:
	// replica-1 takes the lease: true
	// replica-2 takes the lease: false (held by replica-1)
}
