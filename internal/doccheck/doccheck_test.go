package doccheck

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
	panic(r)
}

func run(t *testing.T, dir string, notGo ...string) []string {
	t.Helper()
	r := &recorder{TB: t}
	func() {
		defer func() {
			if v := recover(); v != nil && v != r {
				panic(v)
			}
		}()
		CheckDir(r, dir, notGo...)
	}()
	return r.errs
}

func TestQuotedSnippetsPass(t *testing.T) {
	if errs := run(t, "testdata/good", "name value"); len(errs) != 0 {
		t.Fatalf("want no failure, got:\n%s", strings.Join(errs, "\n"))
	}
}

func TestUnnamedNonGoBlockFails(t *testing.T) {
	errs := run(t, "testdata/good")
	if len(errs) != 1 || !strings.Contains(errs[0], "name value") {
		t.Fatalf("want one failure quoting the table, got %q", errs)
	}
}

func TestStaleNotGoPrefixFails(t *testing.T) {
	errs := run(t, "testdata/good", "name value", "GET /v1/guards")
	if len(errs) != 1 || !strings.Contains(errs[0], `"GET /v1/guards"`) {
		t.Fatalf("want one failure naming the stale prefix, got %q", errs)
	}
}

func TestUnquotedSnippetAndRemovedNameFail(t *testing.T) {
	errs := run(t, "testdata/bad")
	if len(errs) != 2 {
		t.Fatalf("want two failures, got %q", errs)
	}
	if !strings.Contains(errs[0], "x := bad.Triple(2)") || !strings.Contains(errs[0], "doc.go:3:1") {
		t.Errorf("first failure should quote the unquoted snippet and its place, got %q", errs[0])
	}
	if !strings.Contains(errs[1], "bad.Halve") {
		t.Errorf("second failure should name bad.Halve, got %q", errs[1])
	}
}

func TestMissingExampleFileFailsOnlyWithSnippets(t *testing.T) {
	dir := t.TempDir()
	write(t, dir+"/doc.go", "// Package p has no snippet.\npackage p\n")
	if errs := run(t, dir); len(errs) != 0 {
		t.Fatalf("want no failure, got %q", errs)
	}
	write(t, dir+"/doc.go", "// Package p has one.\n//\n//\tp.A()\n//\tp.B()\npackage p\n")
	if errs := run(t, dir); len(errs) != 1 {
		t.Fatalf("want one failure, got %q", errs)
	}
}

func TestNormalize(t *testing.T) {
	if got := normalize("\t a :=  1 \t// x "); got != "a := 1 // x" {
		t.Fatalf("normalize = %q", got)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOneLinerNamesAreCheckedUnderTheExamplesImportName(t *testing.T) {
	errs := run(t, "testdata/alias")
	if len(errs) != 1 || !strings.Contains(errs[0], "mx.NewExporter") {
		t.Fatalf("want one failure naming mx.NewExporter (and none for metric.MustRegister), got %q", errs)
	}
}
