package grpcmw_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// codeLine is a line of code in a doc comment: "//" and a tab.
var codeLine = regexp.MustCompile(`^\s*//\t(.*)$`)

// docSnippets returns the code blocks of the doc comments of a Go file, each
// as its lines with the indentation trimmed.
func docSnippets(src string) [][]string {
	var blocks [][]string
	var cur []string
	for _, line := range strings.Split(src, "\n") {
		if m := codeLine.FindStringSubmatch(line); m != nil {
			cur = append(cur, strings.TrimSpace(m[1]))
			continue
		}
		if cur != nil {
			blocks = append(blocks, cur)
			cur = nil
		}
	}
	return blocks
}

// TestDocSnippetsAreCompiledExamples holds every code snippet of the
// package's documentation to the Example functions, which compile and run:
// the package doc once showed a client without transport credentials, whose
// error it discarded, and which grpc.NewClient refuses.
func TestDocSnippetsAreCompiledExamples(t *testing.T) {
	ex, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	var exLines []string
	for _, l := range strings.Split(string(ex), "\n") {
		exLines = append(exLines, strings.TrimSpace(l))
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, block := range docSnippets(string(src)) {
			n++
			if !containsRun(exLines, block) {
				t.Errorf("%s: this snippet is not in example_test.go:\n\t%s", f, strings.Join(block, "\n\t"))
			}
		}
	}
	if n == 0 {
		t.Fatal("no snippets found in the package's doc comments")
	}
}

// containsRun reports whether run appears in lines, contiguous.
func containsRun(lines, run []string) bool {
	for i := range lines {
		if len(lines)-i >= len(run) && slices.Equal(lines[i:i+len(run)], run) {
			return true
		}
	}
	return false
}
