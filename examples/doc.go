// Package examples holds breakerbox's runnable programs, each a main package
// in a directory of its own (this package itself is empty; its test runs
// them all):
//
//   - storefront: the full demo (`make demo`), with every adapter, the
//     dashboard, metrics and traces, fault injection and a load generator;
//   - quickstart: a guard around a flaky fake payment provider;
//   - one per adapter: httpserver, httpclient, grpc, graphql;
//   - one per primitive: breaker, bulkhead, ratelimit, retry, fallback.
//
// Run one with `go run ./NAME` in this directory. See README.md.
package examples
