package otelbreaker_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/internal/doccheck"
)

// TestDocSnippetsAreQuotedFromExamples holds the package's doc snippets to
// its Example functions, which compile and run (issue 18): the package doc
// deferred Shutdown without checking Instrument's error, and its otelhttp
// client and metric-view snippets had no running example.
func TestDocSnippetsAreQuotedFromExamples(t *testing.T) {
	doccheck.Check(t,
		"breakerbox.guard.rejections counter", // the metrics table
		"OTEL_EXPORTER_OTLP_ENDPOINT=",        // environment variables
	)
}
