package stripe

import (
	"sync"
	"testing"
)

func TestIndexInRange(t *testing.T) {
	for _, bits := range []uint{1, 3, 4, 8} {
		if i := Index(bits); i < 0 || i >= 1<<bits {
			t.Fatalf("Index(%d) = %d; want [0, %d)", bits, i, 1<<bits)
		}
	}
}

// TestIndexSpreads checks that many goroutines do not all land on one
// stripe, which would make striping pointless.
func TestIndexSpreads(t *testing.T) {
	if raceEnabled {
		t.Skip("under -race stacks are placed otherwise; make test also runs this package without -race")
	}
	const bits, n = 4, 256
	var (
		mu   sync.Mutex
		seen = map[int]int{}
		wg   sync.WaitGroup
		gate = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-gate // keep every goroutine (and its stack) alive at once
			i := Index(bits)
			mu.Lock()
			seen[i]++
			mu.Unlock()
		})
	}
	close(gate)
	wg.Wait()
	if len(seen) < 1<<bits/2 {
		t.Fatalf("%d goroutines used %d of %d stripes: %v", n, len(seen), 1<<bits, seen)
	}
}

// TestIndexNeighbours checks the promise of the fold: stacks side by side,
// within one block, get different stripes.
func TestIndexNeighbours(t *testing.T) {
	for _, base := range []uintptr{0, 0xc000_0000 >> 11, 0x7f3a_1234_5000 >> 11} {
		base &^= 15
		seen := map[int]bool{}
		for i := range uintptr(16) {
			seen[fold(base+i, 4)] = true
		}
		if len(seen) != 16 {
			t.Fatalf("16 neighbouring stacks from %#x share stripes: %d distinct", base<<11, len(seen))
		}
	}
}
