//go:build race

package examples_test

// raceEnabled reports whether the test runs with the race detector, so that
// it builds the examples with it too (reusing the compiled packages).
const raceEnabled = true
