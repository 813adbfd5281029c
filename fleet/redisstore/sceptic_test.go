package redisstore_test

import (
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/redisstore/internal/redistest"
)

// TestCenturyTTLsAndOddKeys: on a real Redis, TTLs of a hundred years and
// of core.MaxDuration (2^62ns, as a vote of a guard open that long) are
// written with PX and read back, List keeps the entries (the expiry index
// score does not overflow), and keys with slashes, spaces, "%2F", braces,
// colons and unicode round-trip unchanged.
func TestCenturyTTLsAndOddKeys(t *testing.T) {
	srv := redistest.Start(t)
	a, b := newStoreOn(t, srv.Client())
	ctx := ctxT(t)
	keys := []string{"a/b c%2F{x}/ü", "name:tag:x", "{slot}:k", "..", "k@r1"}
	for i, ttl := range []time.Duration{100 * 365 * 24 * time.Hour, time.Duration(1 << 62), time.Duration(1<<62) + 3*2*time.Second} {
		for _, k := range keys {
			if err := a.Put(ctx, fleet.KindVerdict, k, []byte("v"), ttl); err != nil {
				t.Fatalf("Put %q with ttl %v: %v", k, ttl, err)
			}
			e, found, err := b.Get(ctx, fleet.KindVerdict, k)
			if err != nil || !found || string(e.Value) != "v" || e.Key != k {
				t.Fatalf("ttl %d: Get %q: %+v %v %v", i, k, e, found, err)
			}
		}
		es, err := b.List(ctx, fleet.KindVerdict)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != len(keys) {
			t.Fatalf("ttl %v: List holds %d entries, want %d: %+v", ttl, len(es), len(keys), es)
		}
	}
	ok, err := a.CompareAndPut(ctx, fleet.KindVerdict, keys[0], []byte("v"), []byte("w"), time.Duration(1<<62))
	if err != nil || !ok {
		t.Fatalf("CompareAndPut with a MaxDuration ttl: %v %v", ok, err)
	}
	created, _, err := a.Create(ctx, fleet.KindLease, keys[0], []byte("l"), time.Duration(1<<62))
	if err != nil || !created {
		t.Fatalf("Create with a MaxDuration ttl: %v %v", created, err)
	}
}
