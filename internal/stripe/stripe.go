// Package stripe picks a stripe (one of a few per-CPU-ish copies of a hot
// counter) for the calling goroutine, so that goroutines running on
// different CPUs mostly write different cache lines.
//
// Go offers no cheap way to learn the current P, so the pick folds the
// address of the caller's stack: goroutine stacks are at least 2 KiB apart
// and a goroutine keeps its stack (and so its stripe) until the stack
// grows. Two goroutines may share a stripe; callers must stay correct when
// they do, and only lose speed.
package stripe

import "unsafe"

// Index returns a stripe index in [0, 1<<bits) for the calling goroutine.
// bits must be between 1 and 16. It is cheap enough to inline: a stack
// address, three shifts and two exclusive ors.
//
// The index folds the stack address in 2 KiB units (the smallest stack) a
// few bits at a time, so goroutines whose stacks lie within the same block
// of 1<<bits such units never share a stripe: the few goroutines of a
// parallel benchmark, whose stacks the runtime hands out side by side, get
// a stripe each. (A multiplicative hash made a fixed pair of such stacks
// share one of 8 stripes about one time in ten.)
//
// Under the race detector the runtime places and reuses stacks otherwise,
// and many goroutines may share a stripe: striped code stays correct, only
// slower.
func Index(bits uint) int {
	var probe byte
	return fold(uintptr(unsafe.Pointer(&probe))>>11, bits)
}

// fold maps x, a stack address in 2 KiB units, to a stripe: x's bits
// folded bits at a time, so that x and x+d differ for 0 < d < 1<<bits
// within one aligned block.
func fold(x uintptr, bits uint) int {
	return int((x ^ x>>bits ^ x>>(2*bits)) & (1<<bits - 1))
}

// Pad is the distance, in bytes, that keeps two stripes (or a hot word and
// its neighbours) from sharing a cache line: 128, two 64-byte lines, since
// x86 processors prefetch lines in adjacent pairs. A striped element's
// size is a multiple of Pad; each package checks its own with
// unsafe.Sizeof in a test (see Padded).
const Pad = 128

// Lead goes in front of a striped array. It keeps the first stripe off the
// lines of whatever the allocator put just before the array: without it, a
// goroutine on stripe 0 ran about three times slower in the contended
// benchmarks of the breaker, the bulkhead and the rate limiter, because
// the line before belonged to an object other goroutines wrote.
type Lead [Pad]byte

// Padded reports whether size, an element's unsafe.Sizeof, keeps stripes
// of that element Pad bytes apart; packages assert it in their tests.
func Padded(size uintptr) bool { return size > 0 && size%Pad == 0 }
