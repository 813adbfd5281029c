// Command ratelimit shows breakerbox's rate limiters on an explicit clock
// (AllowN and RetryAfterN take the time), so that its output never varies:
// a token bucket that allows a burst and then a steady rate, telling each
// rejected caller when to come back, and a keyed limiter giving each client
// its own limit.
package main

import (
	"fmt"
	"log"
	"time"

	"github.com/breakerbox/breakerbox/ratelimit"
)

func main() {
	// 5 calls per second, 3 at once after a quiet time.
	tb, err := ratelimit.NewTokenBucket(ratelimit.Config{Limit: 5, Per: time.Second, Burst: 3})
	if err != nil {
		log.Fatal(err)
	}
	start := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	try := func(at time.Duration) {
		now := start.Add(at)
		if tb.AllowN(now, 1) {
			fmt.Printf("t=%-6v allowed\n", at)
			return
		}
		fmt.Printf("t=%-6v limited, retry after %v\n", at, tb.RetryAfterN(now, 1))
	}
	for range 4 {
		try(0) // the burst of 3, then a rejection
	}
	try(100 * time.Millisecond) // still too early
	try(200 * time.Millisecond) // one token back (5 per second: one per 200ms)
	try(200 * time.Millisecond)
	try(time.Second) // 800ms later: 3 tokens back, at most Burst

	// One limit per client, in bounded memory: 2 calls per minute each.
	perClient, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{
		Config:  ratelimit.Config{Limit: 2, Per: time.Minute},
		MaxKeys: 10000,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, client := range []string{"alice", "alice", "bob", "alice"} {
		fmt.Printf("%-5s allowed: %t\n", client, perClient.AllowN(client, start, 1))
	}
	fmt.Printf("alice may come back after %v\n", perClient.RetryAfterN("alice", start, 1))
}
