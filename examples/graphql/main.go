// Command graphql shows the gqlgen @breaker directive (schema in
// graph/schema.graphqls): a field whose service fails trips the breaker of
// its guard; then the field resolves to null with an error whose extensions
// carry CIRCUIT_OPEN and retryAfter, while a field with a fallback answers
// from it, and the rest of the query is unaffected.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/fallback"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"

	"github.com/breakerbox/breakerbox/examples/graphql/graph"
)

// resolver answers from a quotes service that is down.
type resolver struct{}

func (resolver) Query() graph.QueryResolver { return resolver{} }

func (resolver) Quote(ctx context.Context, symbol string) (*graph.Quote, error) {
	return nil, errors.New("quotes: connection refused")
}

func (r resolver) CachedQuote(ctx context.Context, symbol string) (*graph.Quote, error) {
	return r.Quote(ctx, symbol)
}

func main() {
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{
		Name:    "quotes",
		Breaker: &core.BreakerPolicy{WindowSize: 10, MinCalls: 3, FailureRate: 50, OpenDuration: core.Duration(30 * time.Second)},
	}))
	if err != nil {
		log.Fatal(err)
	}
	opts := []bbgraphql.Option{bbgraphql.WithFallback("lastQuote", func(context.Context, fallback.Cause) (any, error) {
		return &graph.Quote{Symbol: "ACME", Price: 41.5, Stale: true}, nil
	})}
	// The one line: the directive's implementation.
	cfg := graph.Config{Resolvers: resolver{}}
	cfg.Directives.Breaker = bbgraphql.Directive(reg, opts...)
	es := graph.NewExecutableSchema(cfg)
	if err := bbgraphql.Validate(es.Schema(), reg, opts...); err != nil {
		log.Fatal(err) // a misspelt guard or fallback name in the schema
	}
	srv := handler.New(es)
	srv.AddTransport(transport.POST{})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	quote := `{ quote(symbol: "ACME") { price } }`
	both := `{ quote(symbol: "ACME") { price } cachedQuote(symbol: "ACME") { price stale } }`
	for _, q := range []string{quote, quote, quote, both} { // three failures open the breaker
		resp, err := http.Post(ts.URL, "application/json", strings.NewReader(fmt.Sprintf(`{"query": %q}`, q)))
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%s\n  %s\n", q, body)
	}
}
