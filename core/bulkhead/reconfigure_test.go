package bulkhead_test

import (
	"context"
	"errors"
	"testing"

	"github.com/breakerbox/breakerbox/core/bulkhead"
)

// Issue 19: a reloaded policy changes a live bulkhead's limits in place.
func TestReconfigureChangesTheLimitsKeepingSlotsHeld(t *testing.T) {
	b := mustNew(t, bulkhead.Config{MaxConcurrent: 2})
	ctx := context.Background()
	for range 2 {
		if err := b.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Reconfigure(bulkhead.Config{MaxConcurrent: 1, MaxQueue: 3}); err != nil {
		t.Fatal(err)
	}
	if s := b.Snapshot(); s.InUse != 2 || s.MaxConcurrent != 1 || s.MaxQueue != 3 {
		t.Fatalf("%+v", s)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Acquire(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller that may queue now: %v", err)
	}
	if err := b.Reconfigure(bulkhead.Config{MaxConcurrent: -1}); err == nil {
		t.Fatal("an invalid limit was accepted")
	}
	b.Release()
	b.Release()
	if s := b.Snapshot(); s.InUse != 0 || s.MaxConcurrent != 1 {
		t.Fatalf("%+v", s)
	}
}
