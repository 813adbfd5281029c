package fleet

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
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
// (RateStore.Take, on the server's clock).
//
// The refill asks for a batch only when the local tokens run low (half the
// last batch left). A batch is a tenth of a second of this replica's
// demand (the calls it admitted, or would have admitted had a token been
// there, over the last second), at most MaxBatch. When the store grants
// fewer than asked, the key is at its limit: the limiter holds it locally
// over-limit until the store's retry-after plus this replica's turn (the
// time the limit takes to accrue a batch for each contending replica,
// jittered so that replicas do not come back together), and rejects
// meanwhile without a round trip; while the key stays at its limit, the
// next batch is asked for only when the tokens held are spent. At the
// limit each replica thus asks about ten times a second and each round
// trip brings about a batch: eight replicas sharing 1,000 calls/s make
// about 0.1 round trip per admitted call. Prefetched tokens count against
// the global limit when taken, so a replica whose demand drops may leave
// up to one batch unspent.
//
// Failure mode: only while the store is known to be down (the agent's
// store breaker is open, after three consecutive failed store calls:
// StoreHealth.Up is false; and until a Take succeeds again), or when the
// store does not implement
// RateStore, the limiter admits at its local share, limit / expected
// replicas (counted in StoreHealth.AllowedByFailureMode and LimiterStats),
// or rejects with FailClosed. One failed or slow Take does not enter it:
// the limiter then admits from the tokens it already holds, and no more,
// and tries again shortly.
//
// Until the store answers the first Take, a new limiter admits at its
// local share (not counted as failure mode; FailClosed rejects), and the
// calls so admitted are charged to the global limit by the next Take.
//
// A GlobalLimiter is safe for concurrent use. Make one per key with
// Agent.Limiter; it stops with its agent (and then admits at its local
// share, or rejects with FailClosed).
type GlobalLimiter struct {
	a     *Agent
	key   string
	rate  Rate
	cfg   limiterConfig
	cap   int     // the largest batch
	burst int     // the rate's burst
	perS  float64 // the limit per second

	// Atomic: the call path.
	tokens    atomic.Int64
	low       atomic.Int64 // Allow asks for a refill when tokens fall to it
	overUntil atomic.Int64 // ns since the agent's epoch; 0 when not over
	degraded  atomic.Bool  // failure mode: the store is known down
	warm      atomic.Bool  // the store has answered a Take at least once
	local     atomic.Pointer[localShare]
	allowed   atomic.Uint64
	rejected  atomic.Uint64
	byFailure atomic.Uint64
	trips     atomic.Uint64
	missed    atomic.Int64 // rejected for want of a token, not over the limit
	held      atomic.Int64 // rejected while held over the limit
	debt      atomic.Int64 // admitted before the store's first answer, not charged yet
	batch     atomic.Int64 // the last batch asked for

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
// admits nothing. The local share (before the store's first answer and
// while it is down) runs at most one call a nanosecond, with a burst
// spanning at most 2^60ns; a share slower than one call in about 36 years
// admits nothing locally.
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
	capN := max(1, clampInt(perSec/10, burst))
	if c.maxBatch > 0 {
		capN = min(capN, c.maxBatch)
	}
	l := &GlobalLimiter{a: a, key: key, rate: r, cfg: c, cap: max(capN, 1), burst: max(burst, 1), perS: perSec,
		need: make(chan struct{}, 1), stopc: make(chan struct{}), done: make(chan struct{})}
	l.batch.Store(1)
	l.degraded.Store(a.rates == nil || a.storeDown())
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

// storeDown reports whether the store is known to be down: the agent's
// breaker in front of the store is open (three consecutive store calls
// failed). Half-open, a call may probe it: a limiter's Take can be that
// probe, so a limiter in failure mode leaves it as soon as the store
// answers.
func (a *Agent) storeDown() bool { return a.sb.State() == breaker.Open }

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
	// The share is at most one call a nanosecond, the fastest a local
	// limiter runs (a faster global rate is as good as no limit); a
	// share slower than a local limiter can run (one call in decades)
	// makes none, and admits nothing locally.
	limit := min(float64(l.rate.Limit)/float64(n), float64(l.rate.Period.Nanoseconds()))
	// A local burst spans at most 2^60ns (package ratelimit's limit), in
	// calls of the interval it rounds to.
	maxBurst := math.Floor(float64(1<<60) / max(1, math.Round(float64(l.rate.Period)/limit)))
	rl, err := ratelimit.New(ratelimit.Config{
		Algorithm: ratelimit.AlgorithmTokenBucket,
		Limit:     limit,
		Per:       l.rate.Period,
		Burst:     max(1, clampInt(min(math.Ceil(float64(l.burst)/float64(n)), maxBurst), l.burst)),
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
			l.allowed.Add(1)
			if n-1 <= l.low.Load() {
				l.signal()
			}
			return true
		}
	}
	if down := l.a.storeDown(); down || l.degraded.Load() {
		if !down && l.a.rates != nil {
			l.signal() // the store is back: the refill leaves the failure mode
		}
		return l.allowLocal(true)
	}
	if !l.warm.Load() {
		// The first batch is on its way: admit at the local share, as
		// the store has not said anything yet (not counted as failure
		// mode, but charged to the limit by the next Take).
		if l.allowLocal(false) {
			l.debt.Add(1)
			return true
		}
		return false
	}
	if until := l.overUntil.Load(); until != 0 && int64(time.Since(l.a.epoch)) < until {
		l.held.Add(1) // known over the limit: no round trip
		l.rejected.Add(1)
		return false
	}
	l.missed.Add(1) // demand the refill should cover
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

// The demand window: the calls of the last second, in slots of 100ms.
const (
	demandSlot  = 100 * time.Millisecond
	demandSlots = 10
)

// demandWindow counts a limiter's demand over the last second. Only the
// refill goroutine uses it.
type demandWindow struct {
	slots [demandSlots]int64
	cur   int64 // the slot being filled, counted from born
	born  time.Time
}

// add counts n calls at now.
func (w *demandWindow) add(now time.Time, n int64) {
	i := int64(now.Sub(w.born) / demandSlot)
	if i > w.cur {
		for j := w.cur + 1; j <= i && j <= w.cur+demandSlots; j++ {
			w.slots[j%demandSlots] = 0
		}
		w.cur = i
	}
	w.slots[w.cur%demandSlots] += n
}

// perSec returns the demand of the last second (of the window's age when
// younger, at least one slot), per second.
func (w *demandWindow) perSec(now time.Time) float64 {
	w.add(now, 0)
	var sum int64
	for _, s := range w.slots {
		sum += s
	}
	span := now.Sub(w.born)
	if full := (demandSlots-1)*demandSlot + now.Sub(w.born) - time.Duration(w.cur)*demandSlot; span > full {
		span = full
	}
	return float64(sum) / max(span, demandSlot).Seconds()
}

// refill takes tokens from the store when they run low.
func (l *GlobalLimiter) refill() {
	defer close(l.done)
	a := l.a
	tick := time.NewTicker(max(a.cfg.heartbeat/2, demandSlot))
	defer tick.Stop()
	var (
		wait      <-chan time.Time // the over-limit hold, or the pause after an error
		lastAll   = l.allowed.Load()
		since     int64 // demand since the last Take
		pending   bool
		wasFull   bool // the last Take granted the whole batch
		lastN     = 1
		lastOver  time.Time // when a Take last fell short
		win       = demandWindow{born: time.Now()}
		lastTrip  time.Time
		tripEvery = max(a.cfg.timeout, 10*time.Millisecond)
	)
	l.signal() // the first Take: learn whether the store answers
	for {
		select {
		case <-l.stopc:
			return
		case <-l.need:
			pending = true
		case <-tick.C:
		case <-wait:
			wait = nil
		}
		now := time.Now()
		all := l.allowed.Load()
		missed := l.missed.Swap(0)
		d := int64(all-lastAll) + missed
		lastAll = all
		win.add(now, d)
		since += d
		a.mu.Lock()
		members := len(a.members)
		a.mu.Unlock()
		l.share(members)
		if a.rates == nil || l.rate.Limit <= 0 || l.rate.Period <= 0 {
			l.degraded.Store(true)
			continue
		}
		if a.storeDown() {
			// Known down: the local share, until the agent's other calls
			// (its heartbeat) find the store again.
			l.degraded.Store(true)
			continue
		}
		if wait != nil {
			continue // a hold or a pause: its timer wakes the loop
		}
		if l.held.Load() > 0 {
			pending = true // calls were rejected during the hold
		}
		degraded, debt := l.degraded.Load(), l.debt.Load()
		if !pending && !degraded && debt == 0 {
			continue
		}
		if l.tokens.Load() > l.low.Load() && !degraded && debt == 0 {
			pending = false
			continue
		}
		// The batch: a tenth of a second of demand; at least what was
		// asked since the last Take; twice the last batch when that was
		// granted whole and ran out before the refill (a burst ramps up).
		demand := win.perSec(now)
		contended := !lastOver.IsZero() && now.Sub(lastOver) < time.Second
		n := max(int(math.Ceil(demand/10)), 1)
		if !contended {
			n = max(n, int(since))
			if wasFull && missed > 0 {
				n = max(n, 2*lastN)
			}
		}
		n = min(n, l.cap)
		ask := int(min(int64(n)+debt, int64(l.burst)))
		var granted int
		var retry time.Duration
		sent := time.Now() // the store's answer is about this old
		err := a.call(context.Background(), func(c context.Context) error {
			var err error
			granted, retry, err = a.rates.Take(c, l.key, l.rate, ask)
			return err
		})
		l.trips.Add(1)
		lastTrip = time.Now()
		if err != nil {
			// One failed or slow call is not the store down: spend what
			// is held, and try again after a pause. The failure mode
			// starts when the store's breaker opens.
			down := a.storeDown()
			l.degraded.Store(down || degraded) // in failure mode until a Take succeeds
			pause := tripEvery
			if down {
				pause = max(a.cfg.heartbeat/4, tripEvery)
			}
			wait = time.After(jitter(pause))
			continue
		}
		since, pending, lastN = 0, false, n
		l.held.Store(0)
		pay := int64(min(granted, int(debt)))
		if pay > 0 {
			l.debt.Add(-pay)
		}
		l.tokens.Add(int64(granted) - pay)
		l.batch.Store(int64(n))
		l.degraded.Store(false)
		l.warm.Store(true)
		wasFull = granted >= ask
		if !wasFull {
			lastOver = lastTrip
		}
		if lastOver.IsZero() || lastTrip.Sub(lastOver) >= time.Second {
			// Not contended: refill ahead, when half the batch is left.
			l.low.Store(int64(n / 2))
			l.overUntil.Store(0)
			if l.tokens.Load() <= l.low.Load() || l.debt.Load() > 0 {
				l.signal() // still short: the demand outran the batch
			}
			continue
		}
		// The key is at its limit (a Take fell short within the last
		// second): hold it locally over-limit until one more call would
		// pass (retry-after) plus this replica's turn, jittered, and
		// take the next batch only when the tokens held are spent. The
		// turn is the time the limit takes to accrue a batch for every
		// replica contending: the limit over this replica's demand (at
		// least 1, at most the live members). Meanwhile an over-limit
		// key costs no round trip, and the replicas come back one at a
		// time, each finding about a batch. A turn too long only leaves
		// tokens in the store's bucket, which the next Takes find whole;
		// it is bounded by the time the bucket takes to fill.
		if wasFull {
			retry = 0
		}
		contenders := float64(max(members, 1))
		if demand > 0 {
			contenders = min(max(l.perS/demand, 1), contenders)
		}
		turn := time.Duration(contenders * float64(n) * float64(l.rate.Period) / float64(l.rate.Limit))
		turn = min(turn, l.rate.Period*time.Duration(l.burst)/time.Duration(l.rate.Limit), time.Second)
		hold := max(max(retry, 0)+jitter(turn), time.Millisecond)
		l.low.Store(0)
		l.overUntil.Store(int64(sent.Sub(a.epoch) + hold))
		wait = time.After(max(time.Until(sent.Add(hold)), time.Millisecond))
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
	// the store was known to be down.
	AllowedByFailureMode uint64 `json:"allowedByFailureMode"`
	// RoundTrips counts RateStore.Take calls.
	RoundTrips uint64 `json:"roundTrips"`
	// Tokens is the number of prefetched tokens not spent yet.
	Tokens int64 `json:"tokens"`
	// Batch is the number of tokens the last Take asked for.
	Batch int64 `json:"batch"`
	// Degraded is true while the limiter admits at its local share.
	Degraded bool `json:"degraded"`
}

// Stats returns the limiter's counters.
func (l *GlobalLimiter) Stats() LimiterStats {
	return LimiterStats{
		Allowed: l.allowed.Load(), Rejected: l.rejected.Load(), AllowedByFailureMode: l.byFailure.Load(),
		RoundTrips: l.trips.Load(), Tokens: max(l.tokens.Load(), 0), Batch: l.batch.Load(), Degraded: l.degraded.Load(),
	}
}

// clampInt converts f to an int of at most hi (f beyond the int range, as
// a rate of MaxInt calls a nanosecond makes, converts to hi, never to a
// wrapped negative).
func clampInt(f float64, hi int) int {
	if f >= float64(hi) {
		return hi
	}
	return int(f)
}
