package quota

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
)

// Limiter is one replica's share of a global quota. Allow never touches
// the network: it spends a local token bucket refilled at the replica's
// current rate, the capacity of its lease from the region coordinator.
// In the background, every RefreshEvery, the limiter reports its demand
// (the calls it was asked for per second, admitted or not) into its
// region's store and reads the lease answering it.
//
// A lease lasts its TTL counted from when the limiter sent the request it
// answers, so it always ends before its coordinator's record of it. When
// it ends without a new one (the coordinator, the store or the root is
// gone), the limiter admits at its safe share, the region's SafeCapacity
// split by its live replicas (counted in Stats.AllowedBySafeCapacity).
// The rate in force is decided on each call from the clock, never by a
// background goroutine being on time.
//
// Safe for concurrent use; Close stops the refresh.
type Limiter struct {
	res   Resource
	cfg   config
	id    string
	token string
	store fleet.Store

	stopc chan struct{}
	done  chan struct{}
	once  sync.Once

	asked     atomic.Uint64 // calls asked since the last report
	allowed   atomic.Uint64
	rejected  atomic.Uint64
	bySafe    atomic.Uint64
	refreshes atomic.Uint64
	errs      atomic.Uint64

	mu sync.Mutex // guards the bucket and the lease
	// The bucket.
	tokens float64
	last   time.Time
	// The lease.
	leaseReq   string
	leaseCap   float64
	leaseUntil time.Time
	safe       float64
	// Refresh state (the loop only, under mu).
	seq     uint64
	pending map[string]time.Time
}

// NewLimiter starts a replica's limiter of res with the given id (unique
// in its region), reporting into store (its region's store). Until its
// first lease arrives it admits at its safe share: SafeCapacity split by
// the replicas it sees in the store (ExpectedReplicas before the store has
// answered).
func NewLimiter(res Resource, store fleet.Store, id string, opts ...Option) (*Limiter, error) {
	if err := res.Validate(); err != nil {
		return nil, err
	}
	if store == nil {
		return nil, errors.New("quota: store is nil")
	}
	if id == "" || strings.ContainsAny(id, "/#") {
		return nil, fmt.Errorf("quota: replica id %q: must be non-empty, without '/' or '#'", id)
	}
	l := &Limiter{res: res.withDefaults(), cfg: newConfig(opts), id: id, token: newToken(), store: store,
		stopc: make(chan struct{}), done: make(chan struct{}), pending: map[string]time.Time{}, last: time.Now()}
	l.safe = l.res.SafeCapacity / float64(l.cfg.expected)
	l.tokens = l.burst(l.safe)
	go l.loop()
	return l, nil
}

func (l *Limiter) burst(rate float64) float64 {
	return max(1, rate*l.cfg.burst.Seconds())
}

// rate returns the rate in force at now and whether it is a lease's.
// l.mu is held.
func (l *Limiter) rate(now time.Time) (float64, bool) {
	if now.Before(l.leaseUntil) {
		return l.leaseCap, true
	}
	return l.safe, false
}

// Allow reports whether one call may happen now, and takes it if so. It
// never blocks on the network.
func (l *Limiter) Allow() bool {
	l.asked.Add(1)
	now := time.Now()
	l.mu.Lock()
	r, onLease := l.rate(now)
	b := l.burst(r)
	if el := now.Sub(l.last).Seconds(); el > 0 {
		l.tokens += el * r
	}
	l.last = now
	l.tokens = min(l.tokens, b)
	ok := l.tokens >= 1
	if ok {
		l.tokens--
	}
	l.mu.Unlock()
	if !ok {
		l.rejected.Add(1)
		return false
	}
	l.allowed.Add(1)
	if !onLease {
		l.bySafe.Add(1)
	}
	return true
}

func (l *Limiter) loop() {
	defer close(l.done)
	// The lease is read twice a refresh (a Get), so that a new lease is
	// used half a refresh sooner; demand is reported once a refresh, and at
	// once when a smaller lease arrives (its acknowledgement frees the
	// difference for others).
	t := time.NewTicker(l.res.RefreshEvery / 2)
	defer t.Stop()
	last := time.Now()
	l.readLease()
	l.report(0)
	for tick := 1; ; tick++ {
		select {
		case <-l.stopc:
			return
		case now := <-t.C:
			shrunk := l.readLease()
			if tick%2 != 0 && !shrunk {
				continue
			}
			el := now.Sub(last)
			last = now
			wants := 0.0
			if el > 0 {
				wants = float64(l.asked.Swap(0)) / el.Seconds()
			}
			l.report(wants)
		}
	}
}

func (l *Limiter) call(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.cfg.timeout)
	defer cancel()
	err := f(ctx)
	if err != nil {
		l.errs.Add(1)
	}
	return err
}

// readLease reads the answer to an earlier request and adopts it. It
// reports whether the new lease is smaller than the one before.
func (l *Limiter) readLease() (shrunk bool) {
	key := l.res.Name + "/" + l.id
	var e fleet.Entry
	var found bool
	if l.call(func(ctx context.Context) (err error) {
		e, found, err = l.store.Get(ctx, KindLease, key)
		return err
	}) == nil && found {
		if g, ok := decodeGrant(e.Value); ok {
			l.mu.Lock()
			if sent, ok := l.pending[g.Req]; ok {
				now := time.Now()
				l.settle(now)
				shrunk = now.Before(l.leaseUntil) && g.Capacity < l.leaseCap
				l.leaseReq, l.leaseCap = g.Req, g.Capacity
				l.leaseUntil = sent.Add(time.Duration(g.TTLMs) * time.Millisecond)
				l.safe = g.Safe
				for r, t := range l.pending {
					if !t.After(sent) {
						delete(l.pending, r)
					}
				}
			}
			l.mu.Unlock()
		}
	}
	return shrunk
}

// report writes the replica's demand, a new request naming the lease it
// runs within.
func (l *Limiter) report(wants float64) {
	l.refreshes.Add(1)
	key := l.res.Name + "/" + l.id
	l.mu.Lock()
	now := time.Now()
	holding := ""
	if now.Before(l.leaseUntil) {
		holding = l.leaseReq
	}
	onLease := holding != ""
	l.seq++
	req := fmt.Sprintf("%s#%s#%d", l.id, l.token, l.seq)
	l.mu.Unlock()
	if !onLease {
		// Without a lease the safe share follows the live replicas.
		var es []fleet.Entry
		if l.call(func(ctx context.Context) (err error) {
			es, err = l.store.List(ctx, KindDemand)
			return err
		}) == nil {
			n := 1
			for _, e := range es {
				if k, ok := strings.CutPrefix(e.Key, l.res.Name+"/"); ok && k != l.id {
					n++
				}
			}
			l.mu.Lock()
			l.settle(time.Now())
			l.safe = l.res.SafeCapacity / float64(max(n, l.cfg.expected))
			l.mu.Unlock()
		}
	}
	r := request{V: protocol, Req: req, Wants: wants, Holding: holding}
	if l.call(func(ctx context.Context) error {
		return l.store.Put(ctx, KindDemand, key, encode(r), 3*l.res.RefreshEvery)
	}) == nil {
		l.mu.Lock()
		l.pending[req] = now
		for r, t := range l.pending {
			if now.Sub(t) > l.res.LeaseTTL {
				delete(l.pending, r)
			}
		}
		l.mu.Unlock()
	}
}

// settle brings the bucket to now at the rate in force before a change of
// rate. l.mu is held.
func (l *Limiter) settle(now time.Time) {
	r, _ := l.rate(now)
	if el := now.Sub(l.last).Seconds(); el > 0 {
		l.tokens = min(l.tokens+el*r, l.burst(r))
	}
	l.last = now
}

// LimiterStats are a Limiter's counters and current rate.
type LimiterStats struct {
	Allowed  uint64 `json:"allowed"`
	Rejected uint64 `json:"rejected"`
	// AllowedBySafeCapacity counts calls admitted at the safe share,
	// without a lease.
	AllowedBySafeCapacity uint64 `json:"allowedBySafeCapacity"`
	// Rate is the rate in force (calls per second); OnLease says whether
	// it is a lease's or the safe share.
	Rate    float64 `json:"rate"`
	OnLease bool    `json:"onLease"`
	// Refreshes counts the demand reports; StoreErrors the store calls
	// that failed.
	Refreshes   uint64 `json:"refreshes"`
	StoreErrors uint64 `json:"storeErrors"`
}

// Stats returns the limiter's counters and rate.
func (l *Limiter) Stats() LimiterStats {
	l.mu.Lock()
	r, on := l.rate(time.Now())
	l.mu.Unlock()
	return LimiterStats{Allowed: l.allowed.Load(), Rejected: l.rejected.Load(), AllowedBySafeCapacity: l.bySafe.Load(),
		Rate: r, OnLease: on, Refreshes: l.refreshes.Load(), StoreErrors: l.errs.Load()}
}

// Close stops the limiter's refresh and withdraws its demand (best
// effort). Allow keeps working at the rate in force, then the safe share.
func (l *Limiter) Close() error {
	l.once.Do(func() {
		close(l.stopc)
		<-l.done
		_ = l.call(func(ctx context.Context) error {
			return l.store.Delete(ctx, KindDemand, l.res.Name+"/"+l.id)
		})
	})
	return nil
}
