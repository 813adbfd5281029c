package graphql_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/breakerbox/breakerbox/core/breaker"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
	"github.com/breakerbox/breakerbox/graphql/internal/testserver"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// benchItems is the number of items (and so of guarded fields) per query.
const benchItems = 200

// passThrough is a @breaker implementation that does nothing: gqlgen's own
// cost of a field with a directive.
func passThrough(ctx context.Context, _ any, next graphql.Resolver, _, _, _ *string) (any, error) {
	return next(ctx)
}

// newBenchExecutor returns gqlgen's executor for the test schema, with the
// directive d and the extensions exts, and a query cache so that a query is
// parsed once.
func newBenchExecutor(d bbgraphql.DirectiveFunc, exts ...graphql.HandlerExtension) *executor.Executor {
	es := testserver.New(&testserver.Resolver{}, testserver.DirectiveRoot{Breaker: d})
	exec := executor.New(es)
	exec.SetQueryCache(lru.New[*ast.QueryDocument](10))
	for _, e := range exts {
		exec.Use(e)
	}
	return exec
}

// execute runs query on exec and fails on any error.
func execute(tb testing.TB, exec *executor.Executor, query string) {
	ctx := graphql.StartOperationTrace(context.Background())
	rc, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: query})
	if errs != nil {
		tb.Fatal(errs)
	}
	h, ctx := exec.DispatchOperation(ctx, rc)
	if r := h(ctx); len(r.Errors) != 0 {
		tb.Fatal(r.Errors)
	}
}

// BenchmarkFieldOverhead measures what a guard adds to a field whose
// resolver is trivial, against gqlgen's own cost for the same field:
// "ns/field" is the time per query divided by the benchItems fields it
// resolves, and "cpu-ns/field" the process's CPU time per field (which
// includes the garbage collector's, and which contention from other
// processes distorts less). Compare fields-noop (a field middleware that
// does nothing) with fields (the field middleware guarding Item.value), and
// directive-noop with directive (the @breaker directive); plain has no
// middleware at all. BenchmarkFieldOverheadRatio makes the same comparisons
// in a way that a loaded machine distorts less.
func BenchmarkFieldOverhead(b *testing.B) {
	reg := newRegistry(b)
	const value = `{ items(n: 200) { value } }`
	const guarded = `{ items(n: 200) { guarded } }`
	cases := []struct {
		name  string
		exec  *executor.Executor
		query string
	}{
		{"plain", newBenchExecutor(passThrough), value},
		{"fields-noop", newBenchExecutor(passThrough, noopFields{}), value},
		{"fields", newBenchExecutor(passThrough, bbgraphql.Fields(reg, bbgraphql.GuardFields("Item.value"))), value},
		{"fields-unselected", newBenchExecutor(passThrough, bbgraphql.Fields(reg, bbgraphql.GuardFields("Query.hello"))), value},
		{"fields-resolvers", newBenchExecutor(passThrough, bbgraphql.Fields(reg)), value},
		{"directive-noop", newBenchExecutor(passThrough), guarded},
		{"directive", newBenchExecutor(bbgraphql.Directive(reg)), guarded},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			execute(b, c.exec, c.query)
			b.ReportAllocs()
			cpu := cpuTime()
			for b.Loop() {
				execute(b, c.exec, c.query)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchItems, "ns/field")
			if cpu > 0 {
				b.ReportMetric(float64((cpuTime()-cpu).Nanoseconds())/float64(b.N)/benchItems, "cpu-ns/field")
			}
		})
		b.Run(c.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					execute(b, c.exec, c.query)
				}
			})
		})
	}
}

// fieldContext returns a context holding a FieldContext for typ.field, as
// gqlgen builds it.
func fieldContext(typ, field string, resolver bool) context.Context {
	fc := &graphql.FieldContext{
		Object:     typ,
		IsResolver: resolver,
		Field:      graphql.CollectedField{Field: &ast.Field{Name: field, Alias: field, Definition: &ast.FieldDefinition{Name: field}}},
	}
	return graphql.WithFieldContext(context.Background(), fc)
}

func trivial(context.Context) (any, error) { return 1, nil }

// BenchmarkDirectiveCall measures the directive alone around a trivial
// resolver: a guard lookup by name, admission and report.
func BenchmarkDirectiveCall(b *testing.B) {
	reg := newRegistry(b)
	d := bbgraphql.Directive(reg)
	ctx := fieldContext("Query", "quote", true)
	keyedCtx := fieldContext("Query", "slow", true)
	downCtx := fieldContext("Query", "price", true)
	name := "quotes"
	b.Run("named", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = d(ctx, nil, trivial, &name, nil, nil)
		}
	})
	b.Run("keyed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = d(keyedCtx, nil, trivial, nil, nil, nil)
		}
	})
	b.Run("named-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = d(ctx, nil, trivial, &name, nil, nil)
			}
		})
	})
	b.Run("open", func(b *testing.B) {
		reg.MustGuard("down").ForceOpen(breakerManual)
		down := "down"
		b.ReportAllocs()
		for b.Loop() {
			_, _ = d(downCtx, nil, trivial, &down, nil, nil)
		}
	})
}

// BenchmarkInterceptField measures the field middleware alone: a guarded
// field, a field it looks up and leaves, and a field that is not a
// resolver.
func BenchmarkInterceptField(b *testing.B) {
	reg := newRegistry(b)
	f := bbgraphql.Fields(reg)
	for _, c := range []struct {
		name string
		ctx  context.Context
	}{
		{"guarded", fieldContext("Query", "weather", true)},
		{"trivial", fieldContext("Quote", "symbol", false)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = f.InterceptField(c.ctx, trivial)
			}
		})
		b.Run(c.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = f.InterceptField(c.ctx, trivial)
				}
			})
		})
	}
	sel := bbgraphql.Fields(reg, bbgraphql.GuardFields("Query.hello"))
	ctx := fieldContext("Query", "weather", true)
	b.Run("unselected", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = sel.InterceptField(ctx, trivial)
		}
	})
}

// BenchmarkOperation measures the operation middleware's admission alone.
func BenchmarkOperation(b *testing.B) {
	ops := bbgraphql.Operations(bbgraphql.LimitPerClient(mustKeyed(b), bbgraphql.HeaderKey("X-Api-Key")))
	oc := &graphql.OperationContext{Headers: map[string][]string{"X-Api-Key": {"alice"}}, Operation: &ast.OperationDefinition{Operation: ast.Query}}
	ctx := graphql.WithOperationContext(context.Background(), oc)
	resp := &graphql.Response{}
	h := func(context.Context) *graphql.Response { return resp }
	next := func(context.Context) graphql.ResponseHandler { return h }
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			ops.InterceptOperation(ctx, next)(ctx)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ops.InterceptOperation(ctx, next)(ctx)
			}
		})
	})
}

var breakerManual = breaker.Manual{Actor: "bench", Reason: "benchmark of the rejection path"}

// mustKeyed returns a per-client limiter that never limits a benchmark.
func mustKeyed(tb testing.TB) *ratelimit.Keyed {
	tb.Helper()
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Limit: 1e9, Burst: 1 << 30}})
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// noopFields is a field middleware that does nothing: gqlgen's own cost of
// having one.
type noopFields struct{}

func (noopFields) ExtensionName() string                   { return "noop" }
func (noopFields) Validate(graphql.ExecutableSchema) error { return nil }
func (noopFields) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	return next(ctx)
}

// BenchmarkFieldOverheadRatio runs a query without and with a guard on each
// of its benchItems fields, alternately, and reports the median time per
// field of each and the guard's overhead as a percentage of gqlgen's own
// per-field cost. The baseline has a middleware or directive that does
// nothing, so that the overhead is the guard's, not that of gqlgen's
// middleware chain. Alternating the two at a fine grain exposes both to the
// same conditions, which matters on a shared machine.
func BenchmarkFieldOverheadRatio(b *testing.B) {
	reg := newRegistry(b)
	for _, c := range []struct {
		name      string
		base, grd *executor.Executor
		query     string
	}{
		{"fields", newBenchExecutor(passThrough, noopFields{}), newBenchExecutor(passThrough, bbgraphql.Fields(reg, bbgraphql.GuardFields("Item.value"))), `{ items(n: 200) { value } }`},
		{"fields-resolvers", newBenchExecutor(passThrough, noopFields{}), newBenchExecutor(passThrough, bbgraphql.Fields(reg)), `{ items(n: 200) { value } }`},
		{"directive", newBenchExecutor(passThrough), newBenchExecutor(bbgraphql.Directive(reg)), `{ items(n: 200) { guarded } }`},
	} {
		b.Run(c.name, func(b *testing.B) {
			execute(b, c.base, c.query)
			execute(b, c.grd, c.query)
			var base, grd []time.Duration
			timed := func(e *executor.Executor) time.Duration {
				t := time.Now()
				execute(b, e, c.query)
				return time.Since(t)
			}
			for i := 0; b.Loop(); i++ {
				if i%2 == 0 {
					base = append(base, timed(c.base))
					grd = append(grd, timed(c.grd))
				} else {
					grd = append(grd, timed(c.grd))
					base = append(base, timed(c.base))
				}
			}
			mb, mg := median(base)/benchItems, median(grd)/benchItems
			b.ReportMetric(float64(mb), "base-ns/field")
			b.ReportMetric(float64(mg), "guarded-ns/field")
			b.ReportMetric(100*float64(mg-mb)/float64(mb), "overhead-%")
		})
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
