package unguarded

import (
	"go/ast"
	"go/token"
	"go/types"
	"strconv"

	"golang.org/x/tools/go/analysis"
)

// grpcDial checks a call of grpc.NewClient, grpc.Dial or grpc.DialContext.
func (c *checker) grpcDial(f *ast.File, call *ast.CallExpr, fn *types.Func, stack []ast.Node) {
	for _, a := range call.Args {
		if c.mentionsInterceptor(a) {
			return
		}
	}
	spread := call.Ellipsis.IsValid()
	fns := enclosingFuncs(stack)
	if spread {
		// The options come from a slice: report only a slice declared in
		// this function, when the function mentions no interceptor.
		id, ok := ast.Unparen(call.Args[len(call.Args)-1]).(*ast.Ident)
		if !ok || len(fns) == 0 {
			return
		}
		v, ok := c.pass.TypesInfo.Uses[id].(*types.Var)
		body := funcBody(fns[0])
		if !ok || body == nil || v.Pos() < body.Pos() || v.Pos() > body.End() || c.mentionsInterceptor(body) {
			return
		}
	}
	fd := finding{
		node:     call,
		key:      funcKey(fn),
		category: "grpc",
		message: "grpc." + fn.Name() + " creates a client without breakerbox's interceptors; " +
			"add grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg)) and " +
			"grpc.WithChainStreamInterceptor(grpcmw.StreamClientInterceptor(reg))",
	}
	if fix, ok := c.grpcFix(f, call); ok && !spread {
		fd.fixes = []analysis.SuggestedFix{fix}
	}
	c.report(stack, fd)
}

// grpcFix appends the interceptor options to a client call, when a
// registry is in scope.
func (c *checker) grpcFix(f *ast.File, call *ast.CallExpr) (analysis.SuggestedFix, bool) {
	reg := c.registryInScope(call.Pos())
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if reg == "" || !ok || len(call.Args) == 0 {
		return analysis.SuggestedFix{}, false
	}
	pkg, ok := sel.X.(*ast.Ident)
	if !ok {
		return analysis.SuggestedFix{}, false
	}
	if _, ok := c.pass.TypesInfo.Uses[pkg].(*types.PkgName); !ok {
		return analysis.SuggestedFix{}, false
	}
	gm, edits := c.importFor(f, grpcmwPath)
	g := pkg.Name
	text := ", " + g + ".WithChainUnaryInterceptor(" + gm + ".UnaryClientInterceptor(" + reg + ")), " +
		g + ".WithChainStreamInterceptor(" + gm + ".StreamClientInterceptor(" + reg + "))"
	end := call.Args[len(call.Args)-1].End()
	edits = append(edits, analysis.TextEdit{Pos: end, End: end, NewText: []byte(text)})
	return analysis.SuggestedFix{Message: "Add grpcmw client interceptors", TextEdits: edits}, true
}

// mentionsInterceptor reports whether n refers to a grpcmw client
// interceptor constructor.
func (c *checker) mentionsInterceptor(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			if fn, ok := c.pass.TypesInfo.Uses[id].(*types.Func); ok && fn.Pkg() != nil && fn.Pkg().Path() == grpcmwPath &&
				(fn.Name() == "UnaryClientInterceptor" || fn.Name() == "StreamClientInterceptor") {
				found = true
			}
		}
		return !found
	})
	return found
}

func funcBody(fn ast.Node) *ast.BlockStmt {
	switch f := fn.(type) {
	case *ast.FuncDecl:
		return f.Body
	case *ast.FuncLit:
		return f.Body
	}
	return nil
}

// registryInScope returns the name of the innermost variable of type
// *core.Registry visible at pos (declared before pos, unless it is a
// package variable, and not shadowed there), or "".
func (c *checker) registryInScope(pos token.Pos) string {
	inner := c.pass.Pkg.Scope().Innermost(pos)
	for s := inner; s != nil; s = s.Parent() {
		var best *types.Var
		for _, name := range s.Names() {
			v, ok := s.Lookup(name).(*types.Var)
			if !ok || !isPointer(v.Type()) || !isNamed(v.Type(), corePath, "Registry") ||
				(s != c.pass.Pkg.Scope() && v.Pos() > pos) {
				continue
			}
			if _, obj := inner.LookupParent(name, pos); obj != v {
				continue // shadowed at pos
			}
			if best == nil || v.Pos() > best.Pos() {
				best = v
			}
		}
		if best != nil {
			return best.Name()
		}
	}
	return ""
}

// importFor returns the name under which f imports path and, when f does
// not import it, the edit that adds the import (an import as _ or . does
// not count).
func (c *checker) importFor(f *ast.File, path string) (name string, edits []analysis.TextEdit) {
	def := path[lastSlash(path)+1:]
	for _, imp := range f.Imports {
		if p, err := strconv.Unquote(imp.Path.Value); err != nil || p != path {
			continue
		}
		if imp.Name == nil {
			return def, nil
		}
		if imp.Name.Name == "_" || imp.Name.Name == "." {
			continue
		}
		return imp.Name.Name, nil
	}
	quoted := strconv.Quote(path)
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok.String() != "import" {
			continue
		}
		if g.Lparen.IsValid() {
			return def, []analysis.TextEdit{{Pos: g.Rparen, End: g.Rparen, NewText: []byte("\t" + quoted + "\n")}}
		}
		return def, []analysis.TextEdit{{Pos: g.End(), End: g.End(), NewText: []byte("\nimport " + quoted)}}
	}
	return def, []analysis.TextEdit{{Pos: f.Name.End(), End: f.Name.End(), NewText: []byte("\n\nimport " + quoted)}}
}

func lastSlash(s string) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return i
		}
	}
	return -1
}
