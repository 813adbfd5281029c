// Package unguarded defines an analysis.Analyzer that reports outbound
// calls no breakerbox guard protects. Command breakervet runs it; other
// drivers can embed Analyzer.
//
// # What it reports
//
// net/http:
//   - calls of http.Get, http.Head, http.Post and http.PostForm, which send
//     through http.DefaultClient;
//   - every use of http.DefaultClient (except as the target of an
//     assignment to its Transport field, which is judged as below);
//   - an http.Client composite literal with no Transport field (it sends
//     through http.DefaultTransport), unless the variable it is assigned to
//     has its Transport field assigned later in the same function;
//   - an http.Client Transport, in a composite literal or an assignment to
//     the field, that is provably not wrapped: nil, http.DefaultTransport or
//     any expression whose static type is *http.Transport.
//
// A transport whose static type is *httpmw.Transport is guarded. Any other
// transport expression (an http.RoundTripper variable, a call of another
// library's wrapper) is not reported: the analyzer does not follow values
// across assignments, calls or packages, and reports only what the
// expression itself proves.
//
// gRPC: calls of grpc.NewClient, grpc.Dial and grpc.DialContext whose
// arguments do not mention grpcmw.UnaryClientInterceptor or
// grpcmw.StreamClientInterceptor. One of the two is enough. When the
// options are spread from a slice (opts...), the call is reported only if
// the slice is a variable declared in the same function and that function
// mentions neither interceptor; a slice from a parameter, a field or a call
// is not reported.
//
// database/sql: the methods Query, QueryContext, QueryRow, QueryRowContext,
// Exec, ExecContext, Prepare, PrepareContext, Begin and BeginTx of *sql.DB,
// *sql.Tx, *sql.Conn and *sql.Stmt (those each type has), when the call is
// not guarded.
//
// go-redis (github.com/redis/go-redis/v9, github.com/go-redis/redis/v8 and
// v7): methods whose first parameter is a context.Context, called on a
// Client, ClusterClient, Ring, UniversalClient, Cmdable, Conn or Tx, and
// Exec on a Pipeliner or Pipeline, when the call is not guarded. Commands
// queued on a pipeline are not calls; the pipeline's Exec (or the
// Pipelined call) is.
//
// # When a call is guarded
//
// The rule is lexical. A database/sql or go-redis call is guarded when one
// of these holds:
//
//  1. it is inside a function literal passed as an argument to a guard
//     function: core.Do, (*core.Guard).Do, or one named with -guards;
//  2. it is inside a function or method declaration that the package passes,
//     by name or as a method value, to a guard function (g.Do(ctx, s.load)
//     guards the body of load);
//  3. it is inside a function body that calls (*core.Guard).Allow before
//     the call and either calls a Permit's Done, Finish or Report after the
//     call, or defers such a call between the Allow and the call.
//
// Each rule is checked for every enclosing function, so a call inside a
// closure inside a guarded literal is guarded. The rule does not follow
// calls: a helper that queries the database and is called from inside a
// guard, but not passed to it, is reported at its query (suppress it, or
// allow-list the helper). Rule 3 does not follow control flow: the return
// on Allow's error path is not checked.
//
// # Allow-list
//
// The -allow flag takes a comma-separated list (the flag may be repeated)
// of entries of the form importpath.Func, importpath.Type.Method or
// importpath.* . A finding is dropped when an entry names the called
// function (net/http.Get, database/sql.DB.Query, google.golang.org/grpc.NewClient,
// github.com/redis/go-redis/v9.Client.Get — the type is the receiver's,
// as written at the call), the reported value (net/http.DefaultClient,
// net/http.Client for a literal or a Transport assignment), or a function
// or method declaration that encloses the finding
// (example.com/app/migrate.Run). An entry ending in .* names every
// function of that package, called or enclosing.
//
// # Suppression
//
// A comment //breakervet:ignore reason on the line of a finding or on the
// line above it drops the finding. The reason is required: a
// //breakervet:ignore without one (text after a second // does not count)
// drops nothing and is itself reported.
//
// # Suggested fixes
//
// An http.Client literal with no Transport gets
// Transport: httpmw.NewTransport(nil); a provably unwrapped transport x is
// replaced by httpmw.NewTransport(x). A gRPC client call gets
// grpc.WithChainUnaryInterceptor(grpcmw.UnaryClientInterceptor(reg)) and
// grpc.WithChainStreamInterceptor(grpcmw.StreamClientInterceptor(reg))
// appended to its options. reg is the innermost variable of type
// *core.Registry in scope at the call; the HTTP fix then also passes
// httpmw.WithRegistry(reg). Without such a variable the HTTP fix lets the
// transport build its own registry, and the gRPC call gets no fix (an
// interceptor without a registry guards nothing). The fixes add the import
// they need. database/sql and go-redis findings have no mechanical fix.
package unguarded
