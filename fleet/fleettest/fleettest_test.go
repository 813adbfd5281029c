package fleettest_test

import (
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/fleettest"
)

func TestMemoryStore(t *testing.T) {
	m := fleet.NewMemoryStore()
	fleettest.RunWith(t, func(t *testing.T) fleet.Store { return m.Client() }, fleettest.Options{TTL: 50 * time.Millisecond})
}

func BenchmarkConvergenceMemory(b *testing.B) {
	m := fleet.NewMemoryStore()
	fleettest.BenchmarkConvergence(b, func(*testing.B) fleet.Store { return m.Client() })
}
