//go:build !race

package dashboard

// raceSlowdown divides the hour of history the scene builds (see race.go).
const raceSlowdown = 1
