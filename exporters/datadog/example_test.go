package datadog_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"strings"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/exporters/datadog"
)

// Push a registry's guards to the local Datadog agent every 10 seconds.
func Example() {
	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	client, err := statsd.New("127.0.0.1:8125") // the agent's DogStatsD port, or "unix:///var/run/datadog/dsd.socket"
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	exp := datadog.New(reg, client, datadog.WithTags("env:prod", "service:checkout"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exp.Start(ctx)
	defer exp.Close() // a last push; the client is closed after it

	// ... serve, with calls going through reg's guards ...
	_ = reg.MustGuard("payments").Do(ctx, func(context.Context) error { return nil })
	// Output:
}

// What the agent receives for a guard forced open: the service check (sent
// once for the state change, once by the push), read here from a UDP socket
// standing in for the agent.
func ExampleExporter_Flush() {
	agent, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()
	client, err := statsd.New(agent.LocalAddr().String(), statsd.WithoutTelemetry(), statsd.WithoutOriginDetection())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	reg, err := core.NewRegistry()
	if err != nil {
		log.Fatal(err)
	}
	exp := datadog.New(reg, client)
	defer exp.Close()
	reg.MustGuard("payments").ForceOpen(breaker.Manual{Actor: "alice", Reason: "maintenance"})
	if err := exp.Flush(); err != nil {
		log.Fatal(err)
	}

	buf := make([]byte, 65536)
	_ = agent.SetReadDeadline(time.Now().Add(10 * time.Second))
	for checks := 0; checks < 2; {
		n, _, err := agent.ReadFrom(buf)
		if err != nil {
			log.Fatal(err)
		}
		for line := range strings.SplitSeq(string(buf[:n]), "\n") {
			if strings.HasPrefix(line, "_sc|") {
				fmt.Println(line)
				checks++
			}
		}
	}
	// Output:
	// _sc|breakerbox.circuit_breaker.status|2|#guard:payments,policy:default|m:circuit breaker forced-open: maintenance (by alice)
	// _sc|breakerbox.circuit_breaker.status|2|#guard:payments,policy:default|m:circuit breaker forced-open: maintenance (by alice)
}

func ExampleServiceCheckStatus() {
	for _, s := range []breaker.State{breaker.Closed, breaker.HalfOpen, breaker.Open, breaker.ForcedOpen, breaker.Disabled} {
		fmt.Println(s, datadog.ServiceCheckStatus(s))
	}
	// Output:
	// closed 0
	// half-open 1
	// open 2
	// forced-open 2
	// disabled 0
}
