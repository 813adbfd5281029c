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
