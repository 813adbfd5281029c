//go:build race

package cache_test

// raceEnabled shortens the million-key test under the race detector, which
// makes each insertion ten times slower; the bound it checks is the same.
const raceEnabled = true
