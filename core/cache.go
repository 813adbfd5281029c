package core

import (
	"context"
	"time"

	"github.com/breakerbox/breakerbox/core/cache"
)

// CachePolicy is the plain-data form of cache.Config: a cached fallback
// that answers a failed Do call with the last good value of its key
// (stale-if-error), no older than MaxStaleness; with a TTL, a value
// younger than it answers without a call. Concurrent calls of one key share
// one call to the dependency. Zero means not set (see Policy).
//
// The key of a call is set with CacheKey; calls without one share the key
// "". The cache comes after retries and before the named fallbacks: a
// stale value answers first, the fallbacks only when there is none. Only
// Do's values are kept, never a fallback's. DoResult tells a stale answer
// from a fresh one.
type CachePolicy struct {
	// MaxStaleness is the oldest a value may be to answer a failed call;
	// required (above 0).
	MaxStaleness Duration `json:"maxStaleness"`
	// TTL, if set, lets a value younger than it answer without a call.
	// Default none; at most maxStaleness.
	TTL Duration `json:"ttl,omitempty"`
	// MaxEntries bounds the keys kept; required (at least 1).
	MaxEntries int `json:"maxEntries"`
	// MaxBytes bounds the bytes the entries count (keys, values as sized by
	// cache.DefaultSize, and cache.EntryOverhead each). Default 64 MiB.
	MaxBytes int64 `json:"maxBytes,omitempty"`
}

// UnmarshalJSON decodes the section, naming the field of a value that does
// not decode (see Policy.UnmarshalJSON).
func (p *CachePolicy) UnmarshalJSON(data []byte) error {
	type plain CachePolicy
	return decodeSection(data, (*plain)(p))
}

// CacheConfig converts the section.
func (p *CachePolicy) CacheConfig() cache.Config {
	return cache.Config{MaxStaleness: time.Duration(p.MaxStaleness), TTL: time.Duration(p.TTL), MaxEntries: p.MaxEntries, MaxBytes: p.MaxBytes}
}

// cacheKeyKey carries a call's cache key.
type cacheKeyKey struct{}

// CacheKey returns ctx carrying key as the cache key of the Do call made
// with it, for a guard whose policy has a cache section: calls with equal
// keys share a cached value, so the key must name everything the answer
// depends on (the request, not the caller's identity, unless answers
// differ by caller).
func CacheKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, cacheKeyKey{}, key)
}

func cacheKeyOf(ctx context.Context) string {
	k, _ := ctx.Value(cacheKeyKey{}).(string)
	return k
}

// Result describes how a call made through DoResult was answered.
type Result struct {
	// Stale reports an answer from the guard's cache, given because the
	// call failed; Err is that failure and Age the value's age.
	Stale bool
	// Cached reports an answer from the guard's cache, fresh or stale;
	// Age is the value's age.
	Cached bool
	// Shared reports an answer shared with a concurrent call of the same
	// cache key.
	Shared bool
	Age    time.Duration
	Err    error
}

// resultKey carries the *Result a DoResult call fills.
type resultKey struct{}

// DoResult is Do that also reports how the call was answered: a stale
// answer from the guard's cache (see CachePolicy) is marked, so that an
// adapter can tell its client (HTTP Warning and Age headers, a GraphQL
// extension). It costs two allocations more than Do. For DoIdempotent,
// use WithResult.
func DoResult[T any](ctx context.Context, g *Guard, fn func(context.Context) (T, error)) (T, Result, error) {
	ctx, r := WithResult(ctx)
	v, err := Do(ctx, g, fn)
	return v, *r, err
}

// WithResult returns ctx carrying a Result that the Do or DoIdempotent
// call made with it fills in (one call per Result).
func WithResult(ctx context.Context) (context.Context, *Result) {
	r := new(Result)
	return context.WithValue(ctx, resultKey{}, r), r
}

// IsStale reports whether ctx, made by WithResult, carries the Result of
// a call that a stale value answered.
func IsStale(ctx context.Context) bool {
	r, _ := ctx.Value(resultKey{}).(*Result)
	return r != nil && r.Stale
}

// Cache returns the guard's cache, or nil when its policy has no cache
// section. Adapters that keep answers of their own shape (an HTTP
// transport keeps responses with their bodies read) use it with cache.Do
// and mark stale answers themselves.
func (g *Guard) Cache() *cache.Cache { return g.cur.Load().cache }

// initCache builds the cache of pt from its policy p.
func initCache(pt *parts, p Policy) error {
	c, err := cache.New(p.Cache.CacheConfig())
	if err != nil {
		return err
	}
	pt.cache = c
	return nil
}

// doCached answers a Do call through the guard's cache, fill running its
// attempts.
func doCached[T any](ctx context.Context, pt *parts, fill func(context.Context) (T, error)) (T, error) {
	v, a, err := cache.Do(ctx, pt.cache, cacheKeyOf(ctx), fill)
	if r, _ := ctx.Value(resultKey{}).(*Result); r != nil {
		r.Stale = a.Source == cache.Stale
		r.Cached = r.Stale || a.Source == cache.Fresh
		r.Shared = a.Source == cache.Shared
		r.Age, r.Err = a.Age, a.Err
	}
	return v, err
}

// snapshotHedgeCache copies the hedge and cache counters into s.
func (pt *parts) snapshotHedgeCache(s *GuardSnapshot) {
	if pt.hedger != nil {
		hs := pt.hedger.Stats()
		s.Hedge = &hs
	}
	if pt.cache != nil {
		cs := pt.cache.Stats()
		s.Cache = &cs
	}
}
