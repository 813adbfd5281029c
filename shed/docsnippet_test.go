package shed_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/internal/doccheck"
)

// TestDocSnippetsAreQuotedFromExamples holds the package's doc snippets to
// its Example functions, which compile and run.
func TestDocSnippetsAreQuotedFromExamples(t *testing.T) {
	doccheck.Check(t)
}
