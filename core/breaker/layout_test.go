package breaker

import (
	"testing"
	"unsafe"

	"github.com/breakerbox/breakerbox/internal/stripe"
)

// The counter shards are stripe.Pad apart, and the first shard is a Pad
// away from the hot atomics before it and the mu-guarded fields after it.
func TestLayoutIsPadded(t *testing.T) {
	if !stripe.Padded(unsafe.Sizeof(shard{})) {
		t.Errorf("shard is %d bytes, not a multiple of %d", unsafe.Sizeof(shard{}), stripe.Pad)
	}
	var b Breaker
	if d := unsafe.Offsetof(b.first) - unsafe.Offsetof(b.striped); d < stripe.Pad {
		t.Errorf("first shard %d bytes after the hot atomics", d)
	}
	if d := unsafe.Offsetof(b.openUntil) - unsafe.Offsetof(b.first); d < stripe.Pad {
		t.Errorf("fields %d bytes after the first shard", d)
	}
	if unsafe.Sizeof(shard{}) < stripe.Pad {
		t.Error("a shard is shorter than stripe.Lead: the dropped first shard no longer pads the stripes")
	}
}
