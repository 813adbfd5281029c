// Package throttle rejects calls locally, with a probability that grows as
// the dependency rejects more of them: the client-side adaptive throttling
// of Google's SRE book ("Handling Overload").
//
// Over a sliding window the throttler counts requests (calls the client
// attempted) and accepts (calls the dependency answered successfully), and
// rejects a new call locally with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// While the dependency accepts more than one call in K, nothing is
// rejected. When it starts refusing, the client sends it only about K times
// what it accepts, so it spends little on calls it would refuse anyway and
// the client backs off before a circuit breaker would open. A call rejected
// locally counts as a request, so the probability stays up while the
// dependency stays down, and falls as accepts return: once the dependency
// accepts everything again, the share of calls let through about doubles
// every window (with K 2), so the client is back to full traffic within a
// few windows.
//
//	th, err := throttle.New(throttle.Config{K: 2, Window: 2 * time.Minute})
//	if err != nil {
//		log.Fatal(err)
//	}
//	now := time.Now()
//	if !th.Allow(now) {
//		return throttle.ErrThrottled
//	}
//	err = call()
//	th.Record(time.Now(), err == nil)
//
// Time is explicit, so tests and simulations drive a throttler without a
// clock. A Throttler is safe for concurrent use and allocates nothing.
package throttle

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/internal/reject"
)

// ErrThrottled is returned for a call the throttler rejected locally. It
// matches core.ErrRejected under errors.Is and its ErrorType is
// "throttled".
var ErrThrottled = reject.New("throttle: rejected locally", "throttled")

// Defaults for a zero Config field.
const (
	DefaultK      = 2
	DefaultWindow = 2 * time.Minute
)

// buckets divide the window; the window slides one bucket at a time.
const buckets = 12

// Config describes a throttler. The zero Config is valid: K 2 over two
// minutes.
type Config struct {
	// K is how many requests per accept the client keeps sending, at least
	// 1; default 2. Lower is more aggressive.
	K float64
	// Window is how long a request or an accept counts; default 2m.
	Window time.Duration
	// Rand returns the random numbers in [0, 1) that decide each rejection;
	// default math/rand/v2's Float64. Tests set it to be deterministic.
	Rand func() float64
}

// Validate reports every invalid field of c, joined with errors.Join, each
// naming the field as its JSON name and the bad value.
func (c Config) Validate() error {
	var errs []error
	if (c.K != 0 && c.K < 1) || math.IsNaN(c.K) || math.IsInf(c.K, 0) {
		errs = append(errs, fmt.Errorf("throttle: k: %v must be at least 1 (0: default %v)", c.K, DefaultK))
	}
	if c.Window < 0 {
		errs = append(errs, fmt.Errorf("throttle: window: %v must not be negative", c.Window))
	} else if c.Window > 0 && c.Window < buckets {
		errs = append(errs, fmt.Errorf("throttle: window: %v must be at least %dns", c.Window, buckets))
	}
	return errors.Join(errs...)
}

// Throttler is the SRE book's client-side adaptive throttle; see the
// package documentation. Create one with New.
type Throttler struct {
	k        float64
	bucketNs int64
	rand     func() float64
	rejected atomic.Uint64 // cumulative local rejections
	b        [buckets]bucket
}

type bucket struct {
	num      atomic.Int64 // the bucket number (time / bucketNs) it counts
	requests atomic.Int64
	accepts  atomic.Int64
	_        [40]byte // one cache line each
}

// New returns a throttler configured by cfg, or the error of cfg.Validate.
func New(cfg Config) (*Throttler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.K == 0 {
		cfg.K = DefaultK
	}
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	t := &Throttler{k: cfg.K, bucketNs: int64(cfg.Window) / buckets, rand: cfg.Rand}
	for i := range t.b {
		t.b[i].num.Store(math.MinInt64)
	}
	return t, nil
}

// at returns the bucket for time now, cleared if it held an older one.
func (t *Throttler) at(now time.Time) *bucket {
	n := now.UnixNano() / t.bucketNs
	b := &t.b[uint64(n)%buckets]
	if old := b.num.Load(); old < n && b.num.CompareAndSwap(old, n) {
		// A count added between the swap and these stores is lost: the
		// window is approximate by a call or two at a bucket's edge.
		b.requests.Store(0)
		b.accepts.Store(0)
	}
	return b
}

// Counts returns the requests and accepts counted in the window ending at
// now.
func (t *Throttler) Counts(now time.Time) (requests, accepts int64) {
	n := now.UnixNano() / t.bucketNs
	for i := range t.b {
		b := &t.b[i]
		if d := n - b.num.Load(); d >= 0 && d < buckets {
			requests += b.requests.Load()
			accepts += b.accepts.Load()
		}
	}
	return max(requests, 0), max(accepts, 0)
}

// Probability returns the probability that a call at now is rejected:
// max(0, (requests − K·accepts) / (requests + 1)).
func (t *Throttler) Probability(now time.Time) float64 {
	r, a := t.Counts(now)
	return max(0, (float64(r)-t.k*float64(a))/float64(r+1))
}

// Allow reports whether a call at now may go to the dependency. A call it
// refuses counts as a request; a call it admits is counted by Record when
// its outcome is known.
func (t *Throttler) Allow(now time.Time) bool {
	p := t.Probability(now)
	if p <= 0 || t.rand() >= p {
		return true
	}
	t.at(now).requests.Add(1)
	t.rejected.Add(1)
	return false
}

// Record counts an admitted call that ended at now: a request, and an
// accept when the dependency accepted it (it did not refuse or fail it).
// A call whose outcome says nothing about the dependency (the caller
// canceled it) is best not recorded.
func (t *Throttler) Record(now time.Time, accepted bool) {
	b := t.at(now)
	b.requests.Add(1)
	if accepted {
		b.accepts.Add(1)
	}
}

// Snapshot is a copy of a throttler's window and counters.
type Snapshot struct {
	// Requests and Accepts are the counts in the window.
	Requests, Accepts int64
	// Probability is the current probability of a local rejection.
	Probability float64
	// Rejected counts the calls rejected locally since the throttler was
	// created.
	Rejected uint64
}

// Snapshot returns the throttler's state at now.
func (t *Throttler) Snapshot(now time.Time) Snapshot {
	r, a := t.Counts(now)
	return Snapshot{
		Requests: r, Accepts: a,
		Probability: max(0, (float64(r)-t.k*float64(a))/float64(r+1)),
		Rejected:    t.rejected.Load(),
	}
}
