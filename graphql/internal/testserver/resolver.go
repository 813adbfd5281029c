// Package testserver is the GraphQL server of the graphql package's tests,
// examples and benchmarks: schema.graphqls, the code gqlgen generates from
// it (`go generate`), and a Resolver whose behaviour tests set field by
// field.
package testserver

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
)

// Resolver implements ResolverRoot. Each resolver calls the function named
// after it (QuoteFn for Query.quote) when it is set, and otherwise answers
// with a fixed value. Set the functions before serving; they are called
// concurrently.
type Resolver struct {
	QuoteFn     func(ctx context.Context, symbol string) (*Quote, error)
	PriceFn     func(ctx context.Context, symbol string) (float64, error)
	SlowFn      func(ctx context.Context) (*string, error)
	WeatherFn   func(ctx context.Context, city string) (*string, error)
	PortfolioFn func(ctx context.Context) (*Portfolio, error)
	ValueFn     func(ctx context.Context) (float64, error)
	NewsFn      func(ctx context.Context) (*string, error)
	TicksFn     func(ctx context.Context, symbol string) (<-chan *Quote, error)
}

// New returns the executable schema served by r with the directives d.
func New(r *Resolver, d DirectiveRoot) graphql.ExecutableSchema {
	return NewExecutableSchema(Config{Resolvers: r, Directives: d})
}

// Item returns the item resolvers.
func (r *Resolver) Item() ItemResolver { return itemResolver{} }

// Portfolio returns the portfolio resolvers.
func (r *Resolver) Portfolio() PortfolioResolver { return portfolioResolver{r} }

// Query returns the query resolvers.
func (r *Resolver) Query() QueryResolver { return queryResolver{r} }

// Quote returns the quote resolvers.
func (r *Resolver) Quote() QuoteResolver { return quoteResolver{} }

// Subscription returns the subscription resolvers.
func (r *Resolver) Subscription() SubscriptionResolver { return subscriptionResolver{r} }

type queryResolver struct{ r *Resolver }

func (q queryResolver) Quote(ctx context.Context, symbol string) (*Quote, error) {
	if q.r.QuoteFn != nil {
		return q.r.QuoteFn(ctx, symbol)
	}
	return &Quote{Symbol: symbol, Price: 42}, nil
}

func (q queryResolver) CachedQuote(ctx context.Context, symbol string) (*Quote, error) {
	return q.Quote(ctx, symbol)
}

func (q queryResolver) Price(ctx context.Context, symbol string) (float64, error) {
	if q.r.PriceFn != nil {
		return q.r.PriceFn(ctx, symbol)
	}
	return 42, nil
}

func (q queryResolver) Slow(ctx context.Context) (*string, error) {
	if q.r.SlowFn != nil {
		return q.r.SlowFn(ctx)
	}
	s := "done"
	return &s, nil
}

func (q queryResolver) Weather(ctx context.Context, city string) (*string, error) {
	if q.r.WeatherFn != nil {
		return q.r.WeatherFn(ctx, city)
	}
	s := "sunny in " + city
	return &s, nil
}

func (q queryResolver) Hello(context.Context) (string, error) { return "hello", nil }

func (q queryResolver) Portfolio(ctx context.Context) (*Portfolio, error) {
	if q.r.PortfolioFn != nil {
		return q.r.PortfolioFn(ctx)
	}
	return &Portfolio{Owner: "ada"}, nil
}

// items are the answers of Query.items, built once so that the benchmarks
// measure gqlgen and the guards, not the allocation of the list.
var items = func() []*Item {
	s := make([]*Item, 1000)
	for i := range s {
		s[i] = &Item{Value: i, Guarded: i}
	}
	return s
}()

func (q queryResolver) Items(_ context.Context, n int) ([]*Item, error) {
	return items[:max(0, min(n, len(items)))], nil
}

type portfolioResolver struct{ r *Resolver }

func (p portfolioResolver) Value(ctx context.Context, _ *Portfolio) (float64, error) {
	if p.r.ValueFn != nil {
		return p.r.ValueFn(ctx)
	}
	return 100, nil
}

func (p portfolioResolver) News(ctx context.Context, _ *Portfolio) (*string, error) {
	if p.r.NewsFn != nil {
		return p.r.NewsFn(ctx)
	}
	s := "all quiet"
	return &s, nil
}

type itemResolver struct{}

func (itemResolver) Value(_ context.Context, obj *Item) (int, error)   { return obj.Value, nil }
func (itemResolver) Guarded(_ context.Context, obj *Item) (int, error) { return obj.Guarded, nil }

type quoteResolver struct{}

// Change fails when its context is done, so that tests see whether a
// field's children run with a live context.
func (quoteResolver) Change(ctx context.Context, obj *Quote) (*float64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := obj.Price / 100
	return &c, nil
}

type subscriptionResolver struct{ r *Resolver }

func (s subscriptionResolver) Ticks(ctx context.Context, symbol string) (<-chan *Quote, error) {
	if s.r.TicksFn != nil {
		return s.r.TicksFn(ctx, symbol)
	}
	ch := make(chan *Quote, 1)
	ch <- &Quote{Symbol: symbol, Price: 1}
	close(ch)
	return ch, nil
}
