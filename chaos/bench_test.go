package chaos_test

import (
	"context"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
)

func okFn(context.Context) (struct{}, error) { return struct{}{}, nil }

// guardWith returns guard "a" of a registry built with chaos (an idle
// injector) or without.
func guardWith(tb testing.TB, withChaos bool) (*core.Guard, *chaos.Injector) {
	tb.Helper()
	var opts []core.Option
	var inj *chaos.Injector
	if withChaos {
		inj, _ = chaos.New(chaos.Config{MaxGuards: 2})
		opts = append(opts, core.WithChaos(inj))
	}
	reg, err := core.NewRegistry(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	reg.MustGuard("b")
	return reg.MustGuard("a"), inj
}

func TestChaosIdleAllocatesNothing(t *testing.T) {
	g, inj := guardWith(t, true)
	ctx := context.Background()
	if n := testing.AllocsPerRun(1000, func() { _, _ = core.Do(ctx, g, okFn) }); n != 0 {
		t.Fatalf("idle chaos: %v allocations per call", n)
	}
	// An experiment on another guard costs "a" no allocation either.
	if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Guards: []string{"b"}, Ends: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = core.Do(ctx, g, okFn) }); n != 0 {
		t.Fatalf("experiment elsewhere: %v allocations per call", n)
	}
}

// BenchmarkGuardDoChaos measures core.Do on a closed guard: without chaos,
// with chaos built in and idle, and with an experiment on another guard.
func BenchmarkGuardDoChaos(b *testing.B) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		withChaos bool
		elsewhere bool
	}{{"off", false, false}, {"idle", true, false}, {"elsewhere", true, true}} {
		b.Run(tc.name, func(b *testing.B) {
			g, inj := guardWith(b, tc.withChaos)
			if tc.elsewhere {
				if _, err := inj.Start(chaos.Experiment{Fault: chaos.FaultError, Rate: 1, Guards: []string{"b"}, Ends: time.Now().Add(time.Hour)}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				_, _ = core.Do(ctx, g, okFn)
			}
		})
	}
}
