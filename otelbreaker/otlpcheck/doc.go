// Package otlpcheck holds no code: its test checks that the OTLP settings
// docs/apm.md gives for each vendor (New Relic, Honeycomb, Grafana Cloud,
// Datadog, a local Jaeger) work as written with the Go SDK's OTLP trace
// exporters.
//
// For each vendor's block of environment variables in docs/apm.md, the
// test runs the block with sh (as a reader would paste it, with made-up
// keys), configures otlptracehttp or otlptracegrpc from the resulting
// environment alone, exports a span on which otelbreaker recorded a
// breaker's rejection, and checks on a local OTLP receiver (an httptest
// server, or a gRPC server, with TLS where the documented endpoint is
// https) that the request came to the documented path with the documented
// headers, and that its body holds the span with the breakerbox
// attributes. Only the endpoint's scheme and host are changed, to the
// receiver's, and the receiver's certificate is given through
// OTEL_EXPORTER_OTLP_CERTIFICATE.
//
// It is a module of its own so that otelbreaker's users do not download
// the OTLP exporters, gRPC and the OTLP protobuf types.
package otlpcheck
