package queue_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/internal/doccheck"
)

// TestDocSnippetsAreQuotedFromExamples holds the package's doc snippets to
// its Example functions, which compile and run (issue 18).
func TestDocSnippetsAreQuotedFromExamples(t *testing.T) {
	doccheck.Check(t)
}
