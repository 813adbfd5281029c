package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// limiter holds what TokenBucket, GCRA and SlidingWindow share: the engine,
// the counters, and the methods, which the three types promote.
type limiter struct {
	e     engine
	mu    sync.Mutex // serializes limit changes and reading the counts
	stats counters   // padded: apart from the read-mostly engine
}

func (l *limiter) init(cfg Config, algo Algorithm) error {
	if cfg.Algorithm != AlgorithmDefault && cfg.Algorithm != algo {
		return fmt.Errorf("ratelimit: algorithm: %v does not match a %v limiter", cfg.Algorithm, algo)
	}
	cfg.Algorithm = algo
	r, err := cfg.rate()
	if err != nil {
		return err
	}
	l.e.stripes = &l.stats
	l.e.init(r)
	return nil
}

// Token batching. A bucket of at least batchMinBurst tokens read through the
// coarse clock hands its tokens to Allow's callers through per-goroutine
// stripes: a stripe that runs dry takes batchSize tokens from the bucket in
// one atomic operation and hands them out one by one from its own cache
// line, so two cores admitting calls at full speed rarely touch the
// bucket's shared state. Tokens are only ever taken from the bucket, so the
// limiter never admits more than the bucket allows over time; the price is
// that up to stripes×(batchSize-1) tokens (at most 1/64 of such a bucket)
// may sit in stripes: a call can be refused while another stripe still
// holds a token, and after a quiet time a burst can exceed Burst by that
// much. AllowN, Wait, precise limiters and smaller buckets never batch.
const (
	batchSize     = 32
	batchMinBurst = 64 * stripes * batchSize
)

// Allow reports whether one call may happen now, and takes it if so.
func (l *limiter) Allow() bool {
	r := l.e.cur.Load().r
	if r.kind == meterKind && !r.precise && r.burst >= batchMinBurst {
		st := l.stats.stripe()
		if st.cached.Add(-1) >= 0 {
			st.allowed.Add(1)
			return true
		}
		st.cached.Add(1)
		now := r.now()
		if l.e.take(now, batchSize, true) {
			st.cached.Add(batchSize - 1)
			st.allowed.Add(1)
			return true
		}
		return l.allow(now, 1, true)
	}
	return l.allow(r.now(), 1, !r.precise)
}

// allow takes n calls at now if they fit, counting a refusal; coarse says
// whether now is a coarse reading (see engine.allow).
func (l *limiter) allow(now, n int64, coarse bool) bool {
	ok := l.e.allow(now, n, coarse)
	if !ok {
		l.stats.add(false)
	}
	return ok
}

// AllowN reports whether n calls may happen at t, and takes them all if so
// (none if not). n <= 0 is always allowed and takes nothing. It reads no
// clock and is exact: AllowN(time.Now(), 1) is Allow on the precise clock,
// and tests and simulations pass their own times.
func (l *limiter) AllowN(t time.Time, n int) bool {
	return l.allow(nanos(t), int64(n), false)
}

// RetryAfter returns how long until one call would be allowed, from now; 0 if
// now.
func (l *limiter) RetryAfter() time.Duration {
	r := l.e.cur.Load().r
	return time.Duration(l.e.retryAfter(r.now(), 1, !r.precise))
}

// RetryAfterN returns how long after t n calls would be allowed at once: 0 if
// at t, the largest Duration if never (n above the burst or limit). It reads
// no clock and is exact.
func (l *limiter) RetryAfterN(t time.Time, n int) time.Duration {
	return time.Duration(l.e.retryAfter(nanos(t), int64(n), false))
}

// Wait blocks until one call is allowed and takes it. If ctx ends first (or
// has ended already) it returns ctx.Err() unchanged and takes nothing.
func (l *limiter) Wait(ctx context.Context) error {
	return l.WaitN(ctx, 1)
}

// WaitN blocks until n calls are allowed at once and takes them. If ctx ends
// first it returns ctx.Err() unchanged and takes nothing. For n that can never
// be allowed (above the burst or limit) it returns an error matching
// ErrLimited at once.
func (l *limiter) WaitN(ctx context.Context, n int) error {
	err := l.e.wait(ctx, int64(n))
	if err != nil {
		l.stats.add(false)
	}
	return err
}

// Snapshot returns the limiter's counters and state now. It reads the
// precise clock.
func (l *limiter) Snapshot() Snapshot {
	return l.snapshot(l.e.cur.Load().r.fresh())
}

// SnapshotAt returns the limiter's counters and state at t; it reads no
// clock.
func (l *limiter) SnapshotAt(t time.Time) Snapshot {
	return l.snapshot(nanos(t))
}

func (l *limiter) snapshot(now int64) Snapshot {
	s := Snapshot{
		Config:     l.e.cur.Load().r.cfg,
		Available:  l.e.available(now) + float64(l.stats.cached()),
		RetryAfter: time.Duration(l.e.retryAfter(now, 1, false)),
	}
	_, s.Rejected = l.stats.load()
	l.mu.Lock()
	s.Allowed = l.e.allowed()
	l.mu.Unlock()
	return s
}

// Config returns the limiter's configuration, with defaults filled in.
func (l *limiter) Config() Config {
	return l.e.cur.Load().r.cfg
}

// SetLimit changes the limit now, keeping what was already spent: the tokens
// taken (the bucket keeps its token count, capped at the new burst) or the
// calls counted in the current and previous windows. cfg.Algorithm must be
// the limiter's or AlgorithmDefault. Calls in flight are not blocked.
func (l *limiter) SetLimit(cfg Config) error {
	return l.setLimit(cfg, (*rate).fresh)
}

// SetLimitAt is SetLimit at t; it reads no clock.
func (l *limiter) SetLimitAt(t time.Time, cfg Config) error {
	return l.setLimit(cfg, func(*rate) int64 { return nanos(t) })
}

func (l *limiter) setLimit(cfg Config, now func(*rate) int64) error {
	r, err := newRate(l.e.cur.Load().r, cfg)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.e.migrate(r, now(r))
	return nil
}

// newRate compiles cfg for a limiter now running at old.
func newRate(old *rate, cfg Config) (*rate, error) {
	algo := old.cfg.Algorithm
	if cfg.Algorithm != AlgorithmDefault && cfg.Algorithm != algo {
		return nil, fmt.Errorf("ratelimit: algorithm: cannot change %v to %v", algo, cfg.Algorithm)
	}
	cfg.Algorithm = algo
	return cfg.rate()
}

// TokenBucket is a token bucket: it holds up to Burst tokens, refilled at
// Limit per Per, and each call takes one. After a quiet time Burst calls may
// come at once; under sustained load calls are admitted at the rate.
//
// Wait reserves its tokens at once, in debt if need be, and sleeps until
// they are due: waiters are served first come, first served at exactly the
// rate, and while they wait the bucket is empty for Allow. A Wait whose
// context ends gives its tokens back.
//
// The state is one atomic word (the time at which the bucket will be full
// again), changed by compare-and-swap: Allow takes no lock and allocates
// nothing. The zero value is not usable; build one with NewTokenBucket or
// New. A TokenBucket is safe for concurrent use.
type TokenBucket struct{ limiter }

// NewTokenBucket returns a token bucket for cfg. cfg.Algorithm must be
// AlgorithmTokenBucket or AlgorithmDefault.
func NewTokenBucket(cfg Config) (*TokenBucket, error) {
	l := new(TokenBucket)
	if err := l.init(cfg, AlgorithmTokenBucket); err != nil {
		return nil, err
	}
	return l, nil
}

// GCRA is the generic cell rate algorithm (virtual scheduling): it keeps the
// theoretical arrival time (TAT) of the next call; a call at t conforms if
// t >= TAT - tolerance, where the tolerance lets Burst calls come at once,
// and then TAT = max(TAT, t) + Per/Limit. A rejection's retry-after is exact:
// the time at which the call would conform.
//
// GCRA makes the same decisions as a TokenBucket with the same Config (the
// two are the same meter; GCRA keeps the form that a shared store holds in
// one number, as the distributed limiter will). They differ in Wait: GCRA
// never goes into debt; a waiter sleeps until its call would conform and
// tries again, so Allow callers are not held behind waiters (and may
// overtake them).
//
// Allow takes no lock and allocates nothing. The zero value is not usable;
// build one with NewGCRA or New. A GCRA is safe for concurrent use.
type GCRA struct{ limiter }

// NewGCRA returns a GCRA limiter for cfg. cfg.Algorithm must be AlgorithmGCRA
// or AlgorithmDefault.
func NewGCRA(cfg Config) (*GCRA, error) {
	l := new(GCRA)
	if err := l.init(cfg, AlgorithmGCRA); err != nil {
		return nil, err
	}
	return l, nil
}

// SlidingWindow is a sliding-window counter: it counts calls in fixed
// windows of Per (see Config for fractional limits) and admits a call if the
// count of the current window plus the previous window's count, weighted by
// the share of the previous window still inside the sliding window, stays
// within Limit. Burst is ignored: up to Limit calls may come at once.
//
// The estimate assumes the previous window's calls were spread evenly; it
// never lets more than 2*Limit calls through in any span of Per (3*Limit
// while a coarse clock lags, see the package documentation). Wait sleeps
// until the call would fit and tries again. RetryAfter is exact for the
// counts as they are (assuming no other calls).
//
// The counts and the window number share one atomic word, so Limit is at
// most 2^20 calls per window. Allow takes no lock and allocates nothing. The
// zero value is not usable; build one with NewSlidingWindow or New. A
// SlidingWindow is safe for concurrent use.
type SlidingWindow struct{ limiter }

// NewSlidingWindow returns a sliding-window limiter for cfg. cfg.Algorithm
// must be AlgorithmSlidingWindow or AlgorithmDefault.
func NewSlidingWindow(cfg Config) (*SlidingWindow, error) {
	l := new(SlidingWindow)
	if err := l.init(cfg, AlgorithmSlidingWindow); err != nil {
		return nil, err
	}
	return l, nil
}
