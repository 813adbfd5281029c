package unguarded

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
)

const clientKey = httpPath + ".Client"

// defaultClient reports a use of http.DefaultClient.
func (c *checker) defaultClient(sel *ast.SelectorExpr, stack []ast.Node) {
	v, ok := c.pass.TypesInfo.Uses[sel.Sel].(*types.Var)
	if !ok || v.Pkg() == nil || v.Pkg().Path() != httpPath || v.Name() != "DefaultClient" {
		return
	}
	// http.DefaultClient.Transport = x is judged as a Transport assignment.
	if len(stack) >= 3 {
		if outer, ok := stack[len(stack)-2].(*ast.SelectorExpr); ok && outer.X == sel && outer.Sel.Name == "Transport" {
			if as, ok := stack[len(stack)-3].(*ast.AssignStmt); ok {
				for _, l := range as.Lhs {
					if l == outer {
						return
					}
				}
			}
		}
	}
	c.report(stack, finding{
		node:     sel,
		key:      httpPath + ".DefaultClient",
		category: "http",
		message: "http.DefaultClient sends through http.DefaultTransport, which no breakerbox guard wraps; " +
			"use an *http.Client whose Transport is httpmw.NewTransport(...)",
	})
}

// clientLiteral checks an http.Client composite literal.
func (c *checker) clientLiteral(f *ast.File, lit *ast.CompositeLit, stack []ast.Node) {
	t := c.pass.TypesInfo.TypeOf(lit)
	if t == nil || !isNamed(t, httpPath, "Client") {
		return
	}
	var transport ast.Expr
	for i, e := range lit.Elts {
		if kv, ok := e.(*ast.KeyValueExpr); ok {
			if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "Transport" {
				transport = kv.Value
			}
		} else if i == 0 {
			transport = e // unkeyed: Transport is the first field
		}
	}
	if transport != nil {
		c.checkTransport(f, transport, stack)
		return
	}
	if c.transportSetLater(lit, stack) {
		return
	}
	fd := finding{
		node:     lit,
		key:      clientKey,
		category: "http",
		message: "http.Client has no Transport: it sends through http.DefaultTransport, which no breakerbox guard wraps; " +
			"set Transport: httpmw.NewTransport(...)",
	}
	name, edits := c.importFor(f, httpmwPath)
	text := "Transport: " + name + ".NewTransport(nil" + c.registryOption(name, lit.Pos()) + ")"
	switch {
	case len(lit.Elts) == 0:
	case c.line(lit.Elts[0].Pos()) != c.line(lit.Lbrace):
		text = "\n" + text + ","
	default:
		text += ", "
	}
	edits = append(edits, analysis.TextEdit{Pos: lit.Lbrace + 1, End: lit.Lbrace + 1, NewText: []byte(text)})
	fd.fixes = []analysis.SuggestedFix{{Message: "Set Transport to httpmw.NewTransport", TextEdits: edits}}
	c.report(stack, fd)
}

// transportSetLater reports whether the variable or field a client literal
// is assigned to has its Transport field assigned later in the same
// function.
func (c *checker) transportSetLater(lit *ast.CompositeLit, stack []ast.Node) bool {
	var expr ast.Expr = lit
	i := len(stack) - 2
	for ; i >= 0; i-- {
		if p, ok := stack[i].(*ast.ParenExpr); ok {
			expr = p
			continue
		}
		if u, ok := stack[i].(*ast.UnaryExpr); ok && u.Op == token.AND {
			expr = u
			continue
		}
		break
	}
	if i < 0 {
		return false
	}
	var holder string
	switch p := stack[i].(type) {
	case *ast.AssignStmt:
		for j, r := range p.Rhs {
			if r == expr && j < len(p.Lhs) && len(p.Lhs) == len(p.Rhs) {
				holder = types.ExprString(p.Lhs[j])
			}
		}
	case *ast.ValueSpec:
		for j, v := range p.Values {
			if v == expr && j < len(p.Names) {
				holder = p.Names[j].Name
			}
		}
	}
	fns := enclosingFuncs(stack)
	if holder == "" || len(fns) == 0 {
		return false
	}
	found := false
	ast.Inspect(fns[0], func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || found || as.Pos() < lit.End() {
			return !found
		}
		for _, l := range as.Lhs {
			if s, ok := l.(*ast.SelectorExpr); ok && s.Sel.Name == "Transport" && types.ExprString(s.X) == holder {
				found = true
			}
		}
		return !found
	})
	return found
}

// transportAssign checks an assignment to an http.Client's Transport field.
func (c *checker) transportAssign(f *ast.File, as *ast.AssignStmt, stack []ast.Node) {
	if len(as.Lhs) != len(as.Rhs) {
		return
	}
	for i, l := range as.Lhs {
		s, ok := l.(*ast.SelectorExpr)
		if !ok || s.Sel.Name != "Transport" {
			continue
		}
		sel, ok := c.pass.TypesInfo.Selections[s]
		if !ok || sel.Kind() != types.FieldVal || !isNamed(sel.Recv(), httpPath, "Client") {
			continue
		}
		c.checkTransport(f, as.Rhs[i], stack)
	}
}

// checkTransport reports a transport expression that is provably not
// wrapped by httpmw: nil, http.DefaultTransport or of type *http.Transport.
func (c *checker) checkTransport(f *ast.File, e ast.Expr, stack []ast.Node) {
	tv, ok := c.pass.TypesInfo.Types[e]
	if !ok {
		return
	}
	unwrapped := tv.IsNil() || isNamed(tv.Type, httpPath, "Transport") && isPointer(tv.Type)
	if !unwrapped {
		var id *ast.Ident
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			id = x
		case *ast.SelectorExpr:
			id = x.Sel
		}
		if id != nil {
			if v, ok := c.pass.TypesInfo.Uses[id].(*types.Var); ok && v.Pkg() != nil &&
				v.Pkg().Path() == httpPath && v.Name() == "DefaultTransport" {
				unwrapped = true
			}
		}
	}
	if !unwrapped {
		return
	}
	fd := finding{
		node:     e,
		key:      clientKey,
		category: "http",
		message: "http.Client Transport is not wrapped by a breakerbox guard; " +
			"wrap it: httpmw.NewTransport(...)",
	}
	name, edits := c.importFor(f, httpmwPath)
	edits = append(edits,
		analysis.TextEdit{Pos: e.Pos(), End: e.Pos(), NewText: []byte(name + ".NewTransport(")},
		analysis.TextEdit{Pos: e.End(), End: e.End(), NewText: []byte(c.registryOption(name, e.Pos()) + ")")})
	fd.fixes = []analysis.SuggestedFix{{Message: "Wrap the transport in httpmw.NewTransport", TextEdits: edits}}
	c.report(stack, fd)
}

// registryOption returns ", httpmw.WithRegistry(reg)" for the registry
// variable in scope at pos, or "".
func (c *checker) registryOption(httpmw string, pos token.Pos) string {
	if reg := c.registryInScope(pos); reg != "" {
		return ", " + httpmw + ".WithRegistry(" + reg + ")"
	}
	return ""
}

func isPointer(t types.Type) bool {
	_, ok := types.Unalias(t).(*types.Pointer)
	return ok
}

func (c *checker) line(p token.Pos) int { return c.pass.Fset.Position(p).Line }
