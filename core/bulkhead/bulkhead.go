package bulkhead

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/internal/reject"
	"github.com/breakerbox/breakerbox/internal/stripe"
)

// ErrFull is returned when a call finds every slot busy and either the wait
// queue is full (or there is none) or it waited MaxWait without getting a
// slot. It matches core.ErrRejected under errors.Is and its ErrorType is
// "bulkhead_full".
var ErrFull = reject.New("bulkhead: full", "bulkhead_full")

// maxCount bounds MaxConcurrent and MaxQueue: each is kept in 32 bits of
// the bulkhead's state word.
const maxCount = 1<<31 - 1

// Config describes a bulkhead. The zero Config is invalid: MaxConcurrent
// must be set.
type Config struct {
	// MaxConcurrent is the number of calls allowed to run at once. It must be
	// at least 1 and at most 2147483647.
	MaxConcurrent int

	// MaxQueue is the number of callers allowed to wait for a slot when all
	// slots are busy. 0 means nobody waits: a call that finds no free slot is
	// rejected at once. It must not be negative (at most 2147483647).
	MaxQueue int

	// MaxWait is the longest a queued caller waits before it is rejected
	// with ErrFull. 0 means it waits until its context ends. It must not be
	// negative.
	MaxWait time.Duration
}

// Validate reports every invalid field of c, joined with errors.Join. Each
// message names the field as its JSON name would (lowerCamel) and the bad
// value, such as "bulkhead: maxConcurrent: 0 must be at least 1".
func (c Config) Validate() error {
	var errs []error
	switch {
	case c.MaxConcurrent < 1:
		errs = append(errs, fmt.Errorf("bulkhead: maxConcurrent: %d must be at least 1", c.MaxConcurrent))
	case c.MaxConcurrent > maxCount:
		errs = append(errs, fmt.Errorf("bulkhead: maxConcurrent: %d must be at most %d", c.MaxConcurrent, maxCount))
	}
	switch {
	case c.MaxQueue < 0:
		errs = append(errs, fmt.Errorf("bulkhead: maxQueue: %d must not be negative", c.MaxQueue))
	case c.MaxQueue > maxCount:
		errs = append(errs, fmt.Errorf("bulkhead: maxQueue: %d must be at most %d", c.MaxQueue, maxCount))
	}
	if c.MaxWait < 0 {
		errs = append(errs, fmt.Errorf("bulkhead: maxWait: %v must not be negative", c.MaxWait))
	}
	return errors.Join(errs...)
}

// The state word packs the two counts the fast path needs into one uint64,
// so that one compare-and-swap sees and changes both:
//
//	bits  0..31  inUse:  slots held by running calls
//	bits 32..63  queued: callers waiting in the queue
const (
	inUseMask = 1<<32 - 1
	queuedOne = 1 << 32

	// Added to the word, these subtract in two's complement.
	releaseOne = ^uint64(0)             // inUse - 1
	dequeueOne = ^uint64(queuedOne - 1) // queued - 1
	handOver   = dequeueOne + 1         // queued - 1, inUse + 1
)

// Bulkhead limits how many calls run at once. A call takes a slot with
// TryAcquire or Acquire and gives it back with Release.
//
// When a slot is free and nobody is queued, taking it and giving it back
// are one atomic operation each: no lock, no clock, no allocation. A
// bulkhead of MaxConcurrent 256 or more also keeps free slots per CPU
// (roughly), so that calls on several cores do not all write one shared
// word; see the package documentation. When every slot is busy, Acquire
// queues the caller in a bounded FIFO queue until a slot is handed to it,
// its context ends, or MaxWait passes. Once anyone is queued, new callers queue behind them
// instead of taking a slot that frees up: slots go to waiters in arrival
// order. TryAcquire never queues.
//
// A Bulkhead is safe for concurrent use by multiple goroutines. Create one
// with New; the zero Bulkhead admits nothing. Counters for metrics are read
// with Snapshot.
type Bulkhead struct {
	// The hot fields, read or written by every call. In a striped bulkhead
	// (see slotStripes) this line is only read while every call finds a slot
	// in its stripe.
	state    atomic.Uint64 // inUse and queued, see inUseMask and queuedOne
	limit    atomic.Int64  // MaxConcurrent; changed by SetLimit
	batch    atomic.Int64  // slots a stripe borrows at once; 0: not striped
	slots    atomic.Pointer[slotStripes]
	maxQueue atomic.Uint64 // MaxQueue; changed by Reconfigure
	maxWait  atomic.Int64  // MaxWait in nanoseconds; changed by Reconfigure
	// stripeMin is the limit from which the bulkhead is striped (see
	// batchFor); a field so that tests can stripe small bulkheads.
	stripeMin int64
	_         [8]byte
	// full hints that the bulkhead was found full: while it is set, a caller
	// checks the state with a load before adding to it, so a storm of
	// rejections reads the hot line instead of writing it. It is written
	// only when it changes, and it is only a hint: every decision is made on
	// the state word. Its own cache line, read by every call of a bulkhead
	// that is not striped.
	full atomic.Bool
	// Keep the slow-path counters off the hot cache lines, so that a storm
	// of rejections does not slow down admissions.
	_ [63]byte

	mu         sync.Mutex // guards head, tail and every change of queued
	head, tail *waiter    // the FIFO queue, oldest first

	rejected atomic.Uint64
	timedOut atomic.Uint64
	canceled atomic.Uint64
	waited   atomic.Uint64
	waitTime atomic.Int64 // nanoseconds
}

// Striping. A single count of slots in use is one cache line that every
// acquire and every release writes: when calls on several cores take and
// give back slots at full speed, that line travels between the cores on
// every call, and the bulkhead costs as much as a mutex. A large bulkhead
// (MaxConcurrent >= stripeMinimum) therefore keeps free slots in stripes,
// one cache line each, picked by the calling goroutine (internal/stripe):
//
//   - an acquire takes a slot from its stripe with a compare-and-swap on a
//     line that other cores rarely touch; when the stripe is empty it
//     borrows up to batch slots from the state word at once (still never
//     more than the limit allows) and keeps the rest in the stripe;
//   - a release puts the slot in its stripe; a stripe holding more than
//     2*batch gives the excess back to the state word.
//
// The state word counts the slots held in stripes as in use, so the limit
// is never exceeded: running calls + slots in stripes = inUse <= limit.
// What striping costs is precision at the edges, paid back on the slow
// path:
//
//   - before rejecting, or queueing, a caller reclaims every stripe (swaps
//     it to 0 and gives the slots back to the state word), so a call is not
//     refused while a slot sits free in another stripe, except for a slot
//     that arrives during that very sweep, as with any race for a freed
//     slot;
//   - a release or borrow that finds callers queued, or more slots in use
//     than a lowered limit allows, gives its stripe back at once. An
//     enqueuer raises queued and then reclaims; a releaser fills its stripe
//     and then reads queued: whichever goes second sees the other, so a
//     freed slot never sits in a stripe while a caller waits for it
//     (SetLimit pairs its limit store and reclaim the same way);
//   - Snapshot subtracts the slots held in stripes from InUse;
//   - an unmatched Release panics only when it finds no slot in use at all:
//     a striped bulkhead cannot tell a misplaced Release from a matched one
//     while other slots are held, and its extra slot is dropped when a
//     stripe gives it back.
//
// At most stripeCount * 2 * batch slots sit in stripes, and batchFor keeps
// that at or under an eighth of the limit.
const (
	stripeBits    = 4
	stripeCount   = 1 << stripeBits
	stripeMinimum = 256 // limits below stay unstriped: one state word
	maxBatch      = 8
)

// slotStripes holds the free slots kept per stripe, behind a stripe.Lead.
type slotStripes struct {
	_ stripe.Lead
	s [stripeCount]slotStripe
}

// at returns the stripe h names (a Hint), or the calling goroutine's for
// fromStack.
func (sl *slotStripes) at(h int) *slotStripe {
	if h == fromStack {
		return &sl.s[stripe.Index(stripeBits)]
	}
	return &sl.s[h%stripeCount]
}

// fromStack, in place of a Hint, picks the stripe from the stack address
// where it is used, so that plain Acquire and Release pay nothing for
// hints, and nothing at all in a bulkhead that is not striped.
const fromStack = -1

type slotStripe struct {
	free atomic.Int64 // free slots held by this stripe; never negative
	_    [stripe.Pad - 8]byte
}

// batchFor returns the batch of a bulkhead with limit n that is striped
// from limit least on: 0 (not striped) below least, else n/least capped at
// maxBatch. With least = stripeMinimum = 16*stripeCount, the slots held in
// stripes (at most stripeCount*2*batch) stay within n/8.
func batchFor(n, least int64) int64 {
	if least <= 0 || n < least {
		return 0
	}
	return min(maxBatch, n/least)
}

// waiter is one queued caller. It is a node of the bulkhead's intrusive
// doubly linked list, so queueing and leaving the queue allocate nothing
// beyond the waiter itself.
type waiter struct {
	prev, next *waiter
	ready      chan struct{} // 1-buffered; receives the handed-over slot
	queued     bool          // in the list; guarded by Bulkhead.mu
}

// Hooks that let tests stop a caller at the racy moments of the slow path.
// They are nil outside tests and cost one nil check on the slow path only.
var (
	testHookBeforeEnqueue func() // mu held, after deciding to queue, before the CAS
	testHookAfterEnqueue  func() // mu held, after queueing
	testHookAbandon       func() // after giving up waiting, before taking mu
)

// New returns a bulkhead configured by cfg, or the error of cfg.Validate.
func New(cfg Config) (*Bulkhead, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return newBulkhead(cfg, stripeMinimum), nil
}

func newBulkhead(cfg Config, stripeMin int64) *Bulkhead {
	b := &Bulkhead{stripeMin: stripeMin}
	b.maxQueue.Store(uint64(cfg.MaxQueue))
	b.maxWait.Store(int64(cfg.MaxWait))
	b.setLimit(int64(cfg.MaxConcurrent))
	return b
}

// setLimit stores a new limit and the batch that goes with it. b.mu must be
// held, or b not yet shared.
func (b *Bulkhead) setLimit(n int64) {
	bt := batchFor(n, b.stripeMin)
	if bt > 0 && b.slots.Load() == nil {
		b.slots.Store(new(slotStripes))
	}
	// The limit first: a releaser that fills its stripe and then reads the
	// old limit is seen by the reclaim that follows (see Striping).
	b.limit.Store(n)
	b.batch.Store(bt)
}

// TryAcquire takes a slot if one is free and nobody is queued for one, and
// reports whether it did. It never blocks or queues. After true, the caller
// must call Release once the call ends; a false result counts in
// Snapshot.Rejected.
func (b *Bulkhead) TryAcquire() bool {
	if b.tryAcquire(fromStack) {
		return true
	}
	b.rejected.Add(1)
	return false
}

// A Hint names the stripe a large bulkhead takes a call's slot from and
// gives it back to (see the package documentation). Acquire, TryAcquire
// and Release pick it from the calling goroutine's stack address each time,
// which can differ between an acquire and a release made at different call
// depths; a caller that acquires in one function and releases in another,
// such as a middleware, takes a Hint with NewHint and passes the same one
// to AcquireHint (or TryAcquireHint) and ReleaseHint, so that one call
// touches one stripe. Any Hint is correct: it only steers the cost.
//
// Guards use it: with plain Acquire and Release instead, the benchmarks
// module's GuardDoParallel took 33–91 ns a call at -cpu 2 instead of
// 23–29 ns, and no other way for package core to pass the stripe keeps
// these calls inlined, so the Hint forms stay public.
type Hint uint8

// NewHint returns the calling goroutine's Hint.
func NewHint() Hint { return Hint(stripe.Index(stripeBits)) }

// TryAcquireHint is TryAcquire with the stripe named by h; see Hint.
func (b *Bulkhead) TryAcquireHint(h Hint) bool {
	if b.tryAcquire(int(h)) {
		return true
	}
	b.rejected.Add(1)
	return false
}

// tryAcquire is the fast path: one atomic add, which under contention costs
// less than a load and a compare-and-swap (each a trip of the cache line
// between cores), takes a slot optimistically (while the full hint is set,
// a load rejects a full bulkhead first, without writing); when the word it
// returns shows the slot was not free, or callers queued (queued > 0 means
// waiters are first in line: do not barge past them), the slot is given
// back through Release, which hands it to the head of the queue if a
// caller queued on the strength of the optimistic count. The same argument
// as acquireSlow's holds: a caller queues only through a compare-and-swap
// on a word that includes the optimistic slot, so the undo either makes
// that swap fail or sees queued > 0 and fills.
//
// The price: while an over-the-limit add is undone (a few nanoseconds),
// another caller racing for a slot freed at that moment may be told the
// bulkhead is full. A bulkhead with a queue re-checks under its lock, so
// this touches only MaxQueue 0 and TryAcquire, at the exact limit.
func (b *Bulkhead) tryAcquire(h int) bool {
	if b.batch.Load() > 0 {
		return b.tryStriped(h)
	}
	if b.full.Load() {
		if s := b.state.Load(); s>>32 != 0 || int64(s&inUseMask) >= b.limit.Load() {
			// Still full: reject without writing the shared word.
			return b.retryReclaimed()
		}
	}
	s := b.state.Add(1)
	if s>>32 == 0 && int64(s&inUseMask) <= b.limit.Load() {
		return true
	}
	b.release()
	if !b.full.Load() {
		b.full.Store(true)
	}
	return b.retryReclaimed()
}

// retryReclaimed is the last chance of an unstriped bulkhead's fast path:
// a bulkhead that was striped before SetLimit lowered its limit may still
// hold slots in stripes (see Striping); reclaim them and try once more.
func (b *Bulkhead) retryReclaimed() bool {
	if b.slots.Load() == nil || !b.reclaim() {
		return false
	}
	s := b.state.Add(1)
	if s>>32 == 0 && int64(s&inUseMask) <= b.limit.Load() {
		return true
	}
	b.release()
	return false
}

// tryStriped is tryAcquire of a striped bulkhead: take a slot from the
// caller's stripe, or borrow a batch of them from the state word.
func (b *Bulkhead) tryStriped(h int) bool {
	st := b.slots.Load().at(h)
	for n := st.free.Load(); n > 0; n = st.free.Load() {
		if st.free.CompareAndSwap(n, n-1) {
			return true
		}
	}
	for {
		s := b.state.Load()
		if s>>32 != 0 {
			return false // callers are queued: they come first
		}
		free := b.limit.Load() - int64(s&inUseMask)
		if free <= 0 {
			if b.reclaim() {
				continue
			}
			return false
		}
		n := max(1, min(b.batch.Load(), free))
		if b.state.CompareAndSwap(s, s+uint64(n)) {
			if n > 1 {
				st.free.Add(n - 1)
				b.settle(st)
			}
			return true
		}
	}
}

// settle gives st's slots back to the state word if callers are queued or
// more slots are in use than the limit allows. It is called after adding
// slots to st: see Striping for why that order never strands a slot.
func (b *Bulkhead) settle(st *slotStripe) {
	if s := b.state.Load(); s>>32 != 0 || int64(s&inUseMask) > b.limit.Load() {
		if n := st.free.Swap(0); n > 0 {
			b.giveBack(n)
		}
	}
}

// reclaim moves the free slots of every stripe back to the state word,
// handing them to queued callers if there are any, and reports whether it
// found any. b.mu must not be held.
func (b *Bulkhead) reclaim() bool {
	n := b.sweep()
	if n > 0 {
		b.giveBack(n)
	}
	return n > 0
}

// sweep empties every stripe and returns the number of free slots taken
// from them, which the caller must give back. It reads a stripe before
// swapping it, so that sweeping empty stripes writes nothing.
func (b *Bulkhead) sweep() int64 {
	sl := b.slots.Load()
	if sl == nil {
		return 0
	}
	var n int64
	for i := range sl.s {
		if st := &sl.s[i]; st.free.Load() > 0 {
			n += st.free.Swap(0)
		}
	}
	return n
}

// giveBack returns n slots taken from stripes to the state word and, if
// callers are queued, hands them over. b.mu must not be held.
func (b *Bulkhead) giveBack(n int64) {
	if b.unborrow(n)>>32 != 0 {
		b.mu.Lock()
		b.fill()
		b.mu.Unlock()
	}
}

// unborrow subtracts n slots from inUse and returns the word it replaced.
// It never takes inUse below 0: an unmatched Release may have put a slot in
// a stripe that was never borrowed (see Striping), and it is dropped here.
func (b *Bulkhead) unborrow(n int64) uint64 {
	for {
		s := b.state.Load()
		d := min(uint64(n), s&inUseMask)
		if b.state.CompareAndSwap(s, s-d) {
			return s
		}
	}
}

// Acquire takes a slot, waiting in the queue if every slot is busy. It
// returns nil when the caller holds a slot (and must call Release), ErrFull
// when the queue is full (or MaxQueue is 0) or MaxWait passed while queued,
// or ctx.Err(), unchanged, when ctx ended before a slot was handed to the
// caller. A caller whose ctx has already ended still gets a free slot at
// once: ctx only bounds the wait.
func (b *Bulkhead) Acquire(ctx context.Context) error {
	if b.tryAcquire(fromStack) {
		return nil
	}
	return b.acquireSlow(ctx)
}

// AcquireHint is Acquire with the stripe named by h; see Hint.
func (b *Bulkhead) AcquireHint(ctx context.Context, h Hint) error {
	if b.tryAcquire(int(h)) {
		return nil
	}
	return b.acquireSlow(ctx)
}

func (b *Bulkhead) acquireSlow(ctx context.Context) error {
	// Reject a full queue without the lock. Seeing queued >= maxQueue is a
	// moment at which the queue was full, which is all a rejection promises.
	if b.state.Load()>>32 >= b.maxQueue.Load() {
		b.rejected.Add(1)
		return ErrFull
	}
	if err := ctx.Err(); err != nil {
		b.canceled.Add(1)
		return err
	}

	w := &waiter{ready: make(chan struct{}, 1)}
	start := time.Now()

	// No lost wake-up. A releaser decrements inUse with one atomic add on the
	// state word and, only if the word it produced shows queued > 0, takes
	// mu to hand the freed slot to the head of the queue (fill). A caller
	// joins the queue only under mu and only through a compare-and-swap that
	// raises queued from the very word it judged "no slot for me". So either
	//   - the release's add comes first: the CAS below fails, the caller
	//     reloads the word, sees the free slot and takes it; or
	//   - the CAS comes first: the release's add then returns queued > 0, so
	//     the releaser takes mu, which it gets only after this caller is in
	//     the list, and fill hands the slot over (or leaves it free if the
	//     caller already left; then queued is 0 again and the fast path can
	//     take it).
	// Queued only changes under mu, so under mu the list and queued agree,
	// and outside fill's pending work, queued > 0 implies inUse >= limit.
	b.mu.Lock()
	for {
		s := b.state.Load()
		q := s >> 32
		if q == 0 && int64(s&inUseMask) < b.limit.Load() {
			// A slot freed up since the fast path failed; take it.
			if b.state.CompareAndSwap(s, s+1) {
				b.mu.Unlock()
				return nil
			}
			continue
		}
		if q >= b.maxQueue.Load() {
			b.mu.Unlock()
			b.rejected.Add(1)
			return ErrFull
		}
		if testHookBeforeEnqueue != nil {
			testHookBeforeEnqueue()
		}
		if b.state.CompareAndSwap(s, s+queuedOne) {
			break
		}
	}
	b.push(w)
	if testHookAfterEnqueue != nil {
		testHookAfterEnqueue()
	}
	// Slots released into stripes before queued rose may sit there while
	// this caller waits: take them back (see Striping) and hand them out.
	if n := b.sweep(); n > 0 {
		b.unborrow(n)
		b.fill()
	}
	b.mu.Unlock()

	var expired <-chan time.Time // nil, so never ready, without MaxWait
	if d := time.Duration(b.maxWait.Load()); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-w.ready:
		b.waited.Add(1)
		b.waitTime.Add(int64(time.Since(start)))
		return nil
	case <-ctx.Done():
		return b.abandon(w, ctx.Err(), &b.canceled)
	case <-expired:
		return b.abandon(w, ErrFull, &b.timedOut)
	}
}

// abandon takes w out of the queue after its caller gave up, counts the
// reason in counter and returns err. If a releaser handed w a slot in the
// meantime, abandon releases that slot, which passes it on to the next
// waiter, so that it is never leaked.
func (b *Bulkhead) abandon(w *waiter, err error, counter *atomic.Uint64) error {
	if testHookAbandon != nil {
		testHookAbandon()
	}
	counter.Add(1)
	b.mu.Lock()
	if w.queued {
		b.remove(w)
		b.state.Add(dequeueOne)
		b.mu.Unlock()
		return err
	}
	b.mu.Unlock()
	// fill dequeued w and sent on w.ready: w holds a slot it does not want.
	b.Release()
	return err
}

// Release gives back a slot taken by a successful TryAcquire or Acquire. If
// callers are queued, the slot goes to the one that has waited longest.
//
// Calling Release more often than slots were taken is a bug in the caller.
// A bulkhead with MaxConcurrent below 256 panics at once; a larger one
// panics when it finds no slot in use at all, but cannot tell an extra
// Release while other slots are held, and then may admit one call more than
// the limit until it reconciles its per-CPU slots.
func (b *Bulkhead) Release() {
	if bt := b.batch.Load(); bt > 0 {
		b.releaseStriped(bt, fromStack)
		return
	}
	b.releasePlain()
}

// ReleaseHint is Release with the stripe named by h; see Hint.
func (b *Bulkhead) ReleaseHint(h Hint) {
	if bt := b.batch.Load(); bt > 0 {
		b.releaseStriped(bt, int(h))
		return
	}
	b.releasePlain()
}

func (b *Bulkhead) releasePlain() {
	b.release()
	if b.full.Load() {
		b.full.Store(false) // a slot is free: let the next caller add at once
	}
}

// releaseStriped is Release of a striped bulkhead: the slot goes to the
// caller's stripe (see Striping).
func (b *Bulkhead) releaseStriped(bt int64, h int) {
	if b.state.Load()&inUseMask == 0 {
		// The caller's slot would be counted here until this release.
		panic("bulkhead: Release without a matching Acquire")
	}
	st := b.slots.Load().at(h)
	if n := st.free.Add(1); n > 2*bt {
		// Releases outnumber acquires on this stripe: keep a batch and give
		// the rest back, so that stripes do not hoard the limit.
		for ; n > bt; n = st.free.Load() {
			if st.free.CompareAndSwap(n, bt) {
				b.giveBack(n - bt)
				break
			}
		}
	}
	b.settle(st)
}

func (b *Bulkhead) release() {
	// One atomic add; the word it returns says whether anything more is to
	// be done: s >= inUseMask when callers are queued (queued > 0) or when
	// inUse was already 0 (the add borrowed from queued).
	if s := b.state.Add(releaseOne); s >= inUseMask {
		b.releaseSlow(s)
	}
}

func (b *Bulkhead) releaseSlow(s uint64) {
	if s&inUseMask == inUseMask {
		// inUse was 0: undo the borrow from queued, then report the misuse.
		b.state.Add(1)
		panic("bulkhead: Release without a matching Acquire")
	}
	b.mu.Lock()
	b.fill()
	b.mu.Unlock()
}

// SetLimit changes MaxConcurrent at run time. Raising it hands the new slots
// to queued callers at once. Lowering it never interrupts running calls:
// slots are not handed on until inUse drops below the new limit. A call that
// raced with SetLimit may still be admitted under the old limit. It returns
// an error, and changes nothing, if n is out of range.
func (b *Bulkhead) SetLimit(n int) error {
	if n < 1 || n > maxCount {
		return Config{MaxConcurrent: n}.Validate()
	}
	b.mu.Lock()
	b.setLimit(int64(n))
	// Take back the slots held in stripes: they may be over the new limit,
	// and fill below counts them as in use.
	if k := b.sweep(); k > 0 {
		b.unborrow(k)
	}
	b.fill()
	b.mu.Unlock()
	return nil
}

// Reconfigure changes the bulkhead's limits at run time, as a reloaded
// policy does: MaxConcurrent as SetLimit changes it (slots held stay
// counted; lowering the limit interrupts no call), MaxQueue and MaxWait for
// callers that queue from now on. Callers already queued stay queued, even
// past a lowered MaxQueue, and keep the wait they started with. It returns
// the error from cfg.Validate, and changes nothing, if cfg is invalid.
func (b *Bulkhead) Reconfigure(cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	b.maxQueue.Store(uint64(cfg.MaxQueue))
	b.maxWait.Store(int64(cfg.MaxWait))
	if int64(cfg.MaxConcurrent) != b.limit.Load() {
		return b.SetLimit(cfg.MaxConcurrent)
	}
	return nil
}

// fill hands free slots to queued callers, oldest first. b.mu must be held.
// While queued > 0 the fast path cannot take a slot, and only holders of mu
// change queued, so the only concurrent change of the word is Release's
// decrement, which only frees more slots.
func (b *Bulkhead) fill() {
	for b.head != nil {
		if int64(b.state.Load()&inUseMask) >= b.limit.Load() {
			return
		}
		w := b.head
		b.remove(w)
		b.state.Add(handOver) // the slot moves to w
		w.ready <- struct{}{} // never blocks: 1-buffered, sent once
	}
}

func (b *Bulkhead) push(w *waiter) {
	w.prev = b.tail
	if b.tail != nil {
		b.tail.next = w
	} else {
		b.head = w
	}
	b.tail = w
	w.queued = true
}

func (b *Bulkhead) remove(w *waiter) {
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		b.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		b.tail = w.prev
	}
	w.prev, w.next = nil, nil
	w.queued = false
}

// Snapshot is a copy of a bulkhead's limits, current use and cumulative
// counters. It holds plain values and is safe to copy and keep.
type Snapshot struct {
	// MaxConcurrent and MaxQueue are the configured limits.
	MaxConcurrent, MaxQueue int
	// InUse is the number of slots held; Queued the number of callers
	// waiting. InUse can exceed MaxConcurrent for a while after SetLimit
	// lowered it.
	InUse, Queued int
	// Rejected counts ErrFull because the queue was full (or MaxQueue is 0),
	// and TryAcquire calls that returned false.
	Rejected uint64
	// TimedOut counts ErrFull because MaxWait passed while queued.
	TimedOut uint64
	// Canceled counts callers that left the queue because their context
	// ended, including ones whose context had ended before they could queue.
	Canceled uint64
	// Waited counts calls that queued and then got a slot.
	Waited uint64
	// WaitTime is the total time spent queued by the calls counted in
	// Waited.
	WaitTime time.Duration
}

// Snapshot returns the bulkhead's current state and counters. The fields
// are read one by one without stopping the bulkhead, so under load they may
// be a few calls apart from each other.
func (b *Bulkhead) Snapshot() Snapshot {
	s := b.state.Load()
	inUse := int64(s & inUseMask)
	if sl := b.slots.Load(); sl != nil {
		for i := range sl.s {
			inUse -= sl.s[i].free.Load() // free slots, counted in inUse
		}
	}
	return Snapshot{
		MaxConcurrent: int(b.limit.Load()),
		MaxQueue:      int(b.maxQueue.Load()),
		InUse:         int(max(inUse, 0)),
		Queued:        int(s >> 32),
		Rejected:      b.rejected.Load(),
		TimedOut:      b.timedOut.Load(),
		Canceled:      b.canceled.Load(),
		Waited:        b.waited.Load(),
		WaitTime:      time.Duration(b.waitTime.Load()),
	}
}
