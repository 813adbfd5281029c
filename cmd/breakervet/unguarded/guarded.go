package unguarded

import (
	"go/ast"
	"go/token"
	"go/types"
)

// Guard functions known without flags: their function arguments run under
// a guard.
var defaultGuards = map[string]bool{
	corePath + ".Do":       true,
	corePath + ".Guard.Do": true,
}

// Permit methods that end a guarded span.
var permitEnds = map[string]bool{
	corePath + ".Permit.Done":   true,
	corePath + ".Permit.Finish": true,
	corePath + ".Permit.Report": true,
}

const allowKey = corePath + ".Guard.Allow"

// isGuardCall reports whether call calls a guard function.
func (c *checker) isGuardCall(call *ast.CallExpr) bool {
	fn := c.callee(call)
	if fn == nil {
		return false
	}
	k := funcKey(fn)
	return defaultGuards[k] || c.cfg.guards.matches(k)
}

// markGuarded records the function literals and the named functions passed
// to a guard call.
func (c *checker) markGuarded(call *ast.CallExpr) {
	for _, arg := range call.Args {
		switch a := ast.Unparen(arg).(type) {
		case *ast.FuncLit:
			c.guardLits[a] = true
		case *ast.Ident:
			if fn, ok := c.pass.TypesInfo.Uses[a].(*types.Func); ok {
				c.guardFuncs[fn.Origin()] = true
			}
		case *ast.SelectorExpr:
			var obj types.Object
			if sel, ok := c.pass.TypesInfo.Selections[a]; ok {
				obj = sel.Obj()
			} else {
				obj = c.pass.TypesInfo.Uses[a.Sel]
			}
			if fn, ok := obj.(*types.Func); ok {
				c.guardFuncs[fn.Origin()] = true
			}
		}
	}
}

// permitSpans lists, for one function body, the Allow calls and the Permit
// calls that end a span.
type permitSpans struct {
	allows   []token.Pos
	ends     []token.Pos // Done/Finish/Report calls not deferred
	deferred []token.Pos // deferred Done/Finish/Report calls
}

func (c *checker) spans(fn ast.Node) *permitSpans {
	if s, ok := c.permits[fn]; ok {
		return s
	}
	s := &permitSpans{}
	c.permits[fn] = s
	var body *ast.BlockStmt
	switch f := fn.(type) {
	case *ast.FuncDecl:
		body = f.Body
	case *ast.FuncLit:
		body = f.Body
	}
	if body == nil {
		return s
	}
	ast.Inspect(body, func(n ast.Node) bool {
		var call *ast.CallExpr
		deferred := false
		switch n := n.(type) {
		case *ast.DeferStmt:
			call, deferred = n.Call, true
			if lit, ok := ast.Unparen(n.Call.Fun).(*ast.FuncLit); ok {
				// defer func() { p.Done(err) }(): the ends inside run
				// deferred.
				if c.endsIn(lit.Body) {
					s.deferred = append(s.deferred, n.Pos())
				}
				return false
			}
		case *ast.CallExpr:
			call = n
		default:
			return true
		}
		callee := c.callee(call)
		if callee == nil {
			return true
		}
		switch k := funcKey(callee); {
		case k == allowKey:
			s.allows = append(s.allows, call.End())
		case permitEnds[k] && deferred:
			s.deferred = append(s.deferred, call.Pos())
			return false // the call itself is not an end after the fact
		case permitEnds[k]:
			s.ends = append(s.ends, call.Pos())
		}
		return true
	})
	return s
}

// endsIn reports whether n calls a Permit's Done, Finish or Report.
func (c *checker) endsIn(n ast.Node) bool {
	found := false
	ast.Inspect(n, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			if fn := c.callee(call); fn != nil && permitEnds[funcKey(fn)] {
				found = true
			}
		}
		return !found
	})
	return found
}

// covers reports whether the span of an Allow and a Permit end covers pos.
func (s *permitSpans) covers(pos token.Pos) bool {
	for _, a := range s.allows {
		if a > pos {
			continue
		}
		for _, e := range s.ends {
			if e > pos {
				return true
			}
		}
		for _, d := range s.deferred {
			if d > a && d < pos {
				return true
			}
		}
	}
	return false
}

// guarded reports whether the node at the top of stack runs under a guard,
// by the rules of the package documentation.
func (c *checker) guarded(stack []ast.Node) bool {
	pos := stack[len(stack)-1].Pos()
	for _, fn := range enclosingFuncs(stack) {
		switch f := fn.(type) {
		case *ast.FuncLit:
			if c.guardLits[f] {
				return true
			}
		case *ast.FuncDecl:
			if obj, ok := c.pass.TypesInfo.Defs[f.Name].(*types.Func); ok && c.guardFuncs[obj] {
				return true
			}
		}
		if c.spans(fn).covers(pos) {
			return true
		}
	}
	return false
}
