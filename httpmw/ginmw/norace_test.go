//go:build !race

package ginmw_test

const raceEnabled = false
