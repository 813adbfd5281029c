package core

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// TestMachineUnderConcurrentReloadsAndOperators: calls, operator moves,
// reloads that change the machine section (and so replace the machine)
// and snapshots, all at once on the real clock: no race (-race), no
// panic, and the guard ends in a state of its machine with its timer
// working.
func TestMachineUnderConcurrentReloadsAndOperators(t *testing.T) {
	p := machinePolicy("api")
	r := mustRegistry(t, WithPolicies(p))
	g := mustGuard(t, r, "api")
	fail := errors.New("boom")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			ctx := context.Background()
			if i%2 == 0 {
				ctx = WithReadOnly(ctx)
			}
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				_ = g.Do(ctx, func(context.Context) error {
					if n%3 == 0 {
						return fail
					}
					return nil
				})
			}
		})
	}
	wg.Go(func() {
		states := []string{"maintenance", "readOnly", "healthy", "degraded"}
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = g.SetMachineState(states[n%len(states)], breaker.Manual{Actor: "ops", Reason: "stress"})
			_ = g.Snapshot()
		}
	})
	wg.Go(func() {
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			q := machinePolicy("api")
			q.Machine.Window = 10 + n%5
			if _, err := r.Apply(Document{Policies: []Policy{q}}); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	m := g.Machine()
	if m.Graph().Index(m.State()) < 0 {
		t.Fatalf("machine in %q, not one of its states", m.State())
	}
	st := g.Snapshot().Machine
	t.Logf("ended in %s after %d transitions of the last machine", st.State, st.Transitions)
}
