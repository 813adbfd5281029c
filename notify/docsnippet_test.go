package notify_test

import (
	"testing"

	"github.com/breakerbox/breakerbox/internal/doccheck"
)

// TestDocSnippetsAreQuotedFromExamples holds the package's doc snippets to
// its Example functions, which compile and run (issue 18): the dial guard's
// transport snippet had no example, and VerifyRequest's was never run.
func TestDocSnippetsAreQuotedFromExamples(t *testing.T) {
	doccheck.Check(t,
		"registry hook ──> inbox",  // the pipeline diagram
		"{",                        // the webhook payload, JSON
		"Breakerbox-Signature: t=", // a header
	)
}
