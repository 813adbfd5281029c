//go:build !race

package chimw_test

const raceEnabled = false
