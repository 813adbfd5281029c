//go:build !race

package testgen_test

// raceOn: see race_sceptic_test.go.
const raceOn = false
