package a

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/core"
)

func redisCalls(ctx context.Context, rdb *redis.Client, u redis.UniversalClient, g *core.Guard) {
	rdb.Get(ctx, "k") // want `redis Client.Get runs outside a breakerbox guard`
	u.Get(ctx, "k")   // want `redis UniversalClient.Get runs outside`
	rdb.Close()       // no context: not a command
	pipe := rdb.Pipeline()
	pipe.Get(ctx, "k")                                 // queued, not sent
	pipe.Exec(ctx)                                     // want `redis Pipeliner.Exec runs outside`
	rdb.Pipelined(ctx, func(p redis.Pipeliner) error { // want `redis Client.Pipelined runs outside`
		p.Get(ctx, "k")
		return nil
	})
	g.Do(ctx, func(ctx context.Context) error {
		return rdb.Set(ctx, "k", 1).Err()
	})
}
