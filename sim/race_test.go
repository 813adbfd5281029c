//go:build race

package sim

// raceEnabled reports that the tests run under the race detector, which
// slows the simulation (one goroutine, nothing to race) about tenfold.
const raceEnabled = true
