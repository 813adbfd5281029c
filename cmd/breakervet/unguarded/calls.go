package unguarded

import (
	"fmt"
	"go/ast"
	"go/types"
	"slices"
)

// The net/http functions that send through http.DefaultClient.
var httpFuncs = map[string]bool{"Get": true, "Head": true, "Post": true, "PostForm": true}

// The gRPC functions that create a client connection.
var grpcDials = map[string]bool{"NewClient": true, "Dial": true, "DialContext": true}

// The database/sql methods that reach the database, by receiver type.
var sqlMethods = map[string][]string{
	"DB":   {"Query", "QueryContext", "QueryRow", "QueryRowContext", "Exec", "ExecContext", "Prepare", "PrepareContext", "Begin", "BeginTx"},
	"Tx":   {"Query", "QueryContext", "QueryRow", "QueryRowContext", "Exec", "ExecContext", "Prepare", "PrepareContext"},
	"Conn": {"QueryContext", "QueryRowContext", "ExecContext", "PrepareContext", "BeginTx"},
	"Stmt": {"Query", "QueryContext", "QueryRow", "QueryRowContext", "Exec", "ExecContext"},
}

// The go-redis module paths.
var redisPaths = map[string]bool{
	"github.com/redis/go-redis/v9": true,
	"github.com/go-redis/redis/v8": true,
	"github.com/go-redis/redis/v7": true,
}

// The go-redis receiver types whose context-taking methods are commands.
var redisClients = map[string]bool{
	"Client": true, "ClusterClient": true, "Ring": true, "UniversalClient": true,
	"Cmdable": true, "Conn": true, "Tx": true,
}

// call checks one call expression.
func (c *checker) call(f *ast.File, call *ast.CallExpr, stack []ast.Node) {
	fn := c.callee(call)
	if fn == nil || fn.Pkg() == nil {
		return
	}
	sig, _ := fn.Type().(*types.Signature)
	if sig == nil {
		return
	}
	path := fn.Pkg().Path()
	switch {
	case path == httpPath && sig.Recv() == nil && httpFuncs[fn.Name()]:
		c.report(stack, finding{
			node:     call,
			key:      funcKey(fn),
			category: "http",
			message: fmt.Sprintf("http.%s sends through http.DefaultClient, whose transport no breakerbox guard wraps; "+
				"use an *http.Client whose Transport is httpmw.NewTransport(...)", fn.Name()),
		})
	case path == grpcPath && sig.Recv() == nil && grpcDials[fn.Name()]:
		c.grpcDial(f, call, fn, stack)
	case path == sqlPath && sig.Recv() != nil:
		n := namedOf(sig.Recv().Type())
		if n == nil || !slices.Contains(sqlMethods[n.Obj().Name()], fn.Name()) || c.guarded(stack) {
			return
		}
		c.report(stack, finding{
			node:     call,
			key:      funcKey(fn),
			category: "sql",
			message: fmt.Sprintf("(*sql.%s).%s runs outside a breakerbox guard; "+
				"call it inside core.Do or Guard.Do, or between Guard.Allow and Permit.Done", n.Obj().Name(), fn.Name()),
		})
	case redisPaths[path] && sig.Recv() != nil:
		c.redisCall(call, fn, sig, stack)
	}
}

// redisCall checks a go-redis method call.
func (c *checker) redisCall(call *ast.CallExpr, fn *types.Func, sig *types.Signature, stack []ast.Node) {
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return
	}
	recv := namedOf(c.pass.TypesInfo.TypeOf(sel.X))
	if recv == nil || recv.Obj().Pkg() == nil || !redisPaths[recv.Obj().Pkg().Path()] {
		return
	}
	name := recv.Obj().Name()
	switch {
	case redisClients[name]:
		if sig.Params().Len() == 0 || !isNamed(sig.Params().At(0).Type(), "context", "Context") {
			return
		}
	case name == "Pipeliner" || name == "Pipeline":
		if fn.Name() != "Exec" {
			return
		}
	default:
		return
	}
	if c.guarded(stack) {
		return
	}
	c.report(stack, finding{
		node:     call,
		key:      recv.Obj().Pkg().Path() + "." + name + "." + fn.Name(),
		category: "redis",
		message: fmt.Sprintf("redis %s.%s runs outside a breakerbox guard; "+
			"call it inside core.Do or Guard.Do, or between Guard.Allow and Permit.Done", name, fn.Name()),
	})
}
