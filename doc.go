// Package breakerbox is the root of the breakerbox resilience suite: circuit
// breakers, bulkheads, rate limiters, retries and fallbacks for Go services,
// composed into named guards (package core) and wired into net/http, gRPC and
// GraphQL by adapter packages.
//
// Start with package core; see the README for the map of packages.
package breakerbox
