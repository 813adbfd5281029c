package natsstore_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/fleettest"
)

// TestConformance runs fleet's conformance suite against one embedded
// nats-server, each client on a connection of its own.
func TestConformance(t *testing.T) {
	srv := startServer(t)
	fleettest.Run(t, func(t *testing.T) fleet.Store {
		_, js := connect(t, srv.URL())
		return newStore(t, js)
	})
}

// BenchmarkConvergence is fleettest's convergence benchmark (eight
// replicas, each on its own connection, from a quorum of open votes to
// every replica rejecting) over an embedded nats-server. Run it with
// -benchtime=200x.
func BenchmarkConvergence(b *testing.B) {
	srv := startServer(b)
	fleettest.BenchmarkConvergence(b, func(b *testing.B) fleet.Store {
		_, js := connect(b, srv.URL())
		return newStore(b, js)
	})
}
