package redisstore

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
)

// RateKey returns the Redis key that holds key's rate-limit state (its
// theoretical arrival time, in µs of the server's clock).
func (s *Store) RateKey(key string) string {
	return s.tag + ":rate:" + key
}

// Take asks for up to n calls of key under rate and returns how many were
// granted (0..n) and, when fewer than n were, how long until one more
// would be. It runs GCRA (the generic cell rate algorithm, as
// envoyproxy/ratelimit and go-redis/redis_rate do) in one Lua script on the
// server's clock (TIME), so replicas' clocks never meet: one round trip
// whatever n, one key per limit ("{prefix}:rate:<key>"), which expires
// when the bucket is full again.
//
// A limit of rate.Limit calls per rate.Period admits one call every
// Period/Limit and bursts of up to rate.Burst calls (rate.Limit when 0). A
// batch never exceeds the burst: ask for n ≤ Burst. Calls of one key with
// different rates share the key's state, each judged by its own rate.
func (s *Store) Take(ctx context.Context, key string, rate fleet.Rate, n int) (int, time.Duration, error) {
	if err := s.check("rate", key); err != nil {
		return 0, 0, err
	}
	if rate.Limit <= 0 {
		return 0, 0, fmt.Errorf("redisstore: rate %q: limit %d must be positive", key, rate.Limit)
	}
	if rate.Period <= 0 {
		return 0, 0, fmt.Errorf("redisstore: rate %q: period %v must be positive", key, rate.Period)
	}
	if rate.Burst < 0 {
		return 0, 0, fmt.Errorf("redisstore: rate %q: burst %d is negative", key, rate.Burst)
	}
	if n < 0 {
		return 0, 0, fmt.Errorf("redisstore: rate %q: n %d is negative", key, n)
	}
	if n == 0 {
		return 0, 0, nil
	}
	burst := rate.Burst
	if burst == 0 {
		burst = rate.Limit
	}
	// The emission interval in µs, fractional: 3 per second is 333333.333.
	interval := float64(rate.Period) / float64(time.Microsecond) / float64(rate.Limit)
	var res []int64
	err := s.run(ctx, func(ctx context.Context) (err error) {
		res, err = takeScript.Run(ctx, s.client, []string{s.RateKey(key)},
			strconv.FormatFloat(interval, 'f', -1, 64), burst, n).Int64Slice()
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("redisstore: take %q: %w", key, err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("redisstore: take %q: unexpected reply %v", key, res)
	}
	granted := int(res[0])
	var retry time.Duration
	if granted < n {
		retry = time.Duration(res[1]) * time.Microsecond
	}
	return granted, retry, nil
}
