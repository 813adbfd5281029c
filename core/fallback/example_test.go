package fallback_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/breakerbox/breakerbox/core/fallback"
)

// errCircuitOpen stands for a breaker's rejection; real ones come from
// package core and match core.ErrRejected.
var errCircuitOpen = errors.New("breaker: open")

type Quote struct{ Price float64 }

func ExampleChain_Run() {
	cache := map[string]*Quote{"EURUSD": {Price: 1.08}}
	chain := fallback.NewChain(
		fallback.Step{
			Name: "cache",
			Fn: func(ctx context.Context, c fallback.Cause) (any, error) {
				if q, ok := cache["EURUSD"]; ok {
					return q, nil
				}
				return nil, errors.New("miss")
			},
		},
		fallback.Step{
			Name: "static",
			Fn: func(ctx context.Context, c fallback.Cause) (any, error) {
				return &Quote{Price: 1}, nil
			},
		},
	)

	callErr := fmt.Errorf("GET /quote: %w", errCircuitOpen)
	q, err := fallback.Typed[*Quote](chain.Run(context.Background(), callErr))
	fmt.Println(q.Price, err)
	// Output: 1.08 <nil>
}

func ExampleChain_Run_allFail() {
	chain := fallback.NewChain(
		fallback.Step{Name: "cache", Fn: func(context.Context, fallback.Cause) (any, error) {
			return nil, errors.New("miss")
		}},
		fallback.Step{Name: "replica", Fn: func(context.Context, fallback.Cause) (any, error) {
			return nil, errors.New("replica down")
		}},
	)
	callErr := errors.New("upstream: 503")
	_, err := chain.Run(context.Background(), callErr)
	fmt.Println(err)
	fmt.Println("finds the cause:", errors.Is(err, callErr))
	var se *fallback.StepError
	if errors.As(err, &se) {
		fmt.Println("first failed step:", se.Step)
	}
	// Output:
	// upstream: 503; fallback "cache": miss; fallback "replica": replica down
	// finds the cause: true
	// first failed step: cache
}

func ExampleStep_On() {
	chain := fallback.NewChain(
		// Only timeouts get a stale value...
		fallback.Step{Name: "stale", On: []fallback.Kind{fallback.TimedOut}, Fn: func(context.Context, fallback.Cause) (any, error) {
			return "stale value", nil
		}},
		// ...everything else gets a default, told why.
		fallback.Step{Name: "default", Fn: func(_ context.Context, c fallback.Cause) (any, error) {
			return "default (" + c.Kind.String() + ")", nil
		}},
	)
	for _, err := range []error{context.DeadlineExceeded, errors.New("boom")} {
		v, _ := chain.Run(context.Background(), err)
		fmt.Println(v)
	}
	// Output:
	// stale value
	// default (failed)
}

func ExampleTyped() {
	_, err := fallback.Typed[int]("forty-two", nil)
	fmt.Println(err)
	// Output: fallback: result is string, want int
}

func ExampleKindOf() {
	fmt.Println(fallback.KindOf(context.DeadlineExceeded))
	fmt.Println(fallback.KindOf(errors.New("boom")))
	// Output:
	// timed_out
	// failed
}
