// Package apmtool pins the version of the APM the end-to-end tests of
// package e2e send traces to: Jaeger v2 (the cmd/jaeger program, an
// OpenTelemetry Collector distribution with an in-memory trace store and
// Jaeger's HTTP query API), built from its Go module.
//
// Jaeger's go.mod has a replace directive, so `go install pkg@version`
// refuses to build it; this module records it as a tool instead, and
// .ci/run builds it once per version:
//
//	cd e2e/apmtool && go build -o "$(go env GOPATH)/bin/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger
//
// Built this way Jaeger has no UI assets (its UI is built with npm in its
// release process), but its query API, which the tests use, is complete.
//
// To move to another Jaeger release: go get -tool
// github.com/jaegertracing/jaeger/cmd/jaeger@vX.Y.Z, then go mod tidy.
package apmtool
