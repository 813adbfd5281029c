//go:build race

package stripe

// raceEnabled: under -race the runtime places and reuses goroutine stacks
// otherwise (TestIndexSpreads saw 256 live goroutines on one stripe).
const raceEnabled = true
