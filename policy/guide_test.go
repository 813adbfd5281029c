package policy_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/policy"
)

// normLines trims each line and collapses runs of blanks, dropping empty
// lines, as internal/doccheck compares snippets.
func normLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// TestGuideSnippetsAreQuotedFromExamples holds docs/policies.md to the
// package: its Go blocks are quoted from example_test.go (which runs), and
// the defaults and names it states are the code's.
func TestGuideSnippetsAreQuotedFromExamples(t *testing.T) {
	guide, err := os.ReadFile("../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	ex, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	exLines := strings.Join(normLines(string(ex)), "\n")
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(guide), -1)
	if len(blocks) == 0 {
		t.Fatal("docs/policies.md has no Go block; this test guards them")
	}
	for _, b := range blocks {
		if !strings.Contains(exLines, strings.Join(normLines(b[1]), "\n")) {
			t.Errorf("docs/policies.md quotes Go that example_test.go does not hold:\n%s", b[1])
		}
	}
	if policy.DefaultMaxDocumentBytes != 4<<20 || !strings.Contains(string(guide), "larger than 4 MiB") {
		t.Error("docs/policies.md states the ApplyJSON limit as 4 MiB; keep it and DefaultMaxDocumentBytes together")
	}
}
