package region

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
)

// Source is one region's store, as a Relay reaches it.
type Source struct {
	// Region is the region's name: the relay copies only the summary
	// stored under this key (the region's own), never the copies the
	// store holds of other regions.
	Region string
	Store  fleet.Store
}

// RelayOption configures NewRelay.
type RelayOption interface{ applyRelay(*relayConfig) }

type relayOptionFunc func(*relayConfig)

func (f relayOptionFunc) applyRelay(c *relayConfig) { f(c) }

type relayConfig struct {
	into    []string
	every   time.Duration
	timeout time.Duration
	logger  *slog.Logger
}

// RelayInto restricts the regions the relay writes into (default: every
// region). A relay per region is NewRelay(all, RelayInto(own)): it pulls
// every region's summary across the network and writes into its own
// region's store only.
func RelayInto(regions ...string) RelayOption {
	return relayOptionFunc(func(c *relayConfig) { c.into = append(c.into, regions...) })
}

// RelayEvery sets the period of the full copy, which repairs what lost
// hints left undone (default DefaultPeriod, jittered).
func RelayEvery(d time.Duration) RelayOption {
	return relayOptionFunc(func(c *relayConfig) { c.every = d })
}

// RelayTimeout bounds every store call of the relay (default
// DefaultRelayTimeout, 1s).
func RelayTimeout(d time.Duration) RelayOption {
	return relayOptionFunc(func(c *relayConfig) { c.timeout = d })
}

// RelayLogger sets the logger of the relay's rare events. The default
// discards.
func RelayLogger(l *slog.Logger) RelayOption {
	return relayOptionFunc(func(c *relayConfig) { c.logger = l })
}

// Relay copies each region's own summary from its store into the other
// regions' stores: hint-driven (a Watch on every source) with a periodic
// full copy, each store call with a timeout, each copy with the summary's
// own TTL, so that the summary of a region that stops publishing (dead,
// or cut from the relay) expires in every other store. A copy never
// replaces a newer summary (a higher Seq) of the same region, so that
// several relays may write into one store.
//
// Memory is bounded by the number of regions: each destination holds at
// most one pending summary per source region. A slow or dead store delays
// only the copies from or into it. Run it in one process for all regions,
// or in one process per region with RelayInto (see docs/regions.md).
type Relay struct {
	srcs  []Source
	dests []Source
	cfg   relayConfig
	links map[string]*link // region -> its store's calls (health.go)

	copied    atomic.Uint64
	errs      atomic.Uint64
	malformed atomic.Uint64
}

// RelayStats counts what a relay did.
type RelayStats struct {
	// Copied counts summaries written into a destination.
	Copied uint64 `json:"copied"`
	// Errors counts failed store calls (timeouts included).
	Errors uint64 `json:"errors"`
	// Malformed counts summaries that could not be read.
	Malformed uint64 `json:"malformed"`
}

// NewRelay returns a relay between the regions' stores. Region names must
// be distinct and non-empty; RelayInto must name known regions.
func NewRelay(regions []Source, opts ...RelayOption) (*Relay, error) {
	c := relayConfig{every: DefaultPeriod, timeout: DefaultRelayTimeout}
	for _, o := range opts {
		if o != nil {
			o.applyRelay(&c)
		}
	}
	if c.every <= 0 {
		c.every = DefaultPeriod
	}
	if c.timeout <= 0 {
		c.timeout = DefaultRelayTimeout
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if len(regions) < 2 {
		return nil, fmt.Errorf("region: NewRelay: regions: %d given, need at least 2", len(regions))
	}
	byName := map[string]Source{}
	for i, s := range regions {
		switch {
		case s.Region == "":
			return nil, fmt.Errorf("region: NewRelay: regions[%d].Region: must not be empty", i)
		case s.Store == nil:
			return nil, fmt.Errorf("region: NewRelay: regions[%d].Store: must not be nil", i)
		}
		if _, dup := byName[s.Region]; dup {
			return nil, fmt.Errorf("region: NewRelay: regions[%d].Region: %q named twice", i, s.Region)
		}
		byName[s.Region] = s
	}
	r := &Relay{srcs: regions, cfg: c, links: map[string]*link{}}
	for _, s := range regions {
		l, err := newLink(s.Region, c.timeout)
		if err != nil {
			return nil, fmt.Errorf("region: NewRelay: %w", err)
		}
		r.links[s.Region] = l
	}
	if len(c.into) == 0 {
		r.dests = regions
	} else {
		for _, name := range c.into {
			s, ok := byName[name]
			if !ok {
				return nil, fmt.Errorf("region: NewRelay: RelayInto: %q is not one of the regions", name)
			}
			r.dests = append(r.dests, s)
		}
	}
	return r, nil
}

// Stats returns the relay's counters (Errors counts store calls that
// failed or were skipped because a store's breaker was open).
func (r *Relay) Stats() RelayStats {
	return RelayStats{Copied: r.copied.Load(), Errors: r.errs.Load(), Malformed: r.malformed.Load()}
}

// item is a summary on its way into one destination.
type item struct {
	sum Summary
	raw []byte
}

// mailbox carries one source region's summaries into one destination: it
// holds the latest pending one, and its writer remembers what it wrote
// last, so that the next copy is one compare-and-put.
type mailbox struct {
	dest Source
	mu   sync.Mutex
	next *item
	wake chan struct{}

	// Owned by the writer.
	wrote    []byte // the value this relay last wrote, nil when unknown
	wroteSeq uint64 // its Seq
}

func (m *mailbox) offer(it item) {
	m.mu.Lock()
	if m.next == nil || m.next.sum.Seq <= it.sum.Seq {
		m.next = &it
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// Run relays until ctx ends, and returns ctx.Err(). Each (source,
// destination) pair has a writer of its own, so that a slow region delays
// only the copies from or into it.
func (r *Relay) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, s := range r.srcs {
		var outs []*mailbox
		for _, d := range r.dests {
			if d.Region != s.Region {
				m := &mailbox{dest: d, wake: make(chan struct{}, 1)}
				outs = append(outs, m)
				wg.Go(func() { r.write(ctx, m) })
			}
		}
		if len(outs) == 0 {
			continue
		}
		wake := make(chan struct{}, 1)
		wg.Go(func() { r.watch(ctx, s, wake) })
		wg.Go(func() { r.pull(ctx, s, outs, wake) })
	}
	wg.Wait()
	return ctx.Err()
}

// call runs fn against region's store, with the timeout, behind the
// store's breaker.
func (r *Relay) call(ctx context.Context, region string, fn func(context.Context) error) error {
	err := r.links[region].call(ctx, fn)
	if err != nil && ctx.Err() == nil {
		r.errs.Add(1)
	}
	return err
}

// Health returns the health of every region store the relay reaches, by
// region, and its counters. It reads memory only.
func (r *Relay) Health() RelayHealth {
	h := RelayHealth{RelayStats: r.Stats(), Links: make([]StoreHealth, 0, len(r.srcs))}
	for _, s := range r.srcs {
		h.Links = append(h.Links, r.links[s.Region].health())
	}
	return h
}

// watch turns the source's summary hints into wake-ups of its puller.
func (r *Relay) watch(ctx context.Context, s Source, wake chan struct{}) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := time.Now()
		err := s.Store.Watch(ctx, func(h fleet.Hint) {
			if h.Resync || (h.Kind == KindSummary && h.Key == s.Region) {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
		})
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		r.cfg.logger.Debug("region: relay watch lost", "region", s.Region, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(jitter(backoff)):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// pull reads the source region's own summary on each wake-up and each
// period, and offers it to every destination.
func (r *Relay) pull(ctx context.Context, s Source, outs []*mailbox, wake chan struct{}) {
	t := time.NewTimer(0)
	defer t.Stop()
	var last uint64
	for {
		full := false
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-t.C:
			full = true
			t.Reset(jitter(r.cfg.every))
		}
		var e fleet.Entry
		var found bool
		if r.call(ctx, s.Region, func(c context.Context) error {
			var err error
			e, found, err = s.Store.Get(c, KindSummary, s.Region)
			return err
		}) != nil || !found {
			continue
		}
		sum, err := decodeSummary(e)
		if err != nil {
			r.malformed.Add(1)
			r.cfg.logger.Warn("region: relay skipped a summary", "region", s.Region, "err", err)
			continue
		}
		if sum.Seq == last && !full {
			continue
		}
		last = sum.Seq
		for _, m := range outs {
			m.offer(item{sum: sum, raw: e.Value})
		}
	}
}

// write puts the pending summary into the destination, only when the
// destination holds none of its region or an older one.
func (r *Relay) write(ctx context.Context, m *mailbox) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		}
		m.mu.Lock()
		it := m.next
		m.next = nil
		m.mu.Unlock()
		if it != nil {
			r.put(ctx, m, *it)
		}
	}
}

func (r *Relay) put(ctx context.Context, m *mailbox, it item) {
	ttl := time.Duration(it.sum.TTLMS) * time.Millisecond
	key := it.sum.Region
	if m.wrote != nil && it.sum.Seq > m.wroteSeq {
		// Fast path: the destination still holds what this relay wrote
		// (a summary of the same Seq is checked by a read instead: the
		// full copy must never extend the life of a summary that stopped
		// advancing).
		var done bool
		if r.call(ctx, m.dest.Region, func(c context.Context) error {
			var err error
			done, err = m.dest.Store.CompareAndPut(c, KindSummary, key, m.wrote, it.raw, ttl)
			return err
		}) != nil {
			m.wrote = nil
			return
		}
		if done {
			m.wrote, m.wroteSeq = it.raw, it.sum.Seq
			r.copied.Add(1)
			return
		}
		m.wrote = nil // expired, or written by another relay: read it
	}
	var cur fleet.Entry
	var found bool
	if r.call(ctx, m.dest.Region, func(c context.Context) error {
		var err error
		cur, found, err = m.dest.Store.Get(c, KindSummary, key)
		return err
	}) != nil {
		return
	}
	if found {
		if old, err := decodeSummary(cur); err == nil && old.Seq >= it.sum.Seq {
			m.wrote, m.wroteSeq = cur.Value, old.Seq
			return // as new or newer (another relay was faster)
		}
	}
	var done bool
	if r.call(ctx, m.dest.Region, func(c context.Context) error {
		var err error
		if !found {
			done, _, err = m.dest.Store.Create(c, KindSummary, key, it.raw, ttl)
		} else {
			done, err = m.dest.Store.CompareAndPut(c, KindSummary, key, cur.Value, it.raw, ttl)
		}
		return err
	}) == nil && done {
		m.wrote, m.wroteSeq = it.raw, it.sum.Seq
		r.copied.Add(1)
	}
}
