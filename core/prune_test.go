package core

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A guard pruned after a caller fetched it but before the caller ran kept
// admitting, while the name's new guard admitted too: two bulkheads for one
// name, so the name's limit was exceeded (issue 16.8).
func TestPruneKeepsLimitsForStaleHandles(t *testing.T) {
	const limit = 2
	r := mustRegistry(t, WithPolicies(Policy{Name: "p", Bulkhead: &BulkheadPolicy{MaxConcurrent: limit}}))
	names := []string{"a", "b/c", "d"}
	var inFlight [3]atomic.Int32
	var peak atomic.Int32
	stop := make(chan struct{})
	var pruner sync.WaitGroup
	pruner.Go(func() {
		far := time.Now().Add(time.Hour)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r.PruneAt(far.Add(time.Duration(i)*time.Hour), 0)
			runtime.Gosched()
		}
	})
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 2000 {
				k := (w + i) % len(names)
				g := mustGuard(t, r, names[k], UsePolicy("p"))
				runtime.Gosched() // let the pruner retire the guard in between
				_ = g.Do(bg, func(context.Context) error {
					n := inFlight[k].Add(1)
					for {
						p := peak.Load()
						if n <= p || peak.CompareAndSwap(p, n) {
							break
						}
					}
					runtime.Gosched()
					inFlight[k].Add(-1)
					return nil
				})
			}
		})
	}
	wg.Wait()
	close(stop)
	pruner.Wait()
	if p := peak.Load(); p > limit {
		t.Fatalf("%d calls ran at once under one name; its bulkhead allows %d", p, limit)
	}
}

// Once nobody holds a pruned guard, its name gets a fresh one, and the
// registry forgets the old one.
func TestPrunedGuardIsForgottenWhenUnused(t *testing.T) {
	r := mustRegistry(t)
	now := time.Now()
	func() {
		g := mustGuard(t, r, "x")
		_ = g.Do(bg, func(context.Context) error { return nil })
		r.PruneAt(now, time.Hour)
		if got := r.PruneAt(now.Add(2*time.Hour), time.Hour); fmt.Sprint(got) != "[x]" {
			t.Fatalf("pruned %v", got)
		}
	}()
	for range 3 {
		runtime.GC()
	}
	if g := mustGuard(t, r, "x"); g.Snapshot().Breaker.Admitted != 0 {
		t.Fatal("a pruned guard nobody held came back")
	}
	deadline := 0
	for {
		r.mu.Lock()
		n := len(r.retired)
		r.mu.Unlock()
		if n == 0 {
			break
		}
		if deadline++; deadline > 100 {
			t.Fatalf("%d retired guards still tracked", n)
		}
		runtime.GC()
		runtime.Gosched()
	}
}

// Creating a guard does not wait for a snapshot of the registry: Snapshot
// takes no registry lock while it copies guards (issue 16.3).
func TestSnapshotDoesNotHoldTheRegistryLock(t *testing.T) {
	r := mustRegistry(t)
	for i := range 100 {
		mustGuard(t, r, fmt.Sprint("g", i))
	}
	r.mu.Lock() // as if a creation, a policy change or a prune held it
	done := make(chan int)
	go func() { done <- len(r.Snapshot()) }()
	n := <-done
	r.mu.Unlock()
	if n != 100 {
		t.Fatalf("snapshot of %d guards", n)
	}
}
