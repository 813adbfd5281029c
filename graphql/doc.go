// Package graphql puts breakerbox guards on gqlgen GraphQL servers: a
// @breaker schema directive, a field middleware that guards resolvers
// without touching the schema, and an operation middleware that turns whole
// operations away early. It is a module of its own
// (github.com/breakerbox/breakerbox/graphql), so that users of the core do
// not download gqlgen. Import it under another name than gqlgen's graphql
// package, for example bbgraphql.
//
// # The directive
//
// Declare the directive in the schema (the declaration is [Schema]):
//
//	directive @breaker(name: String, fallback: String, timeout: String) on FIELD_DEFINITION
//
//	type Query {
//	  price(symbol: String!): Float @breaker(name: "quotes")
//	  cachedPrice(symbol: String!): Float @breaker(name: "quotes", fallback: "cachedPrice", timeout: "2s")
//	  news: [Story!] @breaker
//	}
//
// All arguments are optional. name is the guard's name in the registry
// (default: the field's key, "Query.news"); fields served by one dependency
// share a name, and so one breaker. fallback names a function registered
// with [WithFallback] that supplies the field's value when it fails.
// timeout, a Go duration, bounds the guarded call and gives the resolver a
// context with that deadline.
//
// Implement it with [Directive] and check the schema at start-up with
// [Validate], given the same options. From the Directive example, where
// Config and NewExecutableSchema are those gqlgen generates from the schema
// (graph.Config and graph.NewExecutableSchema in gqlgen's default layout):
//
//	opts := []bbgraphql.Option{bbgraphql.WithFallback("cachedPrice", cachedPrice)}
//	cfg := Config{Resolvers: &resolver{}}
//	cfg.Directives.Breaker = bbgraphql.Directive(reg, opts...)
//	es := NewExecutableSchema(cfg)
//	if err := bbgraphql.Validate(es.Schema(), reg, opts...); err != nil {
//		log.Fatal(err) // an unknown guard or fallback name, a bad timeout
//	}
//
// Each call of the field runs its resolver through the guard: the guard's
// rate limit, bulkhead and breaker admit it, and its outcome is reported
// (a resolver error is a failure, a panic too, and a cancelled request is
// ignored; [WithClassifier] changes that). A policy with retries, timeouts
// or fallbacks runs the resolver through core.Do, so those apply too. The
// fields of the returned value are resolved afterwards with the field's own
// context, never with a deadline the guard cancelled.
//
// # Errors, partial results and null propagation
//
// A rejected or failed field resolves to null and adds an error to the
// response, and the rest of the query still answers. A rejection or a
// timeout is reported by [FieldError] with extensions that clients can act
// on; any other error is the resolver's own, unchanged:
//
//	{"data": {"price": null, "cachedPrice": 41.5, "hello": "hello"},
//	 "errors": [{"message": "breakerbox: guard \"quotes\" rejected the call: breaker: open",
//	             "path": ["price"],
//	             "extensions": {"code": "CIRCUIT_OPEN", "retryAfter": 12}}]}
//
// code is CIRCUIT_OPEN, BULKHEAD_FULL, RATE_LIMITED or TIMEOUT (see the
// Code constants); retryAfter is in whole seconds, at least 1.
//
// GraphQL's null propagation applies as to any field error: a nullable
// field becomes null on its own, but a non-null field (Float!) cannot, so
// its parent becomes null in its place, up to the nearest nullable field,
// and if there is none up to data itself, which is then null. Guard
// nullable fields where a partial answer is useful, or give non-null ones a
// fallback, so that one failing dependency does not blank a whole object
// or response.
//
// # Fallbacks
//
// A fallback registered with [WithFallback] is a fallback.Func: it gets the
// cause (its kind tells a rejection from a failure or a timeout) and
// returns the field's value, which must have the type the resolver returns,
// or an error, in which case the field fails with the original error.
// Fallbacks of the registry's policies (core.WithFallback and
// Policy.Fallbacks) run first, inside the guard.
//
// # The field middleware
//
// [Fields] guards resolvers chosen by type ([GuardTypes]), by field
// ([GuardFields]), by a predicate ([GuardFunc]), or every resolver that is
// not a trivial read of a struct field ([GuardResolvers], the default),
// each under the guard named by its key, "Type.field":
//
//	srv := handler.New(es)
//	srv.Use(bbgraphql.Fields(reg, bbgraphql.WithTags("graphql")))
//
// A policy can then match groups of fields, such as Match: ["Query.*"].
// Fields that carry the directive are left to it. On a subscription field,
// the guard covers the resolver that starts the subscription, not each
// event.
//
// # Operations
//
// [Operations] rejects whole operations before they run: per client with
// a keyed rate limiter ([LimitPerClient]) and overall with a bulkhead
// ([LimitConcurrent]). A rejected operation is answered once, with
// graphql.OneShot, so that WebSocket and server-sent-event transports end
// it cleanly instead of looping; a rejected subscription gets one error and
// a "complete".
//
// # Cost
//
// Each field's guard is looked up once and cached (and replaced when the
// registry prunes it), so a guarded field costs a lock-free lookup by the
// field's definition, the guard's admission and report, and no allocation:
// about 100ns on this project's machines, a few percent of what gqlgen
// spends on a field with a trivial resolver (see BenchmarkFieldOverheadRatio).
// A field the middleware does not guard costs one lookup, or one branch
// for a plain struct field under the default selection. gqlgen resolves
// many fields on goroutines of their own, which start with a small stack,
// so the guarded path is kept shallow: a deep one would make those
// goroutines grow their stacks, which costs more than the guard.
package graphql
