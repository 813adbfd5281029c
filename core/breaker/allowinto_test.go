package breaker

import (
	"context"
	"errors"
	"testing"
)

// TestAllowIntoMatchesAllow pins AllowInto, the closed-path admission that
// writes the permit in place (package core uses it to avoid copying the
// permit through a return): it overwrites every field of a used permit,
// counts like Allow, and rejects like Allow.
func TestAllowIntoMatchesAllow(t *testing.T) {
	ctx := context.Background()
	b, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	stale := Permit{b: b, ctx: ctx, w: 99, start: 7, slot: 3, kind: kindProbe, timed: true, shard: 5, sampled: true}
	p := stale
	if err := b.AllowInto(ctx, &p); err != nil {
		t.Fatalf("AllowInto on a closed breaker: %v", err)
	}
	want, err := b.Allow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want.sampled = p.sampled // the sample pick depends on the count
	if p != want {
		t.Fatalf("AllowInto wrote %+v, Allow returned %+v", p, want)
	}
	p.Done(nil)
	want.Done(nil)
	if got := b.Snapshot(); got.Admitted != 2 || got.Succeeded != 2 {
		t.Fatalf("after two admitted successes: %+v", got)
	}
	b.ForceOpen(Manual{Actor: "test"})
	p = stale
	if err := b.AllowInto(ctx, &p); !errors.Is(err, ErrOpen) {
		t.Fatalf("AllowInto on a forced-open breaker = %v, want ErrOpen", err)
	}
	if p != (Permit{}) {
		t.Fatalf("rejected permit = %+v, want the zero Permit", p)
	}
}
