package bulkhead

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/internal/reject"
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
// When a slot is free and nobody is queued, taking it is one atomic
// compare-and-swap and giving it back one atomic add: no lock, no clock, no
// allocation. When every slot is busy, Acquire queues the caller
// in a bounded FIFO queue until a slot is handed to it, its context ends, or
// MaxWait passes. Once anyone is queued, new callers queue behind them
// instead of taking a slot that frees up: slots go to waiters in arrival
// order. TryAcquire never queues.
//
// A Bulkhead is safe for concurrent use by multiple goroutines. Create one
// with New; the zero Bulkhead admits nothing. Counters for metrics are read
// with Snapshot.
type Bulkhead struct {
	// The hot fields, read or written by every call.
	state    atomic.Uint64 // inUse and queued, see inUseMask and queuedOne
	limit    atomic.Int64  // MaxConcurrent; changed by SetLimit
	maxQueue uint64
	maxWait  time.Duration
	_        [32]byte
	// full hints that the bulkhead was found full: while it is set, a caller
	// checks the state with a load before adding to it, so a storm of
	// rejections reads the hot line instead of writing it. It is written
	// only when it changes, and it is only a hint: every decision is made on
	// the state word. Its own cache line, read by every call.
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
	b := &Bulkhead{maxQueue: uint64(cfg.MaxQueue), maxWait: cfg.MaxWait}
	b.limit.Store(int64(cfg.MaxConcurrent))
	return b, nil
}

// TryAcquire takes a slot if one is free and nobody is queued for one, and
// reports whether it did. It never blocks or queues. After true, the caller
// must call Release once the call ends; a false result counts in
// Snapshot.Rejected.
func (b *Bulkhead) TryAcquire() bool {
	if b.tryAcquire() {
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
func (b *Bulkhead) tryAcquire() bool {
	if b.full.Load() {
		if s := b.state.Load(); s>>32 != 0 || int64(s&inUseMask) >= b.limit.Load() {
			return false // still full: reject without writing the shared word
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
	return false
}

// Acquire takes a slot, waiting in the queue if every slot is busy. It
// returns nil when the caller holds a slot (and must call Release), ErrFull
// when the queue is full (or MaxQueue is 0) or MaxWait passed while queued,
// or ctx.Err(), unchanged, when ctx ended before a slot was handed to the
// caller. A caller whose ctx has already ended still gets a free slot at
// once: ctx only bounds the wait.
func (b *Bulkhead) Acquire(ctx context.Context) error {
	if b.tryAcquire() {
		return nil
	}
	return b.acquireSlow(ctx)
}

func (b *Bulkhead) acquireSlow(ctx context.Context) error {
	// Reject a full queue without the lock. Seeing queued >= maxQueue is a
	// moment at which the queue was full, which is all a rejection promises.
	if b.state.Load()>>32 >= b.maxQueue {
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
		if q >= b.maxQueue {
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
	b.mu.Unlock()

	var expired <-chan time.Time // nil, so never ready, without MaxWait
	if b.maxWait > 0 {
		t := time.NewTimer(b.maxWait)
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
// Calling Release more often than slots were taken panics.
func (b *Bulkhead) Release() {
	b.release()
	if b.full.Load() {
		b.full.Store(false) // a slot is free: let the next caller add at once
	}
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
	b.limit.Store(int64(n))
	b.fill()
	b.mu.Unlock()
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
	return Snapshot{
		MaxConcurrent: int(b.limit.Load()),
		MaxQueue:      int(b.maxQueue),
		InUse:         int(s & inUseMask),
		Queued:        int(s >> 32),
		Rejected:      b.rejected.Load(),
		TimedOut:      b.timedOut.Load(),
		Canceled:      b.canceled.Load(),
		Waited:        b.waited.Load(),
		WaitTime:      time.Duration(b.waitTime.Load()),
	}
}
