// Package e2e holds breakerbox's end-to-end tests: tests that need
// test-only dependencies or real external programs, which .ci/run installs
// (see each test for what it starts). It has no API.
//
// The APM test (apm_test.go) starts Jaeger v2, the version pinned by the
// apmtool module, with in-memory storage on free loopback ports, sends it
// traces over OTLP from guarded HTTP (httpmw middleware and transport),
// gRPC (grpcmw client interceptor) and function calls, and reads them back
// through Jaeger's query API. Without the binary it skips locally and fails
// in CI (CI=true).
package e2e
