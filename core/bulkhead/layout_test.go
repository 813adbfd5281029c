package bulkhead

import (
	"testing"
	"unsafe"

	"github.com/breakerbox/breakerbox/internal/stripe"
)

func TestLayoutIsPadded(t *testing.T) {
	if !stripe.Padded(unsafe.Sizeof(slotStripe{})) {
		t.Errorf("slotStripe is %d bytes, not a multiple of %d", unsafe.Sizeof(slotStripe{}), stripe.Pad)
	}
	var s slotStripes
	if unsafe.Offsetof(s.s) < stripe.Pad {
		t.Errorf("stripes start %d bytes in", unsafe.Offsetof(s.s))
	}
}
