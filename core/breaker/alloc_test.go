package breaker

import (
	"errors"
	"testing"
	"time"
)

func TestHotPathsDoNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation counts are checked in the full run")
	}
	closed, _ := New(Config{})
	timeWin, _ := New(Config{Window: TimeWindow, SlowCallDuration: time.Second})
	open, _ := New(Config{})
	open.OpenFor(time.Hour, Manual{Actor: "t"})
	forced, _ := New(Config{})
	forced.ForceOpen(Manual{Actor: "t"})
	explicitOpen, _ := New(Config{WindowSize: 1, MinCalls: 1})
	p, _ := explicitOpen.AllowAt(bg, t0)
	p.DoneAt(t0, boom)

	cases := []struct {
		name string
		fn   func()
	}{
		{"closed admitted success", func() {
			p, _ := closed.Allow(bg)
			p.Done(nil)
		}},
		{"closed time window with slow-call rule", func() {
			p, _ := timeWin.Allow(bg)
			p.Done(nil)
		}},
		{"open rejection", func() {
			if _, err := open.Allow(bg); !errors.Is(err, ErrOpen) {
				panic(err)
			}
		}},
		{"forced-open rejection", func() { _, _ = forced.Allow(bg) }},
		{"open rejection, explicit time", func() { _, _ = explicitOpen.AllowAt(bg, t0) }},
		{"state and rejecting", func() { _, _ = closed.State(), open.Rejecting() }},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(1000, c.fn); n != 0 {
			t.Errorf("%s: %v allocs per call, want 0", c.name, n)
		}
	}
}
