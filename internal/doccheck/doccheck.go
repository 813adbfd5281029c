// Package doccheck holds a package's documentation to its runnable
// examples: a test of the package calls Check, which fails when a Go code
// block of the package's doc comments is not quoted from one of its Example
// functions, so every snippet a reader copies has been compiled (and run,
// when its Example has an Output comment).
//
// It is a test helper: import it only from _test.go files. It uses the
// standard library only, so sub-modules of this repository may import it
// too.
//
// # The rule
//
// Check reads the doc comments of the Go files of the current directory
// (the package under test; _test.go files excluded) that godoc shows: the
// package comment and the comments of exported declarations, struct fields
// and interface methods. A code block is a run of indented lines in such a
// comment, as go/doc/comment parses it. Each code block must appear, as
// consecutive lines, in the body of an Example function of example_test.go
// in the same directory. Lines are compared after trimming them and
// collapsing runs of spaces and tabs into one space, so indentation and
// gofmt's alignment of comments and fields do not count; blank lines are
// skipped on both sides.
//
// An Example with an Output comment is compiled and run by go test; one
// without is compiled only, which is for snippets that need what a test
// cannot count on (a Redis server, a port to listen on for good).
//
// Two kinds of blocks are exempt:
//
//   - A block of one line (such as a single option call, or an import path).
//     Its references to the package's own exported names must still exist:
//     Name in pkg.Name, where pkg is the name example_test.go imports the
//     package under (bbprom for a package prometheus), or the package's
//     own name.
//   - A block that is not Go (a table, a JSON document, an HTTP request, a
//     shell line, a diagram), named by the caller: Check's notGo arguments
//     are prefixes of such blocks' first lines (compared after the same
//     trimming). A notGo prefix that matches no block fails the test, so the
//     list does not outlive the blocks it names.
package doccheck

import (
	"fmt"
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	pathpkg "path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ExampleFile is the file, in the package's directory, whose Example
// functions the doc comments quote.
const ExampleFile = "example_test.go"

// Check applies the rule of the package doc to the package in the current
// directory (where go test runs a package's tests). notGo lists prefixes of
// the first lines of the blocks that are not Go.
func Check(t testing.TB, notGo ...string) {
	t.Helper()
	CheckDir(t, ".", notGo...)
}

// CheckDir is Check for the package in dir.
func CheckDir(t testing.TB, dir string, notGo ...string) {
	t.Helper()
	blocks, pkgName, exported, err := docBlocks(dir)
	if err != nil {
		t.Fatalf("doccheck: %v", err)
	}
	examples, qualifier, err := exampleLines(filepath.Join(dir, ExampleFile), dir)
	if err != nil {
		t.Fatalf("doccheck: %v", err)
	}
	if qualifier == "" {
		qualifier = pkgName
	}
	prefixes := make([]string, len(notGo))
	used := make([]bool, len(notGo))
	for i, p := range notGo {
		prefixes[i] = normalize(p)
	}
	qualified := regexp.MustCompile(`(?:^|[^\w.])` + regexp.QuoteMeta(qualifier) + `\.([A-Z][A-Za-z0-9_]*)`)
	for _, b := range blocks {
		if i := slices.IndexFunc(prefixes, func(p string) bool { return strings.HasPrefix(b.lines[0], p) }); i >= 0 {
			used[i] = true
			continue
		}
		if len(b.lines) == 1 {
			for _, m := range qualified.FindAllStringSubmatch(b.lines[0], -1) {
				if !exported[m[1]] {
					t.Errorf("%s: this one-line snippet names %s.%s, which package %s does not declare:\n\t%s",
						b.pos, qualifier, m[1], pkgName, b.lines[0])
				}
			}
			continue
		}
		if !slices.ContainsFunc(examples, func(ex []string) bool { return containsRun(ex, b.lines) }) {
			t.Errorf("%s: this snippet is not quoted from an Example function of %s (quote it from one, or name its first line as not Go):\n\t%s",
				b.pos, ExampleFile, strings.Join(b.lines, "\n\t"))
		}
	}
	for i, p := range notGo {
		if !used[i] {
			t.Errorf("doccheck: no doc code block starts with %q, named as not Go", p)
		}
	}
}

// block is a code block of a doc comment, its lines normalized and its
// blank lines dropped.
type block struct {
	pos   token.Position
	lines []string
}

// docBlocks returns the code blocks of the doc comments of the non-test Go
// files in dir, the package's name and its exported top-level names.
func docBlocks(dir string) (blocks []block, pkgName string, exported map[string]bool, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, "", nil, err
	}
	fset := token.NewFileSet()
	exported = map[string]bool{}
	var p comment.Parser
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments|parser.SkipObjectResolution)
		if err != nil {
			return nil, "", nil, err
		}
		pkgName = f.Name.Name
		collectExported(f, exported)
		for _, cg := range docComments(f) {
			for _, c := range p.Parse(cg.Text()).Content {
				code, ok := c.(*comment.Code)
				if !ok {
					continue
				}
				var lines []string
				for _, l := range strings.Split(code.Text, "\n") {
					if l = normalize(l); l != "" {
						lines = append(lines, l)
					}
				}
				if len(lines) > 0 {
					blocks = append(blocks, block{pos: fset.Position(linePos(cg, lines[0])), lines: lines})
				}
			}
		}
	}
	return blocks, pkgName, exported, nil
}

// docComments returns the doc comments godoc shows for f: the package's,
// and those of its exported functions and methods, exported types, variables
// and constants (and of the declarations that group them), and of exported
// struct fields and interface methods.
func docComments(f *ast.File) []*ast.CommentGroup {
	var docs []*ast.CommentGroup
	add := func(cg *ast.CommentGroup) {
		if cg != nil {
			docs = append(docs, cg)
		}
	}
	add(f.Doc)
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			if n.Name.IsExported() {
				add(n.Doc)
			}
			return false // comments in a body are not docs
		case *ast.GenDecl:
			if slices.ContainsFunc(n.Specs, specExported) {
				add(n.Doc)
				return true
			}
			return false
		case *ast.TypeSpec:
			if n.Name.IsExported() {
				add(n.Doc)
				return true
			}
			return false
		case *ast.ValueSpec:
			if specExported(n) {
				add(n.Doc)
			}
			return false
		case *ast.Field:
			if len(n.Names) == 0 || slices.ContainsFunc(n.Names, (*ast.Ident).IsExported) {
				add(n.Doc)
				return true
			}
			return false
		}
		return true
	})
	return docs
}

// specExported reports whether a spec declares an exported name.
func specExported(s ast.Spec) bool {
	switch s := s.(type) {
	case *ast.TypeSpec:
		return s.Name.IsExported()
	case *ast.ValueSpec:
		return slices.ContainsFunc(s.Names, (*ast.Ident).IsExported)
	}
	return false
}

// linePos returns the position of the first line of cg that reads line
// once normalized (the start of cg if none does).
func linePos(cg *ast.CommentGroup, line string) token.Pos {
	for _, c := range cg.List {
		if normalize(strings.TrimPrefix(c.Text, "//")) == line {
			return c.Pos()
		}
	}
	return cg.Pos()
}

// collectExported adds f's exported top-level names (functions, types,
// variables and constants; not methods) to names.
func collectExported(f *ast.File, names map[string]bool) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if d.Recv == nil && d.Name.IsExported() {
				names[d.Name.Name] = true
			}
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() {
						names[s.Name.Name] = true
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() {
							names[n.Name] = true
						}
					}
				}
			}
		}
	}
}

// exampleLines returns the lines of the body of each Example function of
// the file at path, normalized, blank lines dropped, and the name the file
// imports the package in dir under ("" when it does not import it, as a
// file of the package itself does not). A missing file has no examples.
func exampleLines(path, dir string) (examples [][]string, qualifier string, err error) {
	src, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, "", err
	}
	if self, err := importPath(dir); err == nil {
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == self {
				qualifier = pathpkg.Base(p)
				if imp.Name != nil {
					qualifier = imp.Name.Name
				}
			}
		}
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Recv != nil || fn.Body == nil || !strings.HasPrefix(fn.Name.Name, "Example") {
			continue
		}
		body := src[fset.Position(fn.Body.Lbrace).Offset+1 : fset.Position(fn.Body.Rbrace).Offset]
		var lines []string
		for _, l := range strings.Split(string(body), "\n") {
			if l = normalize(l); l != "" {
				lines = append(lines, l)
			}
		}
		examples = append(examples, lines)
	}
	if len(examples) == 0 {
		return nil, "", fmt.Errorf("%s has no Example function", path)
	}
	return examples, qualifier, nil
}

// importPath returns the import path of the package in dir, from the
// module path of the go.mod above it.
func importPath(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := abs; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			for _, line := range strings.Split(string(data), "\n") {
				if mod, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
					rel, err := filepath.Rel(d, abs)
					if err != nil {
						return "", err
					}
					return pathpkg.Join(strings.Trim(strings.TrimSpace(mod), `"`), filepath.ToSlash(rel)), nil
				}
			}
			return "", fmt.Errorf("%s has no module line", filepath.Join(d, "go.mod"))
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", abs)
		}
	}
}

// normalize trims a line and collapses its runs of spaces and tabs.
func normalize(line string) string {
	return strings.Join(strings.Fields(line), " ")
}

// containsRun reports whether run appears in lines as consecutive lines.
func containsRun(lines, run []string) bool {
	for i := 0; i+len(run) <= len(lines); i++ {
		if slices.Equal(lines[i:i+len(run)], run) {
			return true
		}
	}
	return false
}
