// Package oteltest proves that requests httpmw rejects keep their route in
// OpenTelemetry's HTTP instrumentation: otelhttp names a server span (and
// sets http.route on its metrics) from r.Pattern after the inner handler
// returned, and a rejected request never reaches the mux that sets it. It
// is a module of its own so that httpmw does not depend on OpenTelemetry;
// it holds tests only.
package oteltest
