package graphql_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestExamplesUsePublicPackagesOnly pins issue 17: the runnable examples
// built their servers with graphql/internal/testserver, which users cannot
// import, so they could not be copied. It follows every Example function
// through the package-level declarations of the test package it uses
// (types with their methods, functions, variables, constants) and fails
// when any of them refers to an internal package.
func TestExamplesUsePublicPackagesOnly(t *testing.T) {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	type decl struct {
		node ast.Node
		file *ast.File
	}
	fset := token.NewFileSet()
	decls := map[string][]decl{} // by name; a type's methods under the type's name
	var queue []decl
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if f.Name.Name != "graphql_test" {
			continue
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				key := d.Name.Name
				if d.Recv != nil && len(d.Recv.List) == 1 {
					typ := d.Recv.List[0].Type
					if star, ok := typ.(*ast.StarExpr); ok {
						typ = star.X
					}
					if id, ok := typ.(*ast.Ident); ok {
						key = id.Name
					}
				}
				decls[key] = append(decls[key], decl{d, f})
				if d.Recv == nil && strings.HasPrefix(d.Name.Name, "Example") {
					queue = append(queue, decl{d, f})
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						decls[s.Name.Name] = append(decls[s.Name.Name], decl{s, f})
					case *ast.ValueSpec:
						for _, n := range s.Names {
							decls[n.Name] = append(decls[n.Name], decl{s, f})
						}
					}
				}
			}
		}
	}
	if len(queue) == 0 {
		t.Fatal("no Example functions found")
	}
	seen := map[ast.Node]bool{}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		if seen[d.node] {
			continue
		}
		seen[d.node] = true
		internal := map[string]string{} // local name -> path
		for _, imp := range d.file.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if !strings.Contains(path, "/internal/") && !strings.HasSuffix(path, "/internal") {
				continue
			}
			local := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			internal[local] = path
		}
		ast.Inspect(d.node, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok {
					if path, ok := internal[id.Name]; ok {
						t.Errorf("%s: examples use %s, which users cannot import", fset.Position(n.Pos()), path)
					}
				}
			case *ast.Ident:
				queue = append(queue, decls[n.Name]...)
			}
			return true
		})
	}
}
