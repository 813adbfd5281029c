//go:build race

package dashboard

// raceSlowdown divides the hour of history the scene builds: calls cost
// about fifteen times more under the race detector, so it builds the last
// quarter hour only.
const raceSlowdown = 4
