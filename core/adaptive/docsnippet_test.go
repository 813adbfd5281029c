package adaptive_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/internal/doccheck"
)

// TestDocSnippetsAreQuotedFromExamples holds the package doc's snippet to
// Example, which compiles and runs.
func TestDocSnippetsAreQuotedFromExamples(t *testing.T) {
	doccheck.Check(t)
}
