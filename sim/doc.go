// Package sim is a deterministic, virtual-time simulation of a service
// under overload, comparing how limiters protect it: no limit, a static
// bulkhead, breakerbox's adaptive concurrency limits (core/adaptive:
// Gradient2, Vegas, AIMD), its load shedder (shed) and failsafe-go's
// adaptivelimiter.
//
// Time is virtual: Run processes arrivals and completions in time order
// from one goroutine and gives every limiter the time explicitly; random
// draws come from a seeded PCG, so the same scenario gives the same
// numbers. failsafe-go reads the clock itself, so its runs take place in a
// testing/synctest bubble whose fake clock the simulation moves (see
// Failsafe). The tests assert the goals of docs/adaptive.md and, with
// -update, draw the charts shown there (gonum.org/v1/plot).
//
// The package lives in a module of its own so that the root module keeps to
// the standard library and its users never download failsafe-go or gonum.
package sim
