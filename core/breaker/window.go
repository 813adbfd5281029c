package breaker

import (
	"github.com/breakerbox/breakerbox/internal/stripe"
	"math"
	"runtime"
	"sync/atomic"
)

// This file holds the statistics the state machine reads: the counter
// shards (one until the breaker is busy, then striped), the count window's
// rings of failure and slow-call indices, and the time window's buckets.

// stripes is a breaker's array of shards, made once it is busy.
type stripes struct {
	mask int // len(s) - 1; len(s) is a power of two <= 64
	s    []shard
}

// maxShards bounds a breaker's stripes: 4 per P, at most 64.
const maxShards = 64

// stripeAfter is how many calls (or rejections) counted on the first shard
// make a breaker striped.
const stripeAfter = 1024

// baseShard is a permit's shard index when its call was counted on the
// first shard.
const baseShard = 0xff

// shard holds cumulative counters. A breaker has several, each on its own
// cache line, and a goroutine picks one by its stack address, so parallel
// callers rarely write the same line.
//
// Outcomes of calls admitted under an earlier state word ("stale" calls)
// are counted apart, so that they never enter the count window's index
// space (succeeded + failed), which must hold only the current state's
// calls.
type shard struct {
	admitted, succeeded, failed, ignored, slow, rejected, rejectedProbe atomic.Uint64
	staleSucceeded, staleFailed                                         atomic.Uint64
	_                                                                   [stripe.Pad - 9*8]byte
}

// makeStripes gives a busy breaker its striped shards, once.
func (b *Breaker) makeStripes() {
	// 4 shards per P, at least 16 (2 KiB): with 8, two goroutines of a
	// two-core benchmark shared a shard in several runs of six, and ran
	// three times slower.
	n := nextPow2(4 * runtime.GOMAXPROCS(0))
	n = min(max(n, 16), maxShards)
	// One shard more than used, dropped in front: a shard is stripe.Pad
	// long, so it serves as the stripe.Lead of the others.
	b.striped.CompareAndSwap(nil, &stripes{mask: n - 1, s: make([]shard, n+1)[1:]})
}

// count counts an admitted call and returns the shard index for its
// permit, and whether the call is sampled (see SampleEvery). Index(6) with constant shifts, masked, costs less than Index with
// the shard count's own bits, and keeps its promise for any power of two
// up to 64: neighbouring stacks get different shards.
func (b *Breaker) count() (uint8, bool) {
	if st := b.striped.Load(); st != nil {
		i := uint8(stripe.Index(6) & st.mask)
		return i, st.s[i].admitted.Add(1)&(SampleEvery-1) == 0
	}
	n := b.first.admitted.Add(1)
	if n == stripeAfter {
		b.makeStripes()
	}
	return baseShard, n&(SampleEvery-1) == 0
}

// SampleEvery is how many admitted calls there are, on average, to each
// call whose Permit is Sampled: the breaker picks one in SampleEvery of
// the calls it counts on each of its counter shards, from the count it
// keeps anyway.
const SampleEvery = 1024

// shard returns the calling goroutine's shard, for a rejection.
func (b *Breaker) shard() *shard {
	if st := b.striped.Load(); st != nil {
		return &st.s[stripe.Index(6)&st.mask]
	}
	if b.first.rejected.Load() >= stripeAfter {
		b.makeStripes()
	}
	return &b.first
}

// shardAt returns the shard a permit's call was counted on.
func (b *Breaker) shardAt(i uint8) *shard {
	if i == baseShard {
		return &b.first
	}
	return &b.striped.Load().s[i]
}

// eachShard calls fn for every shard.
func (b *Breaker) eachShard(fn func(*shard)) {
	fn(&b.first)
	if st := b.striped.Load(); st != nil {
		for i := range st.s {
			fn(&st.s[i])
		}
	}
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p <<= 1
	}
	return p
}

func (b *Breaker) totalCalls() uint64 {
	var n uint64
	b.eachShard(func(sh *shard) { n += sh.succeeded.Load() + sh.failed.Load() })
	return n
}

func (b *Breaker) countWindowLocked(total uint64) (calls, fails, slows int) {
	var n uint64
	if total > b.base {
		n = total - b.base
	}
	if size := uint64(b.conf().WindowSize); n > size {
		n = size
	}
	from := total - n
	return int(n), b.failRing.countAbove(from), b.slowRing.countAbove(from)
}

// windowLocked returns the current window's calls, failures and slow calls,
// and the failure and slow-call rates in percent (0 for an empty window).
func (b *Breaker) windowLocked(now int64) (calls, fails, slows int, failRate, slowRate float64) {
	calls, fails, slows = b.windowCounts(now)
	if calls > 0 {
		failRate = float64(fails) * 100 / float64(calls)
		slowRate = float64(slows) * 100 / float64(calls)
	}
	return calls, fails, slows, failRate, slowRate
}

// windowCounts returns the current window's calls, failures and slow
// calls. b.mu is held.
func (b *Breaker) windowCounts(now int64) (calls, fails, slows int) {
	if set := b.set.Load(); set.buckets != nil {
		return b.timeWindow(set, now)
	}
	return b.countWindowLocked(b.totalCalls())
}

func (b *Breaker) resetWindowLocked() {
	b.base = b.totalCalls()
	b.failRing.reset()
	b.slowRing.reset()
	buckets := b.set.Load().buckets
	for i := range buckets {
		bk := &buckets[i]
		bk.num.Store(noBucket)
		bk.calls.Store(0)
		bk.fails.Store(0)
		bk.slw.Store(0)
	}
	b.consecutive.Store(0)
	b.armed.Store(false)
}

// ring holds non-decreasing call indices, the newest len(buf) of them.
type ring struct {
	buf           []uint64
	size, head, n int
}

// init sets the ring's size; its buffer is made on the first push, so a
// breaker that never fails costs nothing for it.
func (r *ring) init(size int) { r.size = size }

func (r *ring) reset() { r.head, r.n = 0, 0 }

func (r *ring) push(v uint64) {
	if r.buf == nil {
		if r.size == 0 {
			return
		}
		r.buf = make([]uint64, r.size)
	}
	if r.n < len(r.buf) {
		r.buf[(r.head+r.n)%len(r.buf)] = v
		r.n++
		return
	}
	r.buf[r.head] = v
	r.head = (r.head + 1) % len(r.buf)
}

// countAbove returns how many entries are greater than v.
func (r *ring) countAbove(v uint64) int {
	lo, hi := 0, r.n // first position whose entry is > v
	for lo < hi {
		mid := (lo + hi) / 2
		if r.buf[(r.head+mid)%len(r.buf)] > v {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return r.n - lo
}

type bucket struct {
	num               atomic.Int64 // bucket number (time / bucket span); noBucket when empty
	calls, fails, slw atomic.Uint64
}

// noBucket marks an empty bucket: no time maps to it, so an empty bucket is
// never read as a bucket inside the window, however young the breaker.
const noBucket = math.MinInt64

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (b *Breaker) recordBucket(set *settings, now int64, failed, slow bool) {
	e := floorDiv(now, set.bucketNs)
	n := int64(len(set.buckets))
	bk := &set.buckets[(e%n+n)%n]
	if bk.num.Load() != e {
		b.mu.Lock()
		if bk.num.Load() != e {
			bk.calls.Store(0)
			bk.fails.Store(0)
			bk.slw.Store(0)
			bk.num.Store(e)
		}
		b.mu.Unlock()
	}
	bk.calls.Add(1)
	if failed {
		bk.fails.Add(1)
	}
	if slow {
		bk.slw.Add(1)
	}
}

// timeWindow sums the buckets of the window that ends at now: those whose
// number is one of the len(buckets) numbers up to now's.
func (b *Breaker) timeWindow(set *settings, now int64) (calls, fails, slows int) {
	e := floorDiv(now, set.bucketNs)
	n := uint64(len(set.buckets))
	for i := range set.buckets {
		bk := &set.buckets[i]
		be := bk.num.Load()
		if be != noBucket && be <= e && uint64(e-be) < n {
			calls += int(bk.calls.Load())
			fails += int(bk.fails.Load())
			slows += int(bk.slw.Load())
		}
	}
	return
}
