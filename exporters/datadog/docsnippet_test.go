package datadog_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/internal/doccheck"
)

// TestDocSnippetsAreQuotedFromExamples holds the package's doc snippets to
// its Example functions, which compile and run (issue 18): the package doc
// had "if err != nil { ... }" in its snippet, which did not compile.
func TestDocSnippetsAreQuotedFromExamples(t *testing.T) {
	doccheck.Check(t)
}
