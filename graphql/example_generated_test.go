package graphql_test

// This file stands in for the code that `go tool gqlgen generate` writes
// from a schema (Config, DirectiveRoot, NewExecutableSchema), so that the
// examples run with public packages only. It is written by hand, resolves
// only the scalar fields of Query below, and calls the @breaker directive
// and the server's field middleware where generated code calls them; in a
// real server, use the generated package instead.

import (
	"bytes"
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	bbgraphql "github.com/breakerbox/breakerbox/graphql"
)

// exampleSchema is the schema of the examples: schema.graphqls in a gqlgen
// project.
const exampleSchema = bbgraphql.Schema + `

type Query {
  "A price from the quotes service, guarded by the guard \"quotes\"."
  price(symbol: String!): Float @breaker(name: "quotes")
  "The same price, answered from a cache when the quotes service is down."
  cachedPrice(symbol: String!): Float @breaker(name: "quotes", fallback: "cachedPrice")
  "A resolver without the directive, for the field middleware."
  weather(city: String!): String
  "A trivial field."
  hello: String!
}
`

// QueryResolver is what the user implements, as in generated code.
type QueryResolver interface {
	Price(ctx context.Context, symbol string) (*float64, error)
	CachedPrice(ctx context.Context, symbol string) (*float64, error)
	Weather(ctx context.Context, city string) (*string, error)
	Hello(ctx context.Context) (string, error)
}

// DirectiveRoot holds the implementations of the schema's directives.
type DirectiveRoot struct {
	Breaker func(ctx context.Context, obj any, next graphql.Resolver, name, fallback, timeout *string) (any, error)
}

// Config configures NewExecutableSchema.
type Config struct {
	Resolvers  QueryResolver
	Directives DirectiveRoot
}

// NewExecutableSchema returns the schema for gqlgen's handler.New.
func NewExecutableSchema(cfg Config) graphql.ExecutableSchema {
	return &executableSchema{
		cfg:    cfg,
		schema: gqlparser.MustLoadSchema(&ast.Source{Name: "schema.graphqls", Input: exampleSchema}),
	}
}

type executableSchema struct {
	cfg    Config
	schema *ast.Schema
}

func (e *executableSchema) Schema() *ast.Schema { return e.schema }

func (e *executableSchema) Complexity(context.Context, string, string, int, map[string]any) (int, bool) {
	return 0, false
}

func (e *executableSchema) Exec(ctx context.Context) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation.Operation != ast.Query {
		return graphql.OneShot(graphql.ErrorResponse(ctx, "only queries are supported"))
	}
	done := false
	return func(ctx context.Context) *graphql.Response {
		if done {
			return nil
		}
		done = true
		var buf bytes.Buffer
		e.query(ctx, oc).MarshalGQL(&buf)
		return &graphql.Response{Data: buf.Bytes()}
	}
}

// query resolves the root fields, each through the server's root field
// middleware; a non-null field that resolves to null nulls data.
func (e *executableSchema) query(ctx context.Context, oc *graphql.OperationContext) graphql.Marshaler {
	fields := graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Query"})
	ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: "Query"})
	out := graphql.NewFieldSet(fields)
	for i, field := range fields {
		if field.Name == "__typename" {
			out.Values[i] = graphql.MarshalString("Query")
			continue
		}
		rctx := graphql.WithRootFieldContext(ctx, &graphql.RootFieldContext{Object: field.Name, Field: field})
		out.Values[i] = oc.RootResolverMiddleware(rctx, func(ctx context.Context) graphql.Marshaler {
			return e.field(ctx, oc, field)
		})
		if out.Values[i] == graphql.Null && field.Definition.Type.NonNull {
			return graphql.Null
		}
	}
	out.Dispatch(ctx)
	return out
}

// field resolves one root field with graphql.ResolveField, as generated code
// does: the field middleware (oc.ResolverMiddleware) runs around the
// directives, which run around the resolver.
func (e *executableSchema) field(ctx context.Context, oc *graphql.OperationContext, field graphql.CollectedField) graphql.Marshaler {
	r := e.cfg.Resolvers
	switch field.Name {
	case "price":
		return resolve(ctx, oc, field, e.directives(oc, field), func(ctx context.Context, args map[string]any) (*float64, error) {
			return r.Price(ctx, args["symbol"].(string))
		}, marshalFloat)
	case "cachedPrice":
		return resolve(ctx, oc, field, e.directives(oc, field), func(ctx context.Context, args map[string]any) (*float64, error) {
			return r.CachedPrice(ctx, args["symbol"].(string))
		}, marshalFloat)
	case "weather":
		return resolve(ctx, oc, field, nil, func(ctx context.Context, args map[string]any) (*string, error) {
			return r.Weather(ctx, args["city"].(string))
		}, marshalString)
	case "hello":
		return resolve(ctx, oc, field, nil, func(ctx context.Context, _ map[string]any) (string, error) {
			return r.Hello(ctx)
		}, graphql.MarshalString)
	}
	return graphql.Null // __schema and __type: this stand-in has no introspection
}

func resolve[T any](ctx context.Context, oc *graphql.OperationContext, field graphql.CollectedField,
	directives func(context.Context, graphql.Resolver) graphql.Resolver,
	fn func(context.Context, map[string]any) (T, error), marshal func(T) graphql.Marshaler,
) graphql.Marshaler {
	return graphql.ResolveField(ctx, oc, field,
		func(ctx context.Context, field graphql.CollectedField) (*graphql.FieldContext, error) {
			return &graphql.FieldContext{
				Object:     "Query",
				Field:      field,
				Args:       field.ArgumentMap(oc.Variables),
				IsMethod:   true,
				IsResolver: true,
			}, nil
		},
		func(ctx context.Context) (any, error) {
			return fn(ctx, graphql.GetFieldContext(ctx).Args)
		},
		directives,
		func(_ context.Context, _ ast.SelectionSet, v T) graphql.Marshaler { return marshal(v) },
		true, field.Definition.Type.NonNull,
	)
}

// directives returns the middleware that calls a field's @breaker
// directive with the arguments the schema gives it.
func (e *executableSchema) directives(oc *graphql.OperationContext, field graphql.CollectedField) func(context.Context, graphql.Resolver) graphql.Resolver {
	d := field.Definition.Directives.ForName(bbgraphql.DirectiveName)
	if d == nil {
		return nil
	}
	args := d.ArgumentMap(oc.Variables)
	arg := func(name string) *string {
		if s, ok := args[name].(string); ok {
			return &s
		}
		return nil
	}
	return func(ctx context.Context, next graphql.Resolver) graphql.Resolver {
		return func(ctx context.Context) (any, error) {
			if e.cfg.Directives.Breaker == nil {
				return nil, errors.New("directive breaker is not implemented")
			}
			return e.cfg.Directives.Breaker(ctx, nil, next, arg("name"), arg("fallback"), arg("timeout"))
		}
	}
}

func marshalFloat(v *float64) graphql.Marshaler {
	if v == nil {
		return graphql.Null
	}
	return graphql.MarshalFloat(*v)
}

func marshalString(v *string) graphql.Marshaler {
	if v == nil {
		return graphql.Null
	}
	return graphql.MarshalString(*v)
}
