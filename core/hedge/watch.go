package hedge

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/internal/stripe"
)

// The table of armed calls. A call that may be hedged arms itself in a
// slot of its Hedger's table instead of arming a timer of its own. One
// watcher per Hedger, a timer started by the first call that finds it
// stopped, fires at the earliest deadline in the table: it takes the calls
// whose deadline has passed out of the table, fires their first hedge, and
// sets itself again for the next deadline, or stops when the table is
// empty. A call that answers in time takes itself out (one
// compare-and-swap), so that an answered call costs no timer, no lock and
// no goroutine; between its runs the watcher is a timer, not a goroutine,
// so it leaves none behind (and a testing/synctest bubble can end while it
// is set).
//
// The table is striped like the breaker's counters: a goroutine arms in
// the block of its stripe, so goroutines on different CPUs mostly write
// different cache lines; a call that finds its block full arms a timer,
// as every call did before the table.
const (
	armBlocks   = 16
	armPerBlock = (stripe.Pad - 8) / 8 // 15 slots and a counter per block
)

// armBlock is a stripe of the table: its slots and the calls counted on it.
type armBlock struct {
	slots [armPerBlock]atomic.Pointer[armed]
	calls atomic.Uint64
}

// armTable is the table of armed calls of a Hedger.
type armTable struct {
	_      stripe.Lead
	blocks [armBlocks]armBlock
}

// armed is a call as the watcher sees it.
type armed struct {
	deadline int64 // when its first hedge is due, on the Hedger's clock
	call     interface{ fire() }
}

// now reads the Hedger's clock: nanoseconds since it was made, on the
// monotonic clock (the fake clock inside a testing/synctest bubble; a
// Hedger's calls and watcher must then all run in the bubble).
func (h *Hedger) now() int64 { return int64(time.Since(h.epoch)) }

// arm counts a call and puts a in a free slot of the calling goroutine's
// block, starting the watcher if it is stopped (an allocation, once per
// busy period). It returns the slot, or nil
// when the block is full.
func (h *Hedger) arm(a *armed) *atomic.Pointer[armed] {
	b := &h.table.blocks[stripe.Index(4)]
	b.calls.Add(1)
	for i := range b.slots {
		if s := &b.slots[i]; s.CompareAndSwap(nil, a) {
			if !h.watching.Load() && h.watching.CompareAndSwap(false, true) {
				time.AfterFunc(time.Duration(a.deadline-h.now()), h.watch)
			}
			return s
		}
	}
	return nil
}

// armedCalls reports whether any slot holds a call.
func (h *Hedger) armedCalls() bool {
	for i := range h.table.blocks {
		for j := range h.table.blocks[i].slots {
			if h.table.blocks[i].slots[j].Load() != nil {
				return true
			}
		}
	}
	return false
}

// watch is the watcher's run: it fires the first hedge of every call whose
// deadline has passed, then sets itself for the next deadline, or stops
// when no call is armed.
func (h *Hedger) watch() {
	for {
		now := h.now()
		next := int64(math.MaxInt64)
		for i := range h.table.blocks {
			b := &h.table.blocks[i]
			for j := range b.slots {
				a := b.slots[j].Load()
				if a == nil {
					continue
				}
				if a.deadline <= now {
					if b.slots[j].CompareAndSwap(a, nil) {
						a.call.fire()
					}
					continue
				}
				next = min(next, a.deadline)
			}
		}
		if next != math.MaxInt64 {
			// A later call's deadline is at least cfg.Delay away (a
			// percentile delay never goes below it), so waiting at most
			// that long never misses one.
			time.AfterFunc(min(time.Duration(next-now), h.cfg.Delay), h.watch)
			return
		}
		// Stop, unless a call armed after its slot was read and saw the
		// watcher running (it arms, then reads watching; the watcher
		// clears watching, then reads the slots).
		h.watching.Store(false)
		if !h.armedCalls() || !h.watching.CompareAndSwap(false, true) {
			return
		}
	}
}

// first is the context of a call's first attempt. It is part of the call's
// allocation and makes its cancellation machinery only when needed: a
// context.WithCancel of the caller's context, made the first time Done is
// called (or Value or Err after a hedge won), with one more small
// allocation. An attempt that never asks for Done, and whose call no hedge
// won, costs nothing more. It is cancelled when a hedge wins and when Do
// returns, as a context.WithCancel would be.
type first struct {
	parent    context.Context
	cancelled atomic.Bool
	inner     atomic.Pointer[lazyCancel]
}

type lazyCancel struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   <-chan struct{}
}

// made returns the inner context, making it if needed.
func (f *first) made() *lazyCancel {
	if l := f.inner.Load(); l != nil {
		return l
	}
	ctx, cancel := context.WithCancel(f.parent)
	l := &lazyCancel{ctx: ctx, cancel: cancel, done: ctx.Done()}
	if !f.inner.CompareAndSwap(nil, l) {
		cancel()
		return f.inner.Load()
	}
	if f.cancelled.Load() { // cancel ran before l was published
		cancel()
	}
	return l
}

// cancel cancels the attempt (the inner context, if made, else the next
// one made).
func (f *first) cancel() {
	f.cancelled.Store(true)
	if l := f.inner.Load(); l != nil {
		l.cancel()
	}
}

// Deadline returns the caller's deadline.
func (f *first) Deadline() (time.Time, bool) { return f.parent.Deadline() }

// Done makes the inner context on first use.
func (f *first) Done() <-chan struct{} { return f.made().done }

// Err is context.Canceled once cancelled, else the caller's context's.
func (f *first) Err() error {
	if l := f.inner.Load(); l != nil {
		return l.ctx.Err()
	}
	if f.cancelled.Load() {
		return context.Canceled
	}
	return f.parent.Err()
}

// Value looks key up in the inner context if made (so that contexts
// derived from this one attach to it), else in the caller's.
func (f *first) Value(key any) any {
	if l := f.inner.Load(); l != nil || f.cancelled.Load() {
		return f.made().ctx.Value(key)
	}
	return f.parent.Value(key)
}

// String names the context as context.WithCancel's do.
func (f *first) String() string { return "hedge.first" }
