package region

import (
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// giveWay puts back the operator's manual state a global open overwrote
// (the open landed between the agent's read and its OpenFor).
func TestGiveWayRestoresTheOperatorsState(t *testing.T) {
	for _, st := range []breaker.State{breaker.Disabled, breaker.MetricsOnly, breaker.ForcedOpen} {
		b, err := breaker.New(breaker.Config{})
		if err != nil {
			t.Fatal(err)
		}
		op := breaker.Manual{Actor: "alice"}
		switch st {
		case breaker.Disabled:
			b.Disable(op)
		case breaker.MetricsOnly:
			b.MetricsOnly(op)
		case breaker.ForcedOpen:
			b.ForceOpen(op)
		}
		tr := b.OpenFor(time.Minute, breaker.Manual{Actor: ActorGlobal})
		if !tr.From.Manual() || tr.From != st {
			t.Fatalf("%s: OpenFor's transition from %s", st, tr.From)
		}
		giveWay(b, tr.From)
		if got := b.State(); got != st {
			t.Fatalf("after giveWay: %s, want %s", got, st)
		}
	}
}
