package policy_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
)

// TestSyncAppliesWhatAnotherProcessAppended: two Managers share a store;
// a version one appends becomes live on the other through Sync, at its own
// number, without a new version; Sync never goes back.
func TestSyncAppliesWhatAnotherProcessAppended(t *testing.T) {
	ctx := context.Background()
	store := policy.NewMemoryStore()
	regA, _ := core.NewRegistry()
	regB, _ := core.NewRegistry()
	a, err := policy.NewManager(ctx, regA, store)
	if err != nil {
		t.Fatal(err)
	}
	b, err := policy.NewManager(ctx, regB, store)
	if err != nil {
		t.Fatal(err)
	}
	if _, changed, err := b.Sync(ctx); changed || err != nil {
		t.Fatalf("Sync of an empty store = %v, %v", changed, err)
	}
	doc := core.Document{Policies: []core.Policy{{Name: "payments", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 4}}}}
	res, err := a.Apply(ctx, doc, policy.Meta{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	rec, changed, err := b.Sync(ctx)
	if err != nil || !changed || rec.Version != res.Record.Version {
		t.Fatalf("Sync = %+v, %v, %v; want version %d", rec, changed, err, res.Record.Version)
	}
	if v, h := regB.PolicyVersion(); v != res.Record.Version || h != res.Record.Hash {
		t.Fatalf("B runs %d (%s), want %d (%s)", v, h, res.Record.Version, res.Record.Hash)
	}
	if _, changed, err := b.Sync(ctx); changed || err != nil {
		t.Fatalf("a second Sync = %v, %v; want no change", changed, err)
	}
	if hist, _ := b.History(ctx, 0); len(hist) != 1 {
		t.Fatalf("Sync appended: history has %d versions", len(hist))
	}
	// A version B's registry refuses leaves B where it was.
	bad := core.Document{Policies: []core.Policy{{Name: "x", Fallbacks: []core.FallbackRef{{Name: "only-on-a"}}}}}
	if _, err := store.Append(ctx, policy.Record{Hash: bad.Hash(), Document: mustJSON(t, bad)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Sync(ctx); !errors.Is(err, policy.ErrNotLive) {
		t.Fatalf("Sync of a refused version = %v, want ErrNotLive", err)
	}
	if v, _ := regB.PolicyVersion(); v != res.Record.Version {
		t.Fatalf("B runs version %d after a refused Sync, want %d", v, res.Record.Version)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
