// Package scenario simulates one guard under a scenario of traffic: a
// strict YAML or JSON file giving the arrival rate, the failure rate and
// the latency over time (constants, ramps, outages, brown-outs), run
// against a real core.Registry built from a policy document, on a virtual
// clock (see Run). The result is a timeline.Timeline: a point per tick, the
// breaker's transitions, a summary, and charts. `breakerctl simulate` is
// its command line; docs/simulate.md describes the format.
//
// A scenario file is refused, with the file, line, column and field of
// each problem (Error, Problem), when it is larger than MaxBytes, not
// valid YAML, holds anchors or aliases, unknown or duplicate keys, values
// of the wrong type, negative, NaN or infinite numbers, rates above 1,
// phases out of order or overlapping, or exceeds a limit (MaxDuration,
// MaxPhases, MaxRate, MaxCalls, MaxPoints, MaxLatency).
//
// The package imports the root module only (not failsafe-go, which the
// adaptive-limiter comparison of package sim uses), so that breakerctl can
// use it without downloading that.
package scenario
