package fleet

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/ratelimit"
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
// is the number of live members the agent last saw (at least 1).
func ExpectedReplicas(n int) LimiterOption {
	return limiterOptionFunc(func(c *limiterConfig) { c.expected = n })
}

// MaxBatch caps the tokens a GlobalLimiter takes from the store in one
// round trip (default: a tenth of the limit per second, at least 1, at
// most the burst).
func MaxBatch(n int) LimiterOption {
	return limiterOptionFunc(func(c *limiterConfig) { c.maxBatch = n })
}

// GlobalLimiter is a rate limit shared by the fleet: Limit calls per
// Period across every replica. Allow never touches the network: it spends
// tokens that a background refill takes from the store in batches
// (RateStore.Take, on the server's clock), and remembers until when the
// store said the key is over its limit, so that an over-limit key costs no
// round trip. The batch follows demand: about what the replica spent since
// the last refill, at most MaxBatch. Prefetched tokens count against the
// global limit when taken, so a replica whose demand drops may leave up to
// one batch unspent.
//
// While the store cannot be reached, or does not implement RateStore, it
// admits at its local share, limit / expected replicas (counted in
// StoreHealth.AllowedByFailureMode and LimiterStats), unless FailClosed.
// Until the store answers the first Take, it admits at its local share
// too (not counted: the store has not failed; FailClosed rejects).
//
// A GlobalLimiter is safe for concurrent use. Make one per key with
// Agent.Limiter; it stops with its agent (and then admits at its local
// share, or rejects with FailClosed).
type GlobalLimiter struct {
	a    *Agent
	key  string
	rate Rate
	cfg  limiterConfig
	cap  int // the largest batch

	// Atomic: the call path.
	tokens    atomic.Int64
	overUntil atomic.Int64 // ns since the agent's epoch; 0 when not over
	degraded  atomic.Bool  // the store cannot give tokens now
	warm      atomic.Bool  // the store has answered a Take at least once
	lastBatch atomic.Int64
	local     atomic.Pointer[localShare]
	allowed   atomic.Uint64
	rejected  atomic.Uint64
	byFailure atomic.Uint64
	trips     atomic.Uint64
	spent     atomic.Int64 // tokens spent since the last refill

	need     chan struct{}
	stopc    chan struct{}
	stopOnce sync.Once
	done     chan struct{}
}

// localShare is the failure-mode limiter and the replica count it was
// made for.
type localShare struct {
	l ratelimit.Limiter
	n int
}

// Limiter returns the global limiter of key under r, creating it on first
// use (a second call with the same key returns the first limiter, whatever
// its rate and options). A rate with a Limit or Period of zero or less
// admits nothing.
func (a *Agent) Limiter(key string, r Rate, opts ...LimiterOption) *GlobalLimiter {
	a.mu.Lock()
	defer a.mu.Unlock()
	if l, ok := a.limiters[key]; ok {
		return l
	}
	var c limiterConfig
	for _, o := range opts {
		if o != nil {
			o.applyLimiter(&c)
		}
	}
	burst := r.Burst
	if burst <= 0 {
		burst = r.Limit
	}
	perSec := 0.0
	if r.Period > 0 {
		perSec = float64(r.Limit) / r.Period.Seconds()
	}
	capN := max(1, min(int(perSec/10), burst))
	if c.maxBatch > 0 {
		capN = min(capN, c.maxBatch)
	}
	l := &GlobalLimiter{a: a, key: key, rate: r, cfg: c, cap: max(capN, 1),
		need: make(chan struct{}, 1), stopc: make(chan struct{}), done: make(chan struct{})}
	l.lastBatch.Store(int64(l.cap))
	l.degraded.Store(a.rates == nil || !a.up.Load())
	l.share(len(a.members))
	a.limiters[key] = l
	if a.closed.Load() {
		close(l.stopc)
		close(l.done)
		l.degraded.Store(true)
		return l
	}
	go l.refill()
	return l
}

// share makes the failure-mode limiter for n live members, if it changed.
func (l *GlobalLimiter) share(members int) {
	n := l.cfg.expected
	if n <= 0 {
		n = max(members, 1)
	}
	if cur := l.local.Load(); cur != nil && cur.n == n {
		return
	}
	if l.rate.Limit <= 0 || l.rate.Period <= 0 {
		return
	}
	burst := l.rate.Burst
	if burst <= 0 {
		burst = l.rate.Limit
	}
	rl, err := ratelimit.New(ratelimit.Config{
		Algorithm: ratelimit.AlgorithmTokenBucket,
		Limit:     float64(l.rate.Limit) / float64(n),
		Per:       l.rate.Period,
		Burst:     max(1, int(math.Ceil(float64(burst)/float64(n)))),
		Precise:   true,
	})
	if err != nil {
		return
	}
	l.local.Store(&localShare{l: rl, n: n})
}

// Allow reports whether one call may happen now, and takes it if so. It
// never blocks and never calls the store.
func (l *GlobalLimiter) Allow() bool {
	for {
		n := l.tokens.Load()
		if n <= 0 {
			break
		}
		if l.tokens.CompareAndSwap(n, n-1) {
			l.spent.Add(1)
			l.allowed.Add(1)
			if n-1 <= l.lastBatch.Load()/2 {
				l.signal()
			}
			return true
		}
	}
	if l.degraded.Load() {
		return l.allowLocal(true)
	}
	if !l.warm.Load() {
		// The first batch is on its way: admit at the local share, as
		// the store has not said anything yet (not counted as failure
		// mode).
		return l.allowLocal(false)
	}
	if until := l.overUntil.Load(); until != 0 && int64(time.Since(l.a.epoch)) < until {
		l.rejected.Add(1)
		return false
	}
	l.spent.Add(1) // demand the refill should cover
	l.signal()
	l.rejected.Add(1)
	return false
}

// allowLocal is Allow while the store cannot give tokens, or has not
// given the first ones yet.
func (l *GlobalLimiter) allowLocal(failure bool) bool {
	if ls := l.local.Load(); !l.cfg.failClosed && ls != nil && ls.l.Allow() {
		l.allowed.Add(1)
		if failure {
			l.byFailure.Add(1)
			l.a.failureMode.Add(1)
		}
		return true
	}
	l.rejected.Add(1)
	return false
}

func (l *GlobalLimiter) signal() {
	select {
	case l.need <- struct{}{}:
	default:
	}
}

// refill takes tokens from the store when they run low.
func (l *GlobalLimiter) refill() {
	defer close(l.done)
	a := l.a
	tick := time.NewTicker(max(a.cfg.heartbeat/2, 100*time.Millisecond))
	defer tick.Stop()
	var wait <-chan time.Time
	last, demand := time.Now(), 0.0
	l.signal()
	for {
		select {
		case <-l.stopc:
			return
		case <-l.need:
		case <-tick.C:
		case <-wait:
			wait = nil
		}
		a.mu.Lock()
		members := len(a.members)
		a.mu.Unlock()
		l.share(members)
		if a.rates == nil || l.rate.Limit <= 0 || l.rate.Period <= 0 {
			l.degraded.Store(true)
			continue
		}
		now := int64(time.Since(a.epoch))
		if until := l.overUntil.Load(); until != 0 && now < until {
			if wait == nil {
				wait = time.After(time.Duration(until - now))
			}
			continue
		}
		if l.tokens.Load() > l.lastBatch.Load()/2 {
			continue
		}
		// The batch follows demand: what this replica asks for in a tenth
		// of a second (a moving average), between 1 and the cap.
		// Demand is measured over spans of at least 100ms; what was asked
		// since the last span counts too, so that a burst raises it at once.
		at := time.Now()
		if el := at.Sub(last).Seconds(); el >= 0.1 {
			perSec := float64(l.spent.Swap(0)) / el
			w := math.Min(el, 1)
			demand = (1-w)*demand + w*perSec
			last = at
		}
		n := min(max(int(math.Ceil(demand/10)), int(l.spent.Load()), 1), l.cap)
		var granted int
		var retry time.Duration
		err := a.call(context.Background(), func(c context.Context) error {
			var err error
			granted, retry, err = a.rates.Take(c, l.key, l.rate, n)
			return err
		})
		l.trips.Add(1)
		if err != nil {
			l.degraded.Store(true)
			if wait == nil {
				wait = time.After(jitter(a.cfg.heartbeat / 4))
			}
			continue
		}
		l.lastBatch.Store(int64(n))
		l.tokens.Add(int64(granted))
		l.degraded.Store(false)
		l.warm.Store(true)
		if granted < n {
			// Over the limit: come back when a batch for half the members
			// has accrued, not when the next single call would pass, or an
			// over-limit key would cost a round trip per emission interval
			// and replica.
			wait := max(retry, time.Millisecond) + time.Duration(n*max(members/2, 1)-1)*l.rate.Period/time.Duration(l.rate.Limit)
			l.overUntil.Store(int64(time.Since(a.epoch)) + int64(wait))
		} else {
			l.overUntil.Store(0)
			if l.spent.Load() > 0 {
				l.signal()
			}
		}
	}
}

func (l *GlobalLimiter) stop() {
	l.stopOnce.Do(func() {
		close(l.stopc)
		<-l.done
		l.degraded.Store(true)
	})
}

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
	// Degraded is true while the limiter admits at its local share.
	Degraded bool `json:"degraded"`
}

// Stats returns the limiter's counters.
func (l *GlobalLimiter) Stats() LimiterStats {
	return LimiterStats{
		Allowed: l.allowed.Load(), Rejected: l.rejected.Load(), AllowedByFailureMode: l.byFailure.Load(),
		RoundTrips: l.trips.Load(), Tokens: max(l.tokens.Load(), 0), Degraded: l.degraded.Load(),
	}
}
