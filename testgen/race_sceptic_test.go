//go:build race

package testgen_test

// raceOn: the race detector slows testgen about threefold; the heaviest
// sceptic test runs smaller under it.
const raceOn = true
