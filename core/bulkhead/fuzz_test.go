package bulkhead_test

import (
	"context"
	"testing"

	"github.com/breakerbox/breakerbox/core/bulkhead"
)

// FuzzModel runs a sequence of non-blocking operations, one goroutine, and
// holds the bulkhead against a naive model: a counter and a limit. Each
// input runs on a plain bulkhead, on one striped at every limit and on one
// striped from limit 3 on (which SetLimit moves in and out of striping):
// in sequential use striping must be invisible.
func FuzzModel(f *testing.F) {
	f.Add(uint8(1), uint8(0), []byte{0, 0, 1, 2, 2, 3, 0, 4})
	f.Add(uint8(3), uint8(2), []byte{1, 1, 1, 1, 2, 35, 1, 1, 2, 2, 2, 2})
	f.Fuzz(func(t *testing.T, limit, queue uint8, ops []byte) {
		for _, least := range []int{0, 1, 3} {
			runModel(t, least, limit, queue, ops)
		}
	})
}

func runModel(t *testing.T, least int, limit, queue uint8, ops []byte) {
	cfg := bulkhead.Config{MaxConcurrent: 1 + int(limit%16), MaxQueue: int(queue % 4)}
	b, err := bulkhead.NewStriped(cfg, least) // least 0: never striped
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()

	// The model.
	want := bulkhead.Snapshot{MaxConcurrent: cfg.MaxConcurrent, MaxQueue: cfg.MaxQueue}
	free := func() bool { return want.InUse < want.MaxConcurrent }

	for _, op := range ops {
		switch op % 5 {
		case 0:
			got, ok := b.TryAcquire(), free()
			if got != ok {
				t.Fatalf("least %d: TryAcquire = %v; model says %v (%+v)", least, got, ok, want)
			}
			if ok {
				want.InUse++
			} else {
				want.Rejected++
			}
		case 1:
			// A done ctx never waits, so the call cannot block.
			got := b.Acquire(done)
			var exp error
			switch {
			case free():
				want.InUse++
			case cfg.MaxQueue == 0:
				exp = bulkhead.ErrFull
				want.Rejected++
			default:
				exp = context.Canceled
				want.Canceled++
			}
			if got != exp {
				t.Fatalf("least %d: Acquire = %v; model says %v (%+v)", least, got, exp, want)
			}
		case 2:
			if want.InUse > 0 {
				b.Release()
				want.InUse--
			}
		case 3:
			n := 1 + int(op/5)%16
			if err := b.SetLimit(n); err != nil {
				t.Fatal(err)
			}
			want.MaxConcurrent = n
		case 4:
			if got := b.Snapshot(); got != want {
				t.Fatalf("least %d: Snapshot() = %+v; model says %+v", least, got, want)
			}
		}
	}
	for ; want.InUse > 0; want.InUse-- {
		b.Release()
	}
	if got := b.Snapshot(); got != want {
		t.Fatalf("least %d: Snapshot() = %+v; model says %+v", least, got, want)
	}
}
