package natsstore_test

import (
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
)

// TestCenturyTTLsAndOddKeys: on an embedded nats-server, TTLs of a
// hundred years and of core.MaxDuration (a vote of a guard open that long)
// are accepted, the entries read back and listed; keys with slashes,
// spaces, "%2F", braces, dots, "*", ">" and unicode round-trip unchanged.
func TestCenturyTTLsAndOddKeys(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	a := newStore(t, js)
	ctx := ctxT(t)
	keys := []string{"a/b c%2F{x}/ü", "..", "a.b.*", "x>y", "k@r1"}
	for _, ttl := range []time.Duration{100 * 365 * 24 * time.Hour, time.Duration(1 << 62), time.Duration(1<<62) + 6*time.Second} {
		for _, k := range keys {
			if err := a.Put(ctx, fleet.KindVerdict, k, []byte("v"), ttl); err != nil {
				t.Fatalf("Put %q with ttl %v: %v", k, ttl, err)
			}
			e, found, err := a.Get(ctx, fleet.KindVerdict, k)
			if err != nil || !found || string(e.Value) != "v" || e.Key != k {
				t.Fatalf("ttl %v: Get %q: %+v %v %v", ttl, k, e, found, err)
			}
		}
		es, err := a.List(ctx, fleet.KindVerdict)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != len(keys) {
			t.Fatalf("ttl %v: List holds %d entries, want %d: %+v", ttl, len(es), len(keys), es)
		}
	}
	created, _, err := a.Create(ctx, fleet.KindLease, keys[0], []byte("l"), time.Duration(1<<62))
	if err != nil || !created {
		t.Fatalf("Create with a MaxDuration ttl: %v %v", created, err)
	}
}
