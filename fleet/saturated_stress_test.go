package fleet_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/fleet"
)

// TestFleetConvergesWithEveryCoreBusy: on the real clock, with
// 2×GOMAXPROCS goroutines spinning, 8 replicas on one MemoryStore still
// adopt a quorum's open verdict; every call returns at once (a call never
// waits on the store); after Close, the agents' goroutines are gone.
func TestFleetConvergesWithEveryCoreBusy(t *testing.T) {
	base := runtime.NumGoroutine()
	stopSpin := make(chan struct{})
	var spin sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		spin.Go(func() {
			for x := 0; ; x++ {
				select {
				case <-stopSpin:
					return
				default:
				}
				if x%1_000_000 == 0 {
					runtime.Gosched() // preemption would do; be a fair neighbour to -race
				}
			}
		})
	}
	defer func() { close(stopSpin); spin.Wait() }()

	store := fleet.NewMemoryStore()
	var agents []*fleet.Agent
	var guards []*core.Guard
	for i := range 8 {
		reg, err := core.NewRegistry(core.WithPolicies(depPolicy(nil)))
		if err != nil {
			t.Fatal(err)
		}
		guards = append(guards, reg.MustGuard("dep"))
		a, err := fleet.Join(reg, store.Client(), fleet.WithReplicaID(fmt.Sprintf("r%d", i)),
			fleet.WithHeartbeat(50*time.Millisecond), fleet.WithReconcileEvery(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		agents = append(agents, a)
	}
	closed := false
	closeAll := func() {
		if !closed {
			closed = true
			for _, a := range agents {
				_ = a.Close()
			}
		}
	}
	defer closeAll()
	var slowest atomic.Int64
	call := func(g *core.Guard, err error) {
		start := time.Now()
		_ = g.Do(context.Background(), func(context.Context) error { return err })
		if d := int64(time.Since(start)); d > slowest.Load() {
			slowest.Store(d)
		}
	}
	for _, g := range guards[:2] {
		call(g, errDown)
		call(g, errDown)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		open := 0
		for _, g := range guards {
			if s := g.Breaker().State(); s == breaker.Open || s == breaker.HalfOpen {
				open++
			}
			call(g, nil)
		}
		if open == len(guards) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("with every core busy, %d of 8 replicas open after 30s, want 8 (quorum of 2 tripped)", open)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("8 replicas open with every core busy; slowest call %v", time.Duration(slowest.Load()))
	closeAll()
	close(stopSpin)
	spin.Wait()
	stopSpin = make(chan struct{}) // for the deferred close
	deadline = time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before Join:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
