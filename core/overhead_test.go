package core_test

import (
	"context"
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

func TestOverheadIsSampledAboutOneCallInSampleEvery(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("x")
	ok := func(context.Context) error { return nil }
	if g.Snapshot().Overhead != nil {
		t.Fatal("overhead before any call")
	}
	const calls = 10 * breaker.SampleEvery
	for range calls {
		_ = g.Do(context.Background(), ok)
	}
	o := g.Snapshot().Overhead
	if o == nil {
		t.Fatal("no overhead sample after 10 × SampleEvery calls")
	}
	// One goroutine: one shard, so exactly one call in SampleEvery arms
	// the guard, and the next is timed (the last pick arms nothing yet).
	if o.GateSamples < 9 || o.GateSamples > 10 || o.DoneSamples != o.GateSamples || o.SampleEvery != breaker.SampleEvery {
		t.Fatalf("samples %+v, want 9 or 10 of %d calls", *o, calls)
	}
	if o.PerCall != o.Gates+o.Done || o.Max < o.Gates || o.Max < o.Done {
		t.Fatalf("figures %+v", *o)
	}
}

func TestOverheadSamplingAllocatesNothing(t *testing.T) {
	reg, _ := core.NewRegistry()
	g := reg.MustGuard("x")
	ctx := context.Background()
	fn := func(context.Context) (struct{}, error) { return struct{}{}, nil }
	// Across several picks: timed calls allocate nothing either.
	if n := testing.AllocsPerRun(4*breaker.SampleEvery, func() { _, _ = core.Do(ctx, g, fn) }); n != 0 {
		t.Fatalf("%v allocations per call", n)
	}
	if g.Snapshot().Overhead == nil {
		t.Fatal("no sample taken")
	}
}
