package httpmw_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/internal/doccheck"
)

// TestDocSnippetsAreQuotedFromExamples holds the package's doc snippets to
// its Example functions, which compile and run (issue 18): Validate's doc
// showed a loop with "..." in it, and the package doc called
// http.ListenAndServe without looking at its error.
func TestDocSnippetsAreQuotedFromExamples(t *testing.T) {
	doccheck.Check(t, "chi GET /quote/{sku} GET /quote/{sku}")
}
