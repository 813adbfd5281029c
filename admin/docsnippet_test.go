package admin_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/internal/doccheck"
)

// TestDocSnippetsAreQuotedFromExamples holds the package's doc snippets to
// its Example functions, which compile and run (issue 18): the package doc
// mounted Handler with a file sink and a logger that no example built.
func TestDocSnippetsAreQuotedFromExamples(t *testing.T) {
	doccheck.Check(t,
		"GET /v1/guards[?tag=t&state=s]", // the endpoints
		"POST /v1/operations/open",       // an HTTP request
	)
}
