package ratelimit

import (
	"testing"
	"unsafe"

	"github.com/breakerbox/breakerbox/internal/stripe"
)

// The counter stripes and the keyed shards are stripe.Pad apart, the first
// stripe a Pad away from what precedes the counters, and the coarse clock's
// word a Pad away from its neighbours on both sides.
func TestLayoutIsPadded(t *testing.T) {
	if !stripe.Padded(unsafe.Sizeof(counterStripe{})) {
		t.Errorf("counterStripe is %d bytes, not a multiple of %d", unsafe.Sizeof(counterStripe{}), stripe.Pad)
	}
	if !stripe.Padded(unsafe.Sizeof(shard{})) {
		t.Errorf("shard is %d bytes, not a multiple of %d", unsafe.Sizeof(shard{}), stripe.Pad)
	}
	var c counters
	if unsafe.Offsetof(c.s) < stripe.Pad {
		t.Errorf("stripes start %d bytes in", unsafe.Offsetof(c.s))
	}
	var l limiter
	if d := unsafe.Offsetof(l.stats) + unsafe.Offsetof(c.s) - unsafe.Offsetof(l.mu); d < stripe.Pad {
		t.Errorf("first stripe %d bytes after the limiter's mutex", d)
	}
	var k Keyed
	if d := unsafe.Offsetof(k.evicted) - unsafe.Offsetof(k.touch); d < stripe.Pad {
		t.Errorf("keyed counters %d bytes after the read-mostly fields", d)
	}
	var cl coarseClock
	if o := unsafe.Offsetof(cl.word); o < stripe.Pad {
		t.Errorf("clock word %d bytes in", o)
	}
	if after := unsafe.Sizeof(cl) - unsafe.Offsetof(cl.word); after < stripe.Pad {
		t.Errorf("clock word %d bytes before the end", after)
	}
}
