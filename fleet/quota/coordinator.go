package quota

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
)

// Option configures a Coordinator or a Limiter.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	timeout     time.Duration
	forgetAfter time.Duration
	expected    int
	burst       time.Duration
}

func newConfig(opts []Option) config {
	c := config{timeout: 100 * time.Millisecond, forgetAfter: 10 * time.Minute, expected: 1, burst: 100 * time.Millisecond}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// WithTimeout bounds every store call (default 100ms).
func WithTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	})
}

// ForgetAfter is how long the root remembers a region that stopped
// asking for leases, and so keeps its safe capacity reserved (default 10
// minutes). A region partitioned from the root for longer runs at its safe
// capacity unaccounted for until it is heard again.
func ForgetAfter(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.forgetAfter = d
		}
	})
}

// ExpectedReplicas is how many replicas a Limiter assumes, at least,
// share its region's safe capacity while it has no lease (default 1): the
// live replicas it sees in the store, when more. Replicas that start
// together do not see each other at first; setting this to the region's
// usual replica count keeps them from each taking the whole safe
// capacity. Give it to the Coordinator too: its replicas' floors are the
// safe capacity split the same way.
func ExpectedReplicas(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.expected = n
		}
	})
}

// Burst sets how much a Limiter's token bucket holds, as a span of its
// rate (default 100ms: a replica leased 100 calls a second admits at most
// 10 at once).
func Burst(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d > 0 {
			c.burst = d
		}
	})
}

// newToken returns a random token naming one coordinator or limiter run,
// so that request ids never collide across processes or restarts.
func newToken() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// election is one coordinator lease held (or not) in a store.
type election struct {
	key   string
	held  bool
	until time.Time // act as holder until then (own clock, counted from before the refresh was sent)
	since time.Time // took over at
}

// Coordinator is a candidate for the coordinators of one resource's quota
// tree: it competes for its region's coordinator lease (in the region's
// store) and for the root lease (in the root store), and does the work of
// each it holds, twice every RefreshEvery:
//
//   - as region coordinator, it sums its replicas' demands, asks the root
//     for the region's lease, and splits the region's capacity among the
//     replicas by max-min fair share (the region lease while it holds
//     one, the region's SafeCapacity otherwise);
//   - as root, it splits the resource's Capacity among the regions the
//     same way, never granting a child more than the capacity left by the
//     others' unexpired grants, so the sum of unexpired leases never
//     exceeds Capacity.
//
// A coordinator that has just taken a lease (after a failover, or at
// start) is in learning mode for one LeaseTTL: it renews what the store
// shows each child holding and grants nothing above it.
//
// Run one per resource in every process that may coordinate (typically
// every replica). It never sits on a call's path; a store that cannot be
// reached only means its leases lapse. Safe for concurrent use.
type Coordinator struct {
	res    Resource
	cfg    config
	id     string
	region string
	token  string
	root   fleet.Store
	store  fleet.Store

	stopc chan struct{}
	done  chan struct{}
	once  sync.Once

	mu sync.Mutex // guards the state below; held by the loop's rounds
	// Root role.
	rootE      election
	rootLed    ledger
	rootSeed   map[string]float64
	rootSeen   map[string]seen
	rootAnswer map[string]string
	// Region role.
	regE      election
	regLed    ledger
	regSeed   map[string]float64
	regAnswer map[string]string
	seq       uint64
	pending   map[string]time.Time // request id → when sent
	lease     regionLease
	replicas  int

	snap         atomic.Pointer[snap]
	grantsRoot   atomic.Uint64
	grantsRegion atomic.Uint64
	errs         atomic.Uint64
}

// seen is when the root first saw a region's current request.
type seen struct {
	req string
	at  time.Time
}

// regionLease is the region's lease from the root, as the region
// coordinator holds it.
type regionLease struct {
	req   string
	cap   float64
	until time.Time
}

// NewCoordinator starts a coordinator candidate with the given id (unique
// per process) in region, using root (the root store, one for every
// region) and store (the region's store). It returns at once; Close stops
// it and gives up the leases it holds.
func NewCoordinator(res Resource, root, store fleet.Store, region, id string, opts ...Option) (*Coordinator, error) {
	if err := res.Validate(); err != nil {
		return nil, err
	}
	switch {
	case root == nil:
		return nil, errors.New("quota: root store is nil")
	case store == nil:
		return nil, errors.New("quota: region store is nil")
	case region == "" || strings.ContainsAny(region, "/#"):
		return nil, fmt.Errorf("quota: region %q: must be non-empty, without '/' or '#'", region)
	case id == "" || strings.ContainsAny(id, "/#"):
		return nil, fmt.Errorf("quota: coordinator id %q: must be non-empty, without '/' or '#'", id)
	}
	c := &Coordinator{
		res: res.withDefaults(), cfg: newConfig(opts), id: id, region: region, token: newToken(),
		root: root, store: store, stopc: make(chan struct{}), done: make(chan struct{}),
		rootE: election{key: "root/" + res.Name}, regE: election{key: "region/" + res.Name},
		pending: map[string]time.Time{},
	}
	go c.loop()
	return c, nil
}

func (c *Coordinator) loop() {
	defer close(c.done)
	// Coordinators run twice a refresh: each hop of a lease's way (a
	// request waiting for its parent's round) then costs half a refresh,
	// and coordinators are few (one per region, and the root).
	t := time.NewTicker(c.res.RefreshEvery / 2)
	defer t.Stop()
	c.round()
	for {
		select {
		case <-c.stopc:
			return
		case <-t.C:
			c.round()
		}
	}
}

// call runs one store call under the configured timeout.
func (c *Coordinator) call(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.timeout)
	defer cancel()
	err := f(ctx)
	if err != nil {
		c.errs.Add(1)
	}
	return err
}

// round is one refresh: the region's work, then the root's.
func (c *Coordinator) round() {
	c.mu.Lock()
	defer c.mu.Unlock()
	// A holder that cannot reach its store this round keeps its ledger:
	// forgetting it would forget larger grants its children may still
	// run on. Only a lost election resets it (and the next one learns).
	if c.elect(c.store, &c.regE) {
		c.regionRound()
	} else if !c.regE.held {
		c.regLed, c.regSeed, c.regAnswer = nil, nil, nil
	}
	if c.elect(c.root, &c.rootE) {
		c.rootRound()
	} else if !c.rootE.held {
		c.rootLed, c.rootSeed, c.rootSeen, c.rootAnswer = nil, nil, nil, nil
	}
	c.snapshot()
}

// snap is what Stats reads, taken at the end of each round so that Stats
// never waits for a round's store calls.
type snap struct {
	rootE, regE   election
	lease         regionLease
	replicas      int
	rootCommitted float64
}

func (c *Coordinator) snapshot() {
	s := &snap{rootE: c.rootE, regE: c.regE, lease: c.lease, replicas: c.replicas}
	if c.rootE.held && c.rootLed != nil {
		now := time.Now()
		keys := map[string]bool{}
		for k := range c.rootLed {
			keys[k] = true
		}
		for k := range c.rootSeen {
			keys[k] = true
		}
		for k := range keys {
			s.rootCommitted += max(c.rootLed.committed(k, now), c.res.SafeCapacity)
		}
	}
	c.snap.Store(s)
}

// elect takes or refreshes e in st and reports whether this coordinator
// holds it now. A holder acts for two refreshes after the refresh it sent
// last (the key lives three on the server), so it stops before anyone else
// can take over.
func (c *Coordinator) elect(st fleet.Store, e *election) bool {
	now := time.Now()
	val := []byte(c.id + "#" + c.token)
	ttl := 3 * c.res.RefreshEvery
	if e.held {
		var ok bool
		err := c.call(func(ctx context.Context) (err error) {
			ok, err = st.CompareAndPut(ctx, KindElect, e.key, val, val, ttl)
			return err
		})
		switch {
		case err == nil && ok:
			e.until = now.Add(2 * c.res.RefreshEvery)
			return true
		case err == nil:
			e.held = false
			return false
		default:
			if !now.Before(e.until) {
				e.held = false
			}
			return false // cannot act without the store this round
		}
	}
	var created bool
	err := c.call(func(ctx context.Context) (err error) {
		created, _, err = st.Create(ctx, KindElect, e.key, val, ttl)
		return err
	})
	if err != nil || !created {
		return false
	}
	e.held, e.until, e.since = true, now.Add(2*c.res.RefreshEvery), now
	return true
}

// child is one child's current request as a parent reads it.
type child struct {
	key   string
	req   request
	floor float64
}

// answer is one grant to write.
type answer struct {
	key string
	g   grant
	ttl time.Duration
}

// allot computes the grants answering children's new requests: targets by
// max-min fair share of capacity, each cut to what the other children's
// unexpired grants leave free (so that the sum of unexpired grants never
// exceeds capacity), and, while learning, to what the child held when this
// coordinator took over. Grants end by capUntil when it is not zero.
func (c *Coordinator) allot(now time.Time, capacity float64, capUntil time.Time, children []child, led ledger, answered map[string]string, learning bool, seed map[string]float64, safe float64) []answer {
	ttl := c.res.LeaseTTL
	if !capUntil.IsZero() {
		ttl = min(ttl, capUntil.Sub(now))
	}
	for _, ch := range children {
		if ch.req.Holding != "" {
			led.ack(ch.key, ch.req.Holding)
		}
	}
	demands := make([]float64, len(children))
	floors := make([]float64, len(children))
	for i, ch := range children {
		demands[i], floors[i] = ch.req.Wants, ch.floor
	}
	targets := FairShare(capacity, demands, floors)
	order := make([]int, len(children))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case targets[a] < targets[b]:
			return -1
		case targets[a] > targets[b]:
			return 1
		}
		return 0
	})
	floorOf := map[string]float64{}
	for _, ch := range children {
		floorOf[ch.key] = ch.floor
	}
	var out []answer
	if ttl < time.Millisecond {
		return nil
	}
	for _, i := range order {
		ch := children[i]
		if answered[ch.key] == ch.req.Req {
			continue
		}
		others := 0.0
		for k := range led {
			if k != ch.key {
				others += max(led.committed(k, now), floorOf[k])
			}
		}
		for k, f := range floorOf {
			if _, ok := led[k]; !ok && k != ch.key {
				others += f
			}
		}
		x := min(targets[i], capacity-others)
		if learning {
			// What the child held when we took over, or its safe share,
			// which it may use without a lease anyway.
			x = min(x, max(seed[ch.key], ch.floor))
		}
		x = max(x, 0)
		led.add(ch.key, ch.req.Req, x, now.Add(ttl))
		answered[ch.key] = ch.req.Req
		out = append(out, answer{key: ch.key, ttl: ttl, g: grant{V: protocol, Req: ch.req.Req, Capacity: x, TTLMs: max(ttl.Milliseconds(), 1), Safe: safe}})
	}
	return out
}

// seedFrom reads the grants a previous coordinator left in st, for
// learning mode: each child is taken to hold what the store shows, for one
// whole LeaseTTL from now.
func (c *Coordinator) seedFrom(st fleet.Store, kind fleet.Kind, now time.Time) (ledger, map[string]float64, bool) {
	var es []fleet.Entry
	if err := c.call(func(ctx context.Context) (err error) {
		es, err = st.List(ctx, kind)
		return err
	}); err != nil {
		return nil, nil, false
	}
	led, seed := ledger{}, map[string]float64{}
	prefix := c.res.Name + "/"
	for _, e := range es {
		key, ok := strings.CutPrefix(e.Key, prefix)
		if !ok {
			continue
		}
		g, ok := decodeGrant(e.Value)
		if !ok {
			continue
		}
		seed[key] = min(g.Capacity, c.res.Capacity)
	}
	// No coordinator grants more than the capacity in all: a store that
	// shows more holds values none wrote, scaled down to fit.
	sum := 0.0
	for _, v := range seed {
		sum += v
	}
	for k, v := range seed {
		if sum > c.res.Capacity {
			v *= c.res.Capacity / sum
			seed[k] = v
		}
		led.add(k, "", v, now.Add(c.res.LeaseTTL))
	}
	return led, seed, true
}

// readChildren lists the current requests of kind in st for the resource.
func (c *Coordinator) readChildren(st fleet.Store, kind fleet.Kind) ([]child, bool) {
	var es []fleet.Entry
	if err := c.call(func(ctx context.Context) (err error) {
		es, err = st.List(ctx, kind)
		return err
	}); err != nil {
		return nil, false
	}
	prefix := c.res.Name + "/"
	var out []child
	for _, e := range es {
		key, ok := strings.CutPrefix(e.Key, prefix)
		if !ok {
			continue
		}
		r, ok := decodeRequest(e.Value)
		if !ok {
			continue
		}
		out = append(out, child{key: key, req: r})
	}
	slices.SortFunc(out, func(a, b child) int { return strings.Compare(a.key, b.key) })
	return out, true
}

// regionRound is the region coordinator's refresh.
func (c *Coordinator) regionRound() {
	now := time.Now()
	if c.regLed == nil {
		led, seed, ok := c.seedFrom(c.store, KindLease, now)
		if !ok {
			return
		}
		c.regLed, c.regSeed, c.regAnswer = led, seed, map[string]string{}
	}
	// The root's answer to one of our requests.
	var e fleet.Entry
	var found bool
	if c.call(func(ctx context.Context) (err error) {
		e, found, err = c.root.Get(ctx, KindRegionLease, c.res.Name+"/"+c.region)
		return err
	}) == nil && found {
		if g, ok := decodeGrant(e.Value); ok {
			if sent, ok := c.pending[g.Req]; ok {
				c.lease = regionLease{req: g.Req, cap: g.Capacity, until: sent.Add(time.Duration(g.TTLMs) * time.Millisecond)}
				for r, t := range c.pending {
					if !t.After(sent) {
						delete(c.pending, r)
					}
				}
			}
		}
	}
	children, ok := c.readChildren(c.store, KindDemand)
	if !ok {
		return
	}
	c.replicas = len(children)
	safe := c.res.SafeCapacity / float64(max(len(children), c.cfg.expected))
	wants := 0.0
	for i := range children {
		children[i].floor = safe
		wants += children[i].req.Wants
	}
	capacity, capUntil := c.res.SafeCapacity, time.Time{}
	if now.Before(c.lease.until) {
		// The root reserves the safe capacity for every region it knows,
		// leased or not: the region may always use that much.
		capacity, capUntil = max(c.lease.cap, c.res.SafeCapacity), c.lease.until
	}
	learning := now.Before(c.regE.since.Add(c.res.LeaseTTL))
	answers := c.allot(now, capacity, capUntil, children, c.regLed, c.regAnswer, learning, c.regSeed, safe)
	for _, a := range answers {
		if !time.Now().Before(c.regE.until) {
			break // a slow round outlived the election: another may hold it now
		}
		if c.call(func(ctx context.Context) error {
			return c.store.Put(ctx, KindLease, c.res.Name+"/"+a.key, encode(a.g), a.ttl)
		}) == nil {
			c.grantsRegion.Add(1)
		}
	}
	// Ask the root again, saying which lease the region now runs within:
	// the current one, when every replica's grant fits in it.
	holding := ""
	if now.Before(c.lease.until) {
		sum := 0.0
		for _, ch := range children {
			sum += max(c.regLed.committed(ch.key, now), ch.floor)
		}
		for k := range c.regLed {
			if _, ok := c.regAnswer[k]; ok && !slices.ContainsFunc(children, func(ch child) bool { return ch.key == k }) {
				sum += c.regLed.committed(k, now)
			}
		}
		if sum <= max(c.lease.cap, c.res.SafeCapacity)*(1+1e-9)+1e-9 {
			holding = c.lease.req
		}
	}
	c.seq++
	req := fmt.Sprintf("%s#%s#%d", c.id, c.token, c.seq)
	r := request{V: protocol, Req: req, Wants: wants, Holding: holding}
	sent := time.Now()
	if c.call(func(ctx context.Context) error {
		return c.root.Put(ctx, KindRegionDemand, c.res.Name+"/"+c.region, encode(r), c.cfg.forgetAfter)
	}) == nil {
		c.pending[req] = sent
	}
	for r, t := range c.pending {
		if now.Sub(t) > c.res.LeaseTTL {
			delete(c.pending, r)
		}
	}
}

// rootRound is the root coordinator's refresh.
func (c *Coordinator) rootRound() {
	now := time.Now()
	if c.rootLed == nil {
		led, seed, ok := c.seedFrom(c.root, KindRegionLease, now)
		if !ok {
			return
		}
		c.rootLed, c.rootSeed, c.rootSeen, c.rootAnswer = led, seed, map[string]seen{}, map[string]string{}
	}
	children, ok := c.readChildren(c.root, KindRegionDemand)
	if !ok {
		return
	}
	present := map[string]bool{}
	for _, ch := range children {
		present[ch.key] = true
	}
	for k := range c.rootSeen {
		if !present[k] {
			delete(c.rootSeen, k)
		}
	}
	for i := range children {
		ch := &children[i]
		ch.floor = c.res.SafeCapacity
		// A region whose request has not changed for a lease period has
		// stopped asking (partitioned, or gone): it wants nothing, but its
		// safe capacity stays reserved.
		s, ok := c.rootSeen[ch.key]
		if !ok || s.req != ch.req.Req {
			c.rootSeen[ch.key] = seen{req: ch.req.Req, at: now}
		} else if now.Sub(s.at) > c.res.LeaseTTL {
			ch.req.Wants = 0
		}
	}
	learning := now.Before(c.rootE.since.Add(c.res.LeaseTTL))
	answers := c.allot(now, c.res.Capacity, time.Time{}, children, c.rootLed, c.rootAnswer, learning, c.rootSeed, c.res.SafeCapacity)
	for _, a := range answers {
		if !time.Now().Before(c.rootE.until) {
			break // a slow round outlived the election: another may hold it now
		}
		if c.call(func(ctx context.Context) error {
			return c.root.Put(ctx, KindRegionLease, c.res.Name+"/"+a.key, encode(a.g), a.ttl)
		}) == nil {
			c.grantsRoot.Add(1)
		}
	}
}

// CoordinatorStats is what a coordinator holds and has done.
type CoordinatorStats struct {
	// Root is true while this coordinator holds the root lease;
	// RootLearning while it is in learning mode as root.
	Root         bool `json:"root"`
	RootLearning bool `json:"rootLearning"`
	// Region is true while it coordinates its region; RegionLearning
	// while it is in learning mode there.
	Region         bool `json:"region"`
	RegionLearning bool `json:"regionLearning"`
	// RegionCapacity is what the region may admit now (calls per
	// second): its lease from the root (never below SafeCapacity, which
	// the root reserves for it), or its SafeCapacity when OnLease is
	// false. Only meaningful when Region is true.
	RegionCapacity float64 `json:"regionCapacity"`
	OnLease        bool    `json:"onLease"`
	// Replicas is the number of live replicas last seen in the region.
	Replicas int `json:"replicas"`
	// RootCommitted is, at the root, the sum over regions of the largest
	// unexpired grant (or the safe capacity, if larger): never above the
	// resource's Capacity.
	RootCommitted float64 `json:"rootCommitted"`
	// GrantsRoot and GrantsRegion count the leases written; StoreErrors
	// the store calls that failed.
	GrantsRoot   uint64 `json:"grantsRoot"`
	GrantsRegion uint64 `json:"grantsRegion"`
	StoreErrors  uint64 `json:"storeErrors"`
}

// Stats returns what the coordinator held at the end of its last round
// (it never waits for a round's store calls).
func (c *Coordinator) Stats() CoordinatorStats {
	sn := c.snap.Load()
	if sn == nil {
		sn = &snap{}
	}
	now := time.Now()
	s := CoordinatorStats{
		Root: sn.rootE.held && now.Before(sn.rootE.until), Region: sn.regE.held && now.Before(sn.regE.until),
		Replicas: sn.replicas, GrantsRoot: c.grantsRoot.Load(), GrantsRegion: c.grantsRegion.Load(), StoreErrors: c.errs.Load(),
	}
	s.RootLearning = s.Root && now.Before(sn.rootE.since.Add(c.res.LeaseTTL))
	s.RegionLearning = s.Region && now.Before(sn.regE.since.Add(c.res.LeaseTTL))
	s.RegionCapacity, s.OnLease = c.res.SafeCapacity, false
	if now.Before(sn.lease.until) {
		s.RegionCapacity, s.OnLease = max(sn.lease.cap, c.res.SafeCapacity), true
	}
	if s.Root {
		s.RootCommitted = sn.rootCommitted
	}
	return s
}

// Close stops the coordinator and gives up the leases it holds (best
// effort: what it cannot reach expires).
func (c *Coordinator) Close() error {
	c.once.Do(func() {
		close(c.stopc)
		<-c.done
		c.mu.Lock()
		defer c.mu.Unlock()
		val := []byte(c.id + "#" + c.token)
		for _, x := range []struct {
			st fleet.Store
			e  *election
		}{{c.store, &c.regE}, {c.root, &c.rootE}} {
			if x.e.held {
				_ = c.call(func(ctx context.Context) error {
					_, err := x.st.CompareAndDelete(ctx, KindElect, x.e.key, val)
					return err
				})
				x.e.held = false
			}
		}
	})
	return nil
}
