package metrics_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/internal/doccheck"
)

// TestDocSnippetsAreQuotedFromExamples holds the package's doc snippets to
// its Example functions, which compile and run (issue 18). The package doc
// holds tables only, which another test holds to Table.
func TestDocSnippetsAreQuotedFromExamples(t *testing.T) {
	doccheck.Check(t,
		"concept (OTel name) Prometheus Datadog",
		"concept kind unit requires",
	)
}
