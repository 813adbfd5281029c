//go:build race

package main

// raceEnabled reports whether the test runs with the race detector, so that
// it builds the demo with it too (reusing the compiled packages).
const raceEnabled = true
