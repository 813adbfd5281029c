package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/ratelimit"
)

// start is a fixed time: the examples use the explicit-time methods so that
// their output does not depend on the clock.
var start = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func ExampleTokenBucket() {
	// 10 calls per second, up to 3 at once.
	l, err := ratelimit.NewTokenBucket(ratelimit.Config{Limit: 10, Per: time.Second, Burst: 3})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.AllowN(start, 1), l.AllowN(start, 1), l.AllowN(start, 1), l.AllowN(start, 1))
	fmt.Println("retry after", l.RetryAfterN(start, 1))
	fmt.Println(l.AllowN(start.Add(100*time.Millisecond), 1))
	s := l.SnapshotAt(start.Add(100 * time.Millisecond))
	fmt.Printf("allowed %d, rejected %d, tokens %.1f\n", s.Allowed, s.Rejected, s.Available)
	// Output:
	// true true true false
	// retry after 100ms
	// true
	// allowed 4, rejected 1, tokens 0.0
}

func ExampleGCRA() {
	// 60 calls per minute with a burst of 5.
	l, err := ratelimit.NewGCRA(ratelimit.Config{Limit: 60, Per: time.Minute, Burst: 5})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.AllowN(start, 4)) // 4 of the 5 at once
	fmt.Println(l.AllowN(start, 2)) // one short
	fmt.Println("retry after", l.RetryAfterN(start, 2))
	fmt.Println("one now:", l.AllowN(start, 1))
	// Output:
	// true
	// false
	// retry after 1s
	// one now: true
}

func ExampleSlidingWindow() {
	// At most 100 calls in the last minute.
	l, err := ratelimit.NewSlidingWindow(ratelimit.Config{Limit: 100, Per: time.Minute})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.AllowN(start, 100), l.AllowN(start, 1))
	// Half a minute into the next window, the previous window's 100 calls
	// weigh 50.
	next := start.Add(90 * time.Second)
	fmt.Println(l.AllowN(next, 50), l.AllowN(next, 1))
	fmt.Println("retry after", l.RetryAfterN(next, 1))
	// Output:
	// true false
	// true false
	// retry after 600ms
}

func ExampleKeyed() {
	// 2 calls per second per client, for at most 10000 clients.
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{
		Config:  ratelimit.Config{Limit: 2, Per: time.Second},
		MaxKeys: 10000,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, client := range []string{"203.0.113.7", "203.0.113.7", "203.0.113.7", "198.51.100.2"} {
		fmt.Println(client, k.AllowN(client, start, 1))
	}
	fmt.Println("keys:", k.Snapshot().Keys)
	// Output:
	// 203.0.113.7 true
	// 203.0.113.7 true
	// 203.0.113.7 false
	// 198.51.100.2 true
	// keys: 2
}

func ExampleNew() {
	// A limiter from plain data, as a policy file gives it.
	algo, err := ratelimit.ParseAlgorithm("gcra")
	if err != nil {
		log.Fatal(err)
	}
	l, err := ratelimit.New(ratelimit.Config{Algorithm: algo, Limit: 5})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%T %v\n", l, l.AllowN(start, 1))
	// Output: *ratelimit.GCRA true
}

func ExampleConfig_Validate() {
	err := ratelimit.Config{Limit: -3}.Validate()
	fmt.Println(err)
	// Output: ratelimit: limit: -3 must be > 0
}

func ExampleTokenBucket_Wait() {
	l, err := ratelimit.NewTokenBucket(ratelimit.Config{Limit: 1000, Burst: 1})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for range 3 {
		if err := l.Wait(ctx); err != nil { // the 2nd and 3rd wait about 1ms
			log.Fatal(err)
		}
	}
	fmt.Println("3 calls made")

	// A context that ends first: Wait returns its error and takes nothing.
	l.Allow()
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	fmt.Println(errors.Is(l.Wait(ctx), context.Canceled))
	// Output:
	// 3 calls made
	// true
}

func ExampleTokenBucket_SetLimit() {
	l, err := ratelimit.NewTokenBucket(ratelimit.Config{Limit: 10, Burst: 10})
	if err != nil {
		log.Fatal(err)
	}
	l.AllowN(start, 6)
	// Double the rate: the 4 tokens left are kept.
	if err := l.SetLimitAt(start, ratelimit.Config{Limit: 20, Burst: 10}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.SnapshotAt(start).Available)
	fmt.Println(l.RetryAfterN(start, 5))
	// Output:
	// 4
	// 50ms
}
