package embedded_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/breakerbox/breakerbox/fleet/natsstore/embedded"
)

// A nats-server with JetStream in the process, restarted on the same URL.
func ExampleStart() {
	dir, _ := os.MkdirTemp("", "embedded-example-")
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(dir)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Shutdown()
	url := srv.URL()
	fmt.Println(strings.HasPrefix(url, "nats://127.0.0.1:"))

	if err := srv.Restart(); err != nil {
		fmt.Println(err)
		return
	}
	nc, err := nats.Connect(srv.URL())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer nc.Close()
	fmt.Println(srv.URL() == url, nc.IsConnected())
	// Output:
	// true
	// true true
}
