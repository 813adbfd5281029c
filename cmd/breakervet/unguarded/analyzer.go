package unguarded

import (
	"flag"
	"fmt"
	"go/ast"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// Import paths the analyzer knows.
const (
	corePath   = "github.com/breakerbox/breakerbox/core"
	httpmwPath = "github.com/breakerbox/breakerbox/httpmw"
	grpcmwPath = "github.com/breakerbox/breakerbox/grpcmw"
	grpcPath   = "google.golang.org/grpc"
	httpPath   = "net/http"
	sqlPath    = "database/sql"
)

// Analyzer reports outbound calls that no breakerbox guard protects. Its
// flags are -allow and -guards; the package documentation states the
// checks and the rules.
var Analyzer = newAnalyzer()

func newAnalyzer() *analysis.Analyzer {
	a := &analysis.Analyzer{
		Name: "breakervet",
		Doc: "report outbound calls that no breakerbox guard protects\n\n" +
			"breakervet reports net/http requests sent through a transport not wrapped by " +
			"httpmw.NewTransport, gRPC clients created without grpcmw's client interceptors, and " +
			"database/sql and go-redis calls made outside core.Do, Guard.Do or an Allow/Done pair. " +
			"A //breakervet:ignore <reason> comment on the line or the line above drops a finding.",
		URL: "https://pkg.go.dev/github.com/breakerbox/breakerbox/cmd/breakervet/unguarded",
	}
	cfg := &config{}
	a.Flags.Var(&cfg.allow, "allow", "comma-separated `list` of importpath.Func, importpath.Type.Method or importpath.* whose calls, or whose bodies, are not reported")
	a.Flags.Var(&cfg.guards, "guards", "comma-separated `list` of extra guard functions (importpath.Func or importpath.Type.Method) whose function arguments are guarded")
	a.Run = func(pass *analysis.Pass) (any, error) { return run(pass, cfg) }
	return a
}

// config holds the analyzer's flags.
type config struct {
	allow  listFlag
	guards listFlag
}

// listFlag is a comma-separated list flag that accumulates when repeated.
type listFlag []string

var _ flag.Value = (*listFlag)(nil)

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	for _, e := range strings.Split(s, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		dot := strings.LastIndex(e, ".")
		if dot <= 0 || dot == len(e)-1 {
			return fmt.Errorf("breakervet: list entry %q is not importpath.Func, importpath.Type.Method or importpath.*", e)
		}
		*l = append(*l, e)
	}
	return nil
}

// matches reports whether an entry of l names key (importpath.Name or
// importpath.Type.Name) or, with .*, its package.
func (l listFlag) matches(key string) bool {
	for _, e := range l {
		if e == key {
			return true
		}
		if pkg, ok := strings.CutSuffix(e, ".*"); ok && strings.HasPrefix(key, pkg+".") &&
			!strings.Contains(key[len(pkg)+1:], "/") {
			return true
		}
	}
	return false
}

// checker holds the state of one pass.
type checker struct {
	pass *analysis.Pass
	cfg  *config

	guardLits  map[*ast.FuncLit]bool // literals passed to a guard function
	guardFuncs map[*types.Func]bool  // functions passed by name to a guard function
	permits    map[ast.Node]*permitSpans
	ignores    map[string]map[int]bool // file name -> line -> suppressing comment
}

func run(pass *analysis.Pass, cfg *config) (any, error) {
	c := &checker{
		pass:       pass,
		cfg:        cfg,
		guardLits:  make(map[*ast.FuncLit]bool),
		guardFuncs: make(map[*types.Func]bool),
		permits:    make(map[ast.Node]*permitSpans),
		ignores:    make(map[string]map[int]bool),
	}
	for _, f := range pass.Files {
		c.collectIgnores(f)
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && c.isGuardCall(call) {
				c.markGuarded(call)
			}
			return true
		})
	}
	for _, f := range pass.Files {
		c.file(f)
	}
	return nil, nil
}

// file walks one file keeping the stack of enclosing nodes.
func (c *checker) file(f *ast.File) {
	var stack []ast.Node
	ast.Inspect(f, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		stack = append(stack, n)
		switch n := n.(type) {
		case *ast.CallExpr:
			c.call(f, n, stack)
		case *ast.SelectorExpr:
			c.defaultClient(n, stack)
		case *ast.CompositeLit:
			c.clientLiteral(f, n, stack)
		case *ast.AssignStmt:
			c.transportAssign(f, n, stack)
		}
		return true
	})
}

// finding is one report before the allow-list and the suppressions.
type finding struct {
	node     ast.Node
	key      string // the called function or the reported value
	category string
	message  string
	fixes    []analysis.SuggestedFix
}

func (c *checker) report(stack []ast.Node, fd finding) {
	if c.cfg.allow.matches(fd.key) {
		return
	}
	for _, n := range stack {
		if fn, ok := n.(*ast.FuncDecl); ok {
			if obj, ok := c.pass.TypesInfo.Defs[fn.Name].(*types.Func); ok && c.cfg.allow.matches(funcKey(obj)) {
				return
			}
		}
	}
	pos := c.pass.Fset.Position(fd.node.Pos())
	if lines := c.ignores[pos.Filename]; lines[pos.Line] || lines[pos.Line-1] {
		return
	}
	c.pass.Report(analysis.Diagnostic{
		Pos:            fd.node.Pos(),
		End:            fd.node.End(),
		Category:       fd.category,
		Message:        fd.message,
		SuggestedFixes: fd.fixes,
	})
}

const ignoreDirective = "//breakervet:ignore"

// collectIgnores records the lines of the file's suppression comments and
// reports those without a reason.
func (c *checker) collectIgnores(f *ast.File) {
	for _, cg := range f.Comments {
		for _, cm := range cg.List {
			rest, ok := strings.CutPrefix(cm.Text, ignoreDirective)
			if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
				continue
			}
			if reason, _, _ := strings.Cut(rest, "//"); strings.TrimSpace(reason) == "" {
				c.pass.Report(analysis.Diagnostic{
					Pos:      cm.Pos(),
					End:      cm.End(),
					Category: "ignore",
					Message:  "breakervet:ignore needs a reason: //breakervet:ignore <why this call needs no guard>",
				})
				continue
			}
			pos := c.pass.Fset.Position(cm.Pos())
			lines := c.ignores[pos.Filename]
			if lines == nil {
				lines = make(map[int]bool)
				c.ignores[pos.Filename] = lines
			}
			lines[pos.Line] = true
		}
	}
}

// funcKey names a function as the allow-list does: importpath.Func or
// importpath.Type.Method (the receiver's type without pointer).
func funcKey(fn *types.Func) string {
	fn = fn.Origin()
	pkg := ""
	if fn.Pkg() != nil {
		pkg = fn.Pkg().Path()
	}
	sig, _ := fn.Type().(*types.Signature)
	if sig != nil && sig.Recv() != nil {
		if n := namedOf(sig.Recv().Type()); n != nil {
			return pkg + "." + n.Obj().Name() + "." + fn.Name()
		}
	}
	return pkg + "." + fn.Name()
}

// namedOf returns the named type of t or of the type t points to.
func namedOf(t types.Type) *types.Named {
	if p, ok := types.Unalias(t).(*types.Pointer); ok {
		t = p.Elem()
	}
	n, _ := types.Unalias(t).(*types.Named)
	return n
}

// isNamed reports whether t, or the type it points to, is the named type
// path.name.
func isNamed(t types.Type, path, name string) bool {
	n := namedOf(t)
	return n != nil && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == path && n.Obj().Name() == name
}

// callee returns the function a call statically calls, or nil.
func (c *checker) callee(call *ast.CallExpr) *types.Func {
	fun := ast.Unparen(call.Fun)
	switch f := fun.(type) {
	case *ast.IndexExpr:
		fun = f.X
	case *ast.IndexListExpr:
		fun = f.X
	}
	var id *ast.Ident
	switch f := fun.(type) {
	case *ast.Ident:
		id = f
	case *ast.SelectorExpr:
		if sel, ok := c.pass.TypesInfo.Selections[f]; ok {
			fn, _ := sel.Obj().(*types.Func)
			return fn
		}
		id = f.Sel
	default:
		return nil
	}
	fn, _ := c.pass.TypesInfo.Uses[id].(*types.Func)
	return fn
}

// enclosingFuncs yields the bodies of the functions enclosing the top of
// stack, innermost first.
func enclosingFuncs(stack []ast.Node) []ast.Node {
	var out []ast.Node
	for i := len(stack) - 1; i >= 0; i-- {
		switch stack[i].(type) {
		case *ast.FuncLit, *ast.FuncDecl:
			out = append(out, stack[i])
		}
	}
	return out
}
