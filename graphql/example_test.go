package graphql_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
	bbgraphql "github.com/breakerbox/breakerbox/graphql"
	"github.com/breakerbox/breakerbox/graphql/internal/testserver"
	"github.com/breakerbox/breakerbox/ratelimit"
)

// post sends query to srv and prints the response.
func post(srv http.Handler, query string, header ...string) {
	body := `{"query":` + fmt.Sprintf("%q", query) + `}`
	req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	fmt.Println(rec.Body.String())
}

// The @breaker directive on a schema such as
//
//	type Query {
//	  quote(symbol: String!): Quote @breaker(name: "quotes")
//	  cachedQuote(symbol: String!): Quote @breaker(name: "quotes", fallback: "cachedQuote")
//	  hello: String!
//	}
//
// guards the quote fields with the registry's guard "quotes". Here an
// operator has forced it open: quote resolves to null with an error
// carrying the code and retryAfter, cachedQuote is answered by its
// fallback, and hello answers as usual.
func ExampleDirective() {
	reg, err := core.NewRegistry(core.WithPolicies(
		core.Policy{Name: "quotes", Breaker: &core.BreakerPolicy{FailureRate: 50, OpenDuration: core.Duration(30 * time.Second)}},
		core.Policy{Name: "market", Match: []string{"prices", "news", "bench"}},
	))
	if err != nil {
		panic(err)
	}
	opts := []bbgraphql.Option{
		bbgraphql.WithFallback("cachedQuote", func(ctx context.Context, c fallback.Cause) (any, error) {
			return &testserver.Quote{Symbol: "ACME", Price: 41.5}, nil // from a cache
		}),
	}

	// With gqlgen's generated code:
	//   cfg := generated.Config{Resolvers: &resolver{}}
	//   cfg.Directives.Breaker = bbgraphql.Directive(reg, opts...)
	es := testserver.New(&testserver.Resolver{}, testserver.DirectiveRoot{Breaker: bbgraphql.Directive(reg, opts...)})
	if err := bbgraphql.Validate(es.Schema(), reg, opts...); err != nil {
		panic(err) // a typo in the schema stops the server at start-up
	}
	srv := handler.New(es)
	srv.AddTransport(transport.POST{})

	if _, err := reg.ForceOpen(core.Name("quotes"), breaker.Manual{Actor: "sre", Reason: "provider outage"}); err != nil {
		panic(err)
	}
	post(srv, `{ quote(symbol: "ACME") { price } cachedQuote(symbol: "ACME") { price } hello }`)
	// Output:
	// {"errors":[{"message":"breakerbox: guard \"quotes\" rejected the call: breaker: open","path":["quote"],"locations":[{"line":1,"column":3}],"extensions":{"code":"CIRCUIT_OPEN","retryAfter":1}}],"data":{"quote":null,"cachedQuote":{"price":41.5},"hello":"hello"}}
}

// Validate reports the mistakes in a schema's use of @breaker when the
// server starts.
func ExampleValidate() {
	reg, _ := core.NewRegistry(core.WithPolicies(core.Policy{Name: "payments", Match: []string{"payments.*"}}))
	es := testserver.New(&testserver.Resolver{}, testserver.DirectiveRoot{})
	err := bbgraphql.Validate(es.Schema(), reg)
	for _, line := range strings.Split(err.Error(), "\n")[:2] {
		fmt.Println(line)
	}
	// Output:
	// graphql: @breaker on Item.guarded: name: "bench" is the name of no guard and matches no policy of the registry
	// graphql: @breaker on Portfolio.value: name: "prices" is the name of no guard and matches no policy of the registry
}

// Fields guards resolvers without touching the schema, each under the
// guard "Type.field".
func ExampleFields() {
	reg, _ := core.NewRegistry()
	res := &testserver.Resolver{WeatherFn: func(context.Context, string) (*string, error) {
		return nil, errors.New("weather service: 503")
	}}
	es := testserver.New(res, testserver.DirectiveRoot{Breaker: bbgraphql.Directive(reg)})
	srv := handler.New(es)
	srv.AddTransport(transport.POST{})
	srv.Use(bbgraphql.Fields(reg, bbgraphql.GuardTypes("Query")))

	post(srv, `{ weather(city: "Oslo") hello }`)
	g, _ := reg.Lookup("Query.weather")
	fmt.Println(g.Snapshot().Breaker.Failed, "failure recorded by", g.Name())
	// Output:
	// {"errors":[{"message":"weather service: 503","path":["weather"],"locations":[{"line":1,"column":3}]}],"data":{"weather":null,"hello":"hello"}}
	// 1 failure recorded by Query.weather
}

// Operations turns away whole operations early: here, past one operation
// per minute for each API key.
func ExampleOperations() {
	perClient, _ := ratelimit.NewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Limit: 1, Per: time.Minute, Precise: true}})
	reg, _ := core.NewRegistry()
	es := testserver.New(&testserver.Resolver{}, testserver.DirectiveRoot{Breaker: bbgraphql.Directive(reg)})
	srv := handler.New(es)
	srv.AddTransport(transport.POST{})
	srv.Use(bbgraphql.Operations(bbgraphql.LimitPerClient(perClient, bbgraphql.HeaderKey("X-Api-Key"))))

	post(srv, `{ hello }`, "X-Api-Key", "alice")
	post(srv, `{ hello }`, "X-Api-Key", "alice")
	// Output:
	// {"data":{"hello":"hello"}}
	// {"errors":[{"message":"operation rejected: ratelimit: limited","extensions":{"code":"RATE_LIMITED","retryAfter":60}}],"data":null}
}

// FieldError gives rejections and timeouts a code and a retryAfter for
// clients; other errors pass unchanged.
func ExampleFieldError() {
	reg, _ := core.NewRegistry()
	g := reg.MustGuard("quotes")
	g.OpenFor(90*time.Second, breaker.Manual{Actor: "sre"})
	_, err := g.Allow(context.Background())

	e := bbgraphql.FieldError(context.Background(), err).(*gqlerror.Error)
	fmt.Println(e.Message)
	fmt.Println(e.Extensions)
	fmt.Println(bbgraphql.Code(err), bbgraphql.Code(context.DeadlineExceeded), bbgraphql.Code(errors.New("other")) == "")
	// Output:
	// breakerbox: guard "quotes" rejected the call: breaker: open
	// map[code:CIRCUIT_OPEN retryAfter:90]
	// CIRCUIT_OPEN TIMEOUT true
}
