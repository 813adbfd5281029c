package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/fleettest"
	"github.com/breakerbox/breakerbox/fleet/redisstore"
	"github.com/breakerbox/breakerbox/fleet/redisstore/internal/redistest"
)

// prefixSeq gives every store of a test process its own fleet, so tests
// sharing a server never see each other's keys.
var prefixSeq atomic.Int64

func newPrefix(t testing.TB) string {
	return fmt.Sprintf("test%d-%s", prefixSeq.Add(1), strings.ReplaceAll(t.Name(), "/", "."))
}

// newStoreOn returns a store of a fresh fleet on client (and a second
// store of the same fleet, as another replica would hold).
func newStoreOn(t testing.TB, client redis.UniversalClient, opts ...redisstore.Option) (*redisstore.Store, *redisstore.Store) {
	t.Helper()
	opts = append([]redisstore.Option{redisstore.WithPrefix(newPrefix(t))}, opts...)
	a, err := redisstore.New(client, opts...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := redisstore.New(client, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func entryValues(es []fleet.Entry) map[string]string {
	m := make(map[string]string, len(es))
	for _, e := range es {
		m[e.Key] = string(e.Value)
	}
	return m
}

// runContract holds a store to the fleet.Store and fleet.RateStore
// contract. newStores returns two stores of one fresh fleet.
func runContract(t *testing.T, newStores func(t *testing.T) (*redisstore.Store, *redisstore.Store)) {
	t.Run("PutGetList", func(t *testing.T) {
		s, _ := newStores(t)
		ctx := ctxT(t)
		if _, ok, err := s.Get(ctx, fleet.KindVerdict, "g/r1"); err != nil || ok {
			t.Fatalf("Get of an absent key: ok=%v err=%v", ok, err)
		}
		if err := s.Put(ctx, fleet.KindVerdict, "g/r1", []byte("one"), time.Minute); err != nil {
			t.Fatal(err)
		}
		e1, ok, err := s.Get(ctx, fleet.KindVerdict, "g/r1")
		if err != nil || !ok || string(e1.Value) != "one" || e1.Key != "g/r1" || e1.Revision == 0 {
			t.Fatalf("Get = %+v %v %v", e1, ok, err)
		}
		if err := s.Put(ctx, fleet.KindVerdict, "g/r1", []byte("two"), time.Minute); err != nil {
			t.Fatal(err)
		}
		e2, _, _ := s.Get(ctx, fleet.KindVerdict, "g/r1")
		if string(e2.Value) != "two" || e2.Revision <= e1.Revision {
			t.Fatalf("after a second Put: %+v (first revision %d)", e2, e1.Revision)
		}
		// Binary values survive whole, the header's own bytes included.
		bin := []byte("bbrev=7;\x00\xff\n{}")
		if err := s.Put(ctx, fleet.KindVerdict, "g/r2", bin, 0); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, fleet.KindMember, "r1", []byte("member"), time.Minute); err != nil {
			t.Fatal(err)
		}
		es, err := s.List(ctx, fleet.KindVerdict)
		if err != nil {
			t.Fatal(err)
		}
		got := entryValues(es)
		want := map[string]string{"g/r1": "two", "g/r2": string(bin)}
		if len(got) != 2 || got["g/r1"] != want["g/r1"] || got["g/r2"] != want["g/r2"] {
			t.Fatalf("List(verdict) = %q, want %q", got, want)
		}
		if es, _ := s.List(ctx, fleet.KindLease); len(es) != 0 {
			t.Fatalf("List of an empty kind = %v", es)
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		s, _ := newStores(t)
		ctx := ctxT(t)
		if err := s.Put(ctx, fleet.KindVerdict, "short", []byte("x"), 30*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, fleet.KindVerdict, "long", []byte("y"), time.Hour); err != nil {
			t.Fatal(err)
		}
		redistest.WaitFor(t, "the short key to expire", 10*time.Second, func() bool {
			_, ok, err := s.Get(ctx, fleet.KindVerdict, "short")
			return err == nil && !ok
		})
		es, err := s.List(ctx, fleet.KindVerdict)
		if err != nil || len(es) != 1 || es[0].Key != "long" {
			t.Fatalf("List after expiry = %v, %v", es, err)
		}
		// An expired key can be created again.
		created, _, err := s.Create(ctx, fleet.KindVerdict, "short", []byte("z"), time.Minute)
		if err != nil || !created {
			t.Fatalf("Create after expiry: %v %v", created, err)
		}
	})

	t.Run("Create", func(t *testing.T) {
		s, other := newStores(t)
		ctx := ctxT(t)
		created, _, err := s.Create(ctx, fleet.KindLease, "g", []byte("mine"), time.Minute)
		if err != nil || !created {
			t.Fatalf("first Create: %v %v", created, err)
		}
		created, cur, err := other.Create(ctx, fleet.KindLease, "g", []byte("theirs"), time.Minute)
		if err != nil || created || string(cur.Value) != "mine" || cur.Key != "g" || cur.Revision == 0 {
			t.Fatalf("second Create: created=%v cur=%+v err=%v", created, cur, err)
		}
		if err := s.Delete(ctx, fleet.KindLease, "g"); err != nil {
			t.Fatal(err)
		}
		if created, _, err := other.Create(ctx, fleet.KindLease, "g", []byte("theirs"), time.Minute); err != nil || !created {
			t.Fatalf("Create after Delete: %v %v", created, err)
		}
	})

	t.Run("CreateRace", func(t *testing.T) {
		s, other := newStores(t)
		ctx := ctxT(t)
		var wins atomic.Int64
		done := make(chan error, 16)
		for i := range 16 {
			st := s
			if i%2 == 1 {
				st = other
			}
			go func() {
				created, _, err := st.Create(ctx, fleet.KindLease, "race", []byte(fmt.Sprint(i)), time.Minute)
				if created {
					wins.Add(1)
				}
				done <- err
			}()
		}
		for range 16 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if wins.Load() != 1 {
			t.Fatalf("%d Creates won, want exactly 1", wins.Load())
		}
	})

	t.Run("CompareAndPut", func(t *testing.T) {
		s, _ := newStores(t)
		ctx := ctxT(t)
		if ok, err := s.CompareAndPut(ctx, fleet.KindLease, "g", []byte("a"), []byte("b"), time.Minute); err != nil || ok {
			t.Fatalf("CompareAndPut of an absent key: %v %v", ok, err)
		}
		_ = s.Put(ctx, fleet.KindLease, "g", []byte("a"), time.Minute)
		before, _, _ := s.Get(ctx, fleet.KindLease, "g")
		if ok, err := s.CompareAndPut(ctx, fleet.KindLease, "g", []byte("x"), []byte("b"), time.Minute); err != nil || ok {
			t.Fatalf("CompareAndPut with a wrong old value: %v %v", ok, err)
		}
		if ok, err := s.CompareAndPut(ctx, fleet.KindLease, "g", []byte("a"), []byte("b"), time.Minute); err != nil || !ok {
			t.Fatalf("CompareAndPut with the right old value: %v %v", ok, err)
		}
		after, _, _ := s.Get(ctx, fleet.KindLease, "g")
		if string(after.Value) != "b" || after.Revision <= before.Revision {
			t.Fatalf("after CompareAndPut: %+v (before %+v)", after, before)
		}
		// The new TTL applies.
		_, _ = s.CompareAndPut(ctx, fleet.KindLease, "g", []byte("b"), []byte("c"), 30*time.Millisecond)
		redistest.WaitFor(t, "the swapped key to expire", 10*time.Second, func() bool {
			_, ok, _ := s.Get(ctx, fleet.KindLease, "g")
			return !ok
		})
	})

	t.Run("CompareAndDelete", func(t *testing.T) {
		s, _ := newStores(t)
		ctx := ctxT(t)
		if ok, err := s.CompareAndDelete(ctx, fleet.KindLease, "g", []byte("a")); err != nil || ok {
			t.Fatalf("CompareAndDelete of an absent key: %v %v", ok, err)
		}
		_ = s.Put(ctx, fleet.KindLease, "g", []byte("token-1"), time.Minute)
		if ok, err := s.CompareAndDelete(ctx, fleet.KindLease, "g", []byte("token-2")); err != nil || ok {
			t.Fatalf("CompareAndDelete with another token: %v %v", ok, err)
		}
		if ok, err := s.CompareAndDelete(ctx, fleet.KindLease, "g", []byte("token-1")); err != nil || !ok {
			t.Fatalf("CompareAndDelete with the token: %v %v", ok, err)
		}
		if _, ok, _ := s.Get(ctx, fleet.KindLease, "g"); ok {
			t.Fatal("key still there after CompareAndDelete")
		}
		if es, _ := s.List(ctx, fleet.KindLease); len(es) != 0 {
			t.Fatalf("List after CompareAndDelete = %v", es)
		}
		if err := s.Delete(ctx, fleet.KindLease, "never"); err != nil {
			t.Fatalf("Delete of an absent key: %v", err)
		}
	})

	t.Run("NextVersion", func(t *testing.T) {
		s, other := newStores(t)
		ctx := ctxT(t)
		var got []uint64
		for i := range 4 {
			st := s
			if i%2 == 1 {
				st = other
			}
			v, err := st.NextVersion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, v)
		}
		if !slices.Equal(got, []uint64{1, 2, 3, 4}) {
			t.Fatalf("NextVersion = %v, want 1 2 3 4", got)
		}
	})

	t.Run("Watch", func(t *testing.T) {
		s, other := newStores(t)
		ctx, cancel := context.WithCancel(ctxT(t))
		hints := make(chan fleet.Hint, 64)
		done := make(chan error, 1)
		go func() { done <- s.Watch(ctx, func(h fleet.Hint) { hints <- h }) }()
		if h := nextHint(t, hints); !h.Resync {
			t.Fatalf("first hint %+v, want Resync", h)
		}
		_ = other.Put(ctx, fleet.KindVerdict, "g/r2", []byte("open"), time.Minute)
		if h := nextHint(t, hints); h != (fleet.Hint{Kind: fleet.KindVerdict, Key: "g/r2"}) {
			t.Fatalf("hint after Put = %+v", h)
		}
		_, _, _ = other.Create(ctx, fleet.KindLease, "g", []byte("t"), time.Minute)
		if h := nextHint(t, hints); h != (fleet.Hint{Kind: fleet.KindLease, Key: "g"}) {
			t.Fatalf("hint after Create = %+v", h)
		}
		_, _ = other.CompareAndDelete(ctx, fleet.KindLease, "g", []byte("t"))
		if h := nextHint(t, hints); h != (fleet.Hint{Kind: fleet.KindLease, Key: "g"}) {
			t.Fatalf("hint after CompareAndDelete = %+v", h)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Watch returned %v after cancel, want context.Canceled", err)
		}
	})

	t.Run("Close", func(t *testing.T) {
		s, _ := newStores(t)
		ctx := ctxT(t)
		hints := make(chan fleet.Hint, 64)
		done := make(chan error, 1)
		go func() { done <- s.Watch(ctx, func(h fleet.Hint) { hints <- h }) }()
		nextHint(t, hints) // subscribed
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, fleet.ErrClosed) {
			t.Fatalf("Watch after Close returned %v, want ErrClosed", err)
		}
		if err := s.Put(ctx, fleet.KindVerdict, "k", nil, 0); !errors.Is(err, fleet.ErrClosed) {
			t.Fatalf("Put after Close: %v", err)
		}
		if _, _, err := s.Take(ctx, "k", fleet.Rate{Limit: 1, Period: time.Second}, 1); !errors.Is(err, fleet.ErrClosed) {
			t.Fatalf("Take after Close: %v", err)
		}
	})

	t.Run("Take", func(t *testing.T) {
		s, other := newStores(t)
		ctx := ctxT(t)
		// 10 per hour: nothing refills during the test.
		rate := fleet.Rate{Limit: 10, Period: time.Hour}
		if g, r, err := s.Take(ctx, "k", rate, 4); err != nil || g != 4 || r != 0 {
			t.Fatalf("Take 4 of a fresh key = %d, %v, %v", g, r, err)
		}
		// A partial grant: 6 left of the burst.
		g, r, err := other.Take(ctx, "k", rate, 8)
		if err != nil || g != 6 {
			t.Fatalf("Take 8 with 6 left = %d, %v, %v", g, r, err)
		}
		if r <= 0 || r > 6*time.Minute {
			t.Fatalf("retry-after %v, want in (0, 6m]", r)
		}
		g, r2, err := s.Take(ctx, "k", rate, 1)
		if err != nil || g != 0 || r2 <= 0 || r2 > r {
			t.Fatalf("Take of an empty bucket = %d, %v, %v (earlier retry %v)", g, r2, err, r)
		}
		// Other keys are apart.
		if g, _, _ := s.Take(ctx, "other", rate, 10); g != 10 {
			t.Fatalf("Take on another key = %d, want 10", g)
		}
		// Burst below the limit caps a batch.
		if g, _, _ := s.Take(ctx, "burst", fleet.Rate{Limit: 100, Period: time.Hour, Burst: 3}, 50); g != 3 {
			t.Fatalf("Take 50 with burst 3 = %d", g)
		}
		if g, r, err := s.Take(ctx, "k", rate, 0); g != 0 || r != 0 || err != nil {
			t.Fatalf("Take 0 = %d %v %v", g, r, err)
		}
		for _, bad := range []fleet.Rate{{}, {Limit: 1}, {Limit: 1, Period: time.Second, Burst: -1}} {
			if _, _, err := s.Take(ctx, "k", bad, 1); err == nil {
				t.Fatalf("Take with %+v: no error", bad)
			}
		}
	})

	t.Run("TakeRefills", func(t *testing.T) {
		s, _ := newStores(t)
		ctx := ctxT(t)
		rate := fleet.Rate{Limit: 20, Period: time.Second} // one every 50 ms
		if g, _, _ := s.Take(ctx, "k", rate, 20); g != 20 {
			t.Fatalf("Take 20 = %d", g)
		}
		g, r, _ := s.Take(ctx, "k", rate, 1)
		if g != 0 || r <= 0 || r > 50*time.Millisecond {
			t.Fatalf("Take of an empty bucket = %d, retry %v; want 0 and (0, 50ms]", g, r)
		}
		time.Sleep(r) // not a timing assertion: once retry-after passed, a cell is due
		redistest.WaitFor(t, "a cell after retry-after", 5*time.Second, func() bool {
			g, _, _ := s.Take(ctx, "k", rate, 1)
			return g == 1
		})
	})

	t.Run("TakeNeverOvergrants", func(t *testing.T) {
		s, other := newStores(t)
		ctx := ctxT(t)
		// 100 per hour, 8 takers asking for batches of 1 to 7 at once:
		// exactly 100 are granted, however the batches fall.
		rate := fleet.Rate{Limit: 100, Period: time.Hour}
		var granted atomic.Int64
		done := make(chan error, 8)
		for i := range 8 {
			st := s
			if i%2 == 1 {
				st = other
			}
			go func() {
				for range 40 {
					g, _, err := st.Take(ctx, "shared", rate, 1+i%7)
					if err != nil {
						done <- err
						return
					}
					granted.Add(int64(g))
				}
				done <- nil
			}()
		}
		for range 8 {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if g := granted.Load(); g != 100 {
			t.Fatalf("%d granted of a limit of 100", g)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		s, _ := newStores(t)
		ctx := ctxT(t)
		if err := s.Put(ctx, fleet.KindVerdict, "", nil, 0); err == nil {
			t.Fatal("Put with an empty key: no error")
		}
		if err := s.Put(ctx, "a:b", "k", nil, 0); err == nil {
			t.Fatal("Put with a kind holding ':': no error")
		}
		if err := s.Put(ctx, fleet.KindVerdict, "k", nil, -time.Second); err == nil || !strings.Contains(err.Error(), "-1s") {
			t.Fatalf("Put with a negative ttl: %v", err)
		}
		// An empty value is a value.
		if err := s.Put(ctx, fleet.KindVerdict, "empty", nil, time.Minute); err != nil {
			t.Fatal(err)
		}
		if e, ok, err := s.Get(ctx, fleet.KindVerdict, "empty"); !ok || err != nil || len(e.Value) != 0 {
			t.Fatalf("Get of an empty value = %+v %v %v", e, ok, err)
		}
		if ok, err := s.CompareAndPut(ctx, fleet.KindVerdict, "empty", nil, []byte("x"), time.Minute); !ok || err != nil {
			t.Fatalf("CompareAndPut from an empty value: %v %v", ok, err)
		}
	})

	t.Run("ManyKeys", func(t *testing.T) {
		s, _ := newStores(t)
		ctx := ctxT(t)
		const n = 1300 // more than one MGET batch
		for i := range n {
			if err := s.Put(ctx, fleet.KindVerdict, fmt.Sprintf("g%d/r", i), []byte{byte(i)}, time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		es, err := s.List(ctx, fleet.KindVerdict)
		if err != nil || len(es) != n {
			t.Fatalf("List = %d entries, %v; want %d", len(es), err, n)
		}
		for _, e := range es {
			var i int
			fmt.Sscanf(e.Key, "g%d/r", &i)
			if !bytes.Equal(e.Value, []byte{byte(i)}) {
				t.Fatalf("entry %q = %v", e.Key, e.Value)
			}
		}
	})
}

// nextHint waits (bounded) for the next hint.
func nextHint(t *testing.T, hints <-chan fleet.Hint) fleet.Hint {
	t.Helper()
	select {
	case h := <-hints:
		return h
	case <-time.After(10 * time.Second):
		t.Fatal("no hint within 10s")
		return fleet.Hint{}
	}
}

func TestContractStandalone(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client()
	runContract(t, func(t *testing.T) (*redisstore.Store, *redisstore.Store) {
		return newStoreOn(t, client, redisstore.WithResyncEvery(0))
	})
}

// conformance runs the fleet's conformance suite (fleettest) on client,
// every store of one fresh fleet.
func conformance(t *testing.T, client redis.UniversalClient) {
	prefix := newPrefix(t)
	fleettest.RunWith(t, func(t *testing.T) fleet.Store {
		s, err := redisstore.New(client, redisstore.WithPrefix(prefix), redisstore.WithResyncEvery(0))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, fleettest.Options{TTL: 50 * time.Millisecond})
}

func TestConformanceStandalone(t *testing.T) {
	conformance(t, redistest.Start(t).Client())
}
