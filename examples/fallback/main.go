// Command fallback shows a fallback chain: when a call fails, steps are
// tried in order until one answers. Here an open circuit is answered from a
// cache, a timeout with a default, and when every step fails the caller gets
// an error that still matches the original cause.
package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/fallback"
)

// Price is what the guarded call returns.
type Price struct {
	Cents int
	Note  string
}

var cache = map[string]Price{"espresso": {Cents: 34900, Note: "cached"}}

func main() {
	chain := fallback.NewChain(
		fallback.Step{
			Name: "cache", // only for rejections: the dependency was not even asked
			On:   []fallback.Kind{fallback.Rejected},
			Fn: func(ctx context.Context, c fallback.Cause) (any, error) {
				p, ok := cache[productOf(ctx)]
				if !ok {
					return nil, errors.New("cache miss")
				}
				return p, nil
			},
		},
		fallback.Step{
			Name: "list-price", // for timeouts
			On:   []fallback.Kind{fallback.TimedOut},
			Fn: func(context.Context, fallback.Cause) (any, error) {
				return Price{Cents: 9900, Note: "list price"}, nil
			},
		},
	)

	for _, c := range []struct {
		product string
		err     error
	}{
		{"espresso", breaker.ErrOpen},          // rejected: the cache answers
		{"grinder", context.DeadlineExceeded},  // timed out: the list price answers
		{"grinder", breaker.ErrOpen},           // rejected, not cached: every step fails
		{"grinder", errors.New("bad request")}, // failed: no step is eligible
	} {
		ctx := context.WithValue(context.Background(), productKey{}, c.product)
		p, err := fallback.Typed[Price](chain.Run(ctx, c.err))
		fmt.Printf("%-8s %-28v kind %-9v -> ", c.product, c.err, fallback.KindOf(c.err))
		if err != nil {
			fmt.Printf("error: %v (still the cause: %t)\n", err, errors.Is(err, c.err))
			continue
		}
		fmt.Printf("%d cents (%s)\n", p.Cents, p.Note)
	}
}

type productKey struct{}

func productOf(ctx context.Context) string { s, _ := ctx.Value(productKey{}).(string); return s }
