// Package benchmarks compares breakerbox with its peers, scenario by
// scenario, in one run on one machine.
//
// Every benchmark is named Benchmark<Scenario>/<library> (and
// Benchmark<Scenario>Parallel/<library> for its RunParallel variant), so
// that benchstat lines the libraries up side by side. The peers are
// sony/gobreaker, failsafe-go, golang.org/x/sync/semaphore,
// golang.org/x/time/rate and go.uber.org/ratelimit; they live in this
// separate module so that breakerbox's users never download them.
//
// The package has no API: it holds only benchmarks and the tests that keep
// the breakerbox side of every scenario free of allocations. See README.md
// for how to run it and for the latest results.
package benchmarks
