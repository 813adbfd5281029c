package graphql_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/internal/doccheck"
)

// TestDocSnippetsAreQuotedFromExamples holds the package's doc snippets to
// its Example functions, which compile and run (issue 18): the docs named
// generated.Config where the examples build Config, the field middleware's
// snippet used an option no example ran, and WithClassifier's snippet had
// no example.
func TestDocSnippetsAreQuotedFromExamples(t *testing.T) {
	doccheck.Check(t,
		"directive @breaker(",                       // the schema (SDL)
		`{"data": {"price": null`,                   // a response (JSON)
		`{"errors":[{"message":"operation rejected`, // a response (JSON)
	)
}
