package prometheus_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/internal/doccheck"
)

// TestDocSnippetsAreQuotedFromExamples holds the package's doc snippets to
// its Example functions, which compile and run (issue 18): the package doc
// had an import declaration amid its statements and registered with the
// global registry, unlike the example.
func TestDocSnippetsAreQuotedFromExamples(t *testing.T) {
	doccheck.Check(t, "sum by (tags) (") // PromQL
}
