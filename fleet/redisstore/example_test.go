package redisstore_test

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/redisstore"
)

// A replica joins its fleet through Redis: build the client with
// ContextTimeoutEnabled so that every store call ends with its deadline.
func Example() {
	client := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	store, err := redisstore.New(client, redisstore.WithFleet("checkout"))
	if err != nil {
		panic(err)
	}
	defer store.Close()

	reg, err := core.NewRegistry()
	if err != nil {
		panic(err)
	}
	agent, err := fleet.Join(reg, store, fleet.WithReplicaID("checkout-1"))
	if err != nil {
		panic(err)
	}
	defer agent.Close()
	fmt.Println(store.Key(fleet.KindVerdict, "payments@checkout-1"))
}

// Sentinel: a failover client finds the primary through the sentinels and
// follows it across failovers.
func ExampleNew_sentinel() {
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            "mymaster",
		SentinelAddrs:         []string{"sentinel-1:26379", "sentinel-2:26379", "sentinel-3:26379"},
		ContextTimeoutEnabled: true,
	})
	store, err := redisstore.New(client)
	if err != nil {
		panic(err)
	}
	_ = store
}

// Cluster: all of a fleet's keys share the hash tag "{breakerbox:<fleet>}",
// so they live in one slot and the store's scripts stay atomic.
func ExampleNew_cluster() {
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"redis-1:6379", "redis-2:6379", "redis-3:6379"},
		ContextTimeoutEnabled: true,
	})
	store, err := redisstore.New(client, redisstore.WithFleet("checkout"))
	if err != nil {
		panic(err)
	}
	fmt.Println(store.Key(fleet.KindLease, "payments"))
}

// Take grants up to n calls of a global limit in one round trip, on the
// server's clock.
func ExampleStore_Take() {
	client := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
	store, _ := redisstore.New(client)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	granted, retryAfter, err := store.Take(ctx, "partner-api", fleet.Rate{Limit: 1000, Period: time.Second}, 50)
	if err != nil {
		return // the store is unreachable: admit at the local share
	}
	fmt.Println(granted, retryAfter)
}
