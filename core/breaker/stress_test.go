package breaker

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestStressInvariants hammers one breaker from many goroutines, with
// failures, slow probes and manual changes, and checks the invariants that
// must hold whatever the interleaving:
//   - never more than HalfOpenProbes probes in flight;
//   - no call admitted while forced open;
//   - admitted = succeeded + failed + ignored once every call finished.
func TestStressInvariants(t *testing.T) {
	const probes = 3
	b, err := New(Config{WindowSize: 20, MinCalls: 5, OpenDuration: time.Millisecond, HalfOpenProbes: probes, SuccessThreshold: 2})
	if err != nil {
		t.Fatal(err)
	}
	var inProbe, maxProbe atomic.Int64
	var forced atomic.Bool
	var forcedViolations atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for g := range 8 {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(g), 1))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				wasForced := forced.Load() && b.State() == ForcedOpen
				p, err := b.Allow(bg)
				if err != nil {
					if !errors.Is(err, ErrOpen) {
						t.Errorf("unexpected error %v", err)
					}
					continue
				}
				if wasForced && b.State() == ForcedOpen {
					forcedViolations.Add(1)
				}
				probe := p.kind == kindProbe
				if probe {
					n := inProbe.Add(1)
					for {
						m := maxProbe.Load()
						if n <= m || maxProbe.CompareAndSwap(m, n) {
							break
						}
					}
				}
				var cerr error
				switch rnd.IntN(4) {
				case 0:
					cerr = boom
				case 1:
					cerr = errCanceled
				}
				if probe {
					inProbe.Add(-1)
				}
				p.Done(cerr)
			}
		})
	}
	wg.Go(func() {
		m := Manual{Actor: "stress"}
		for i := 0; i < 40; i++ {
			switch i % 4 {
			case 0:
				b.ForceOpen(m)
				forced.Store(true)
			case 1:
				forced.Store(false)
				b.Release(m)
			case 2:
				b.Reset(m)
			case 3:
				b.MetricsOnly(m)
				b.Release(m)
			}
			time.Sleep(50 * time.Microsecond) // pacing only; nothing is asserted about time
		}
		close(stop)
	})
	wg.Wait()
	if m := maxProbe.Load(); m > probes {
		t.Fatalf("%d probes in flight, limit %d", m, probes)
	}
	if v := forcedViolations.Load(); v != 0 {
		t.Fatalf("%d calls admitted while forced open", v)
	}
	s := b.Snapshot()
	if s.Admitted != s.Succeeded+s.Failed+s.Ignored {
		t.Fatalf("admitted %d != succeeded %d + failed %d + ignored %d", s.Admitted, s.Succeeded, s.Failed, s.Ignored)
	}
	if s.Admitted == 0 || s.Rejected == 0 || s.Transitions == 0 {
		t.Fatalf("stress did not exercise the breaker: %+v", s)
	}
}

var errCanceled = &canceledErr{}

type canceledErr struct{}

func (*canceledErr) Error() string   { return "canceled" }
func (*canceledErr) Is(e error) bool { return e == errContextCanceled }

var errContextCanceled = context.Canceled
