package natsstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/natsstore"
)

// names are keys a fleet must carry as they are: guard names may hold
// anything.
var names = []string{
	"payments", "inventory.v2", "http://inventory:8080/v1/items", "a/b/c", "*", ">", "a b",
	"zahlungsdienst/überweisung", "支付.服务", "=3D", "",
}

func TestPutGetOverwrite(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)

	if _, ok, err := s.Get(ctx, fleet.KindMember, "r1"); err != nil || ok {
		t.Fatalf("Get of an absent key = ok %v, %v", ok, err)
	}
	if err := s.Put(ctx, fleet.KindMember, "r1", []byte("one"), 0); err != nil {
		t.Fatal(err)
	}
	e1, ok, err := s.Get(ctx, fleet.KindMember, "r1")
	if err != nil || !ok || string(e1.Value) != "one" || e1.Key != "r1" || e1.Revision == 0 {
		t.Fatalf("Get = %+v, %v, %v", e1, ok, err)
	}
	if err := s.Put(ctx, fleet.KindMember, "r1", []byte("two"), time.Minute); err != nil {
		t.Fatal(err)
	}
	e2, ok, err := s.Get(ctx, fleet.KindMember, "r1")
	if err != nil || !ok || string(e2.Value) != "two" || e2.Revision <= e1.Revision {
		t.Fatalf("Get after overwrite = %+v, %v, %v (first %+v)", e2, ok, err, e1)
	}
	// Kinds are apart: the same key of another kind is absent.
	if _, ok, _ := s.Get(ctx, fleet.KindVerdict, "r1"); ok {
		t.Fatal("a member key is visible as a verdict")
	}
}

func TestCreate(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)

	created, _, err := s.Create(ctx, fleet.KindLease, "payments", []byte("a"), time.Minute)
	if err != nil || !created {
		t.Fatalf("Create of an absent key = %v, %v", created, err)
	}
	created, cur, err := s.Create(ctx, fleet.KindLease, "payments", []byte("b"), time.Minute)
	if err != nil || created || string(cur.Value) != "a" || cur.Key != "payments" {
		t.Fatalf("Create of a present key = %v, %+v, %v", created, cur, err)
	}
	// Deleted keys leave a marker; Create goes over it.
	if err := s.Delete(ctx, fleet.KindLease, "payments"); err != nil {
		t.Fatal(err)
	}
	created, _, err = s.Create(ctx, fleet.KindLease, "payments", []byte("c"), 0)
	if err != nil || !created {
		t.Fatalf("Create after Delete = %v, %v", created, err)
	}
}

// Eight replicas race to take one lease: exactly one does, every time.
func TestCreateRaceOneWinner(t *testing.T) {
	srv := startServer(t)
	stores := make([]*natsstore.Store, 8)
	for i := range stores {
		_, js := connect(t, srv.URL())
		stores[i] = newStore(t, js)
	}
	ctx := ctxT(t)
	for round := range 20 {
		key := fmt.Sprintf("guard-%d", round)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i, s := range stores {
			wg.Go(func() {
				created, cur, err := s.Create(ctx, fleet.KindLease, key, []byte(strconv.Itoa(i)), 30*time.Second)
				if err != nil {
					t.Error(err)
					return
				}
				if created {
					wins.Add(1)
				} else if len(cur.Value) == 0 {
					t.Errorf("Create lost but returned no current entry")
				}
			})
		}
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d replicas took the lease, want 1", round, n)
		}
	}
}

func TestCompareAndPut(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)

	if ok, err := s.CompareAndPut(ctx, fleet.KindOverride, "x", []byte("a"), []byte("b"), 0); err != nil || ok {
		t.Fatalf("CompareAndPut on an absent key = %v, %v", ok, err)
	}
	_ = s.Put(ctx, fleet.KindOverride, "x", []byte("a"), 0)
	if ok, err := s.CompareAndPut(ctx, fleet.KindOverride, "x", []byte("z"), []byte("b"), 0); err != nil || ok {
		t.Fatalf("CompareAndPut with the wrong old value = %v, %v", ok, err)
	}
	if ok, err := s.CompareAndPut(ctx, fleet.KindOverride, "x", []byte("a"), []byte("b"), 0); err != nil || !ok {
		t.Fatalf("CompareAndPut with the right old value = %v, %v", ok, err)
	}
	if e, _, _ := s.Get(ctx, fleet.KindOverride, "x"); string(e.Value) != "b" {
		t.Fatalf("value after CompareAndPut = %q", e.Value)
	}
}

// Concurrent compare-and-put increments lose none: the final count is the
// number of successful swaps.
func TestCompareAndPutConcurrentCounter(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	var stores []*natsstore.Store
	for range 4 {
		_, js := connect(t, srv.URL())
		stores = append(stores, newStore(t, js))
	}
	_ = stores[0].Put(ctx, fleet.KindOverride, "n", []byte("0"), 0)
	var swaps atomic.Int64
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() {
			for range 25 {
				for {
					e, ok, err := s.Get(ctx, fleet.KindOverride, "n")
					if err != nil || !ok {
						t.Error(err, ok)
						return
					}
					n, _ := strconv.Atoi(string(e.Value))
					done, err := s.CompareAndPut(ctx, fleet.KindOverride, "n", e.Value, []byte(strconv.Itoa(n+1)), 0)
					if err != nil {
						t.Error(err)
						return
					}
					if done {
						swaps.Add(1)
						break
					}
				}
			}
		})
	}
	wg.Wait()
	e, _, _ := stores[0].Get(ctx, fleet.KindOverride, "n")
	if got := string(e.Value); got != "100" || swaps.Load() != 100 {
		t.Fatalf("counter = %s after %d swaps, want 100", got, swaps.Load())
	}
}

func TestCompareAndDeleteAndDelete(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)

	if err := s.Delete(ctx, fleet.KindLease, "absent"); err != nil {
		t.Fatalf("Delete of an absent key: %v", err)
	}
	if ok, err := s.CompareAndDelete(ctx, fleet.KindLease, "absent", []byte("a")); err != nil || ok {
		t.Fatalf("CompareAndDelete of an absent key = %v, %v", ok, err)
	}
	_ = s.Put(ctx, fleet.KindLease, "g", []byte("token-1"), time.Minute)
	if ok, err := s.CompareAndDelete(ctx, fleet.KindLease, "g", []byte("token-2")); err != nil || ok {
		t.Fatalf("CompareAndDelete with another token = %v, %v", ok, err)
	}
	if _, ok, _ := s.Get(ctx, fleet.KindLease, "g"); !ok {
		t.Fatal("CompareAndDelete with another token deleted the key")
	}
	if ok, err := s.CompareAndDelete(ctx, fleet.KindLease, "g", []byte("token-1")); err != nil || !ok {
		t.Fatalf("CompareAndDelete with the token = %v, %v", ok, err)
	}
	if _, ok, _ := s.Get(ctx, fleet.KindLease, "g"); ok {
		t.Fatal("key present after CompareAndDelete")
	}
	_ = s.Put(ctx, fleet.KindLease, "h", []byte("v"), 0)
	if err := s.Delete(ctx, fleet.KindLease, "h"); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.List(ctx, fleet.KindLease); len(l) != 0 {
		t.Fatalf("List after deletes = %+v", l)
	}
}

func TestListKeepsKindsApart(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)

	if l, err := s.List(ctx, fleet.KindVerdict); err != nil || len(l) != 0 {
		t.Fatalf("List of an empty bucket = %v, %v", l, err)
	}
	for i, n := range names {
		if err := s.Put(ctx, fleet.KindVerdict, n, []byte("v"+strconv.Itoa(i)), time.Minute); err != nil {
			t.Fatalf("Put %q: %v", n, err)
		}
	}
	_ = s.Put(ctx, fleet.KindMember, "r1", []byte("m"), time.Minute)
	if _, err := s.NextVersion(ctx); err != nil {
		t.Fatal(err)
	}
	l, err := s.List(ctx, fleet.KindVerdict)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range l {
		i := slices.Index(names, e.Key)
		if i < 0 || string(e.Value) != "v"+strconv.Itoa(i) || e.Revision == 0 {
			t.Errorf("listed entry %+v", e)
		}
		got = append(got, e.Key)
	}
	want := slices.Clone(names)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("List keys = %q, want %q", got, want)
	}
	if m, _ := s.List(ctx, fleet.KindMember); len(m) != 1 || m[0].Key != "r1" {
		t.Fatalf("List members = %+v", m)
	}
}

// Names with slashes, dots, wildcards and any Unicode go through every
// operation unchanged, each its own key.
func TestNamesAreCarriedAsTheyAre(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)
	for _, n := range names {
		v := []byte("value of " + n)
		created, _, err := s.Create(ctx, fleet.KindLease, n, v, time.Minute)
		if err != nil || !created {
			t.Fatalf("Create %q = %v, %v", n, created, err)
		}
		e, ok, err := s.Get(ctx, fleet.KindLease, n)
		if err != nil || !ok || e.Key != n || !bytes.Equal(e.Value, v) {
			t.Fatalf("Get %q = %+v, %v, %v", n, e, ok, err)
		}
		if ok, err := s.CompareAndPut(ctx, fleet.KindLease, n, v, []byte("2"), time.Minute); err != nil || !ok {
			t.Fatalf("CompareAndPut %q = %v, %v", n, ok, err)
		}
	}
	l, _ := s.List(ctx, fleet.KindLease)
	if len(l) != len(names) {
		t.Fatalf("List holds %d entries, want %d: %+v", len(l), len(names), l)
	}
	for _, n := range names {
		if ok, err := s.CompareAndDelete(ctx, fleet.KindLease, n, []byte("2")); err != nil || !ok {
			t.Fatalf("CompareAndDelete %q = %v, %v", n, ok, err)
		}
	}
}

func TestNextVersion(t *testing.T) {
	srv := startServer(t)
	ctx := ctxT(t)
	var stores []*natsstore.Store
	for range 4 {
		_, js := connect(t, srv.URL())
		stores = append(stores, newStore(t, js))
	}
	for want := uint64(1); want <= 3; want++ {
		if v, err := stores[0].NextVersion(ctx); err != nil || v != want {
			t.Fatalf("NextVersion = %d, %v; want %d", v, err, want)
		}
	}
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for _, s := range stores {
		wg.Go(func() {
			for range 20 {
				v, err := s.NextVersion(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[v] {
					t.Errorf("version %d handed out twice", v)
				}
				seen[v] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for v := uint64(4); v < 4+80; v++ {
		if !seen[v] {
			t.Fatalf("version %d never handed out (got %d versions)", v, len(seen))
		}
	}
}

// A value another program wrote on the counter key is an error naming it,
// not a panic and not a silent reset.
func TestNextVersionMalformedCounter(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)
	kv, _ := js.KeyValue(ctx, natsstore.DefaultBucket)
	if _, err := kv.Put(ctx, "_version", []byte("eleven")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NextVersion(ctx); err == nil || !strings.Contains(err.Error(), "eleven") {
		t.Fatalf("NextVersion on a malformed counter: %v", err)
	}
}

// Values are opaque: malformed bytes and foreign keys written straight into
// the bucket are listed as entries or skipped, never a panic.
func TestForeignValuesAndKeys(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)
	kv, _ := js.KeyValue(ctx, natsstore.DefaultBucket)
	for k, v := range map[string]string{
		"verdict.plain":      "not json",
		"verdict.binary":     "\x00\xff\xfe",
		"verdict.empty":      "",
		"verdict.bad=ZZ":     `{"v":1}`,
		"verdict.a.b":        `{"v":1}`,
		"verdict.slash/here": `{"v":1}`,
		"elsewhere":          "x",
	} {
		if _, err := kv.Put(ctx, k, []byte(v)); err != nil {
			t.Fatalf("put %q: %v", k, err)
		}
	}
	l, err := s.List(ctx, fleet.KindVerdict)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range l {
		got[e.Key] = string(e.Value)
	}
	want := map[string]string{"plain": "not json", "binary": "\x00\xff\xfe", "empty": ""}
	if len(got) != len(want) {
		t.Fatalf("List = %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("List = %q, want %q", got, want)
		}
	}
}

// Keys expire on the server: Get, List and Create see them gone once it
// removed them. (Polled with a deadline; the test asserts no timing.)
func TestTTLExpiry(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)

	_ = s.Put(ctx, fleet.KindVerdict, "short", []byte("v"), 200*time.Millisecond) // rounded up to 1s
	_, _, _ = s.Create(ctx, fleet.KindLease, "short", []byte("v"), time.Second)
	_ = s.Put(ctx, fleet.KindVerdict, "long", []byte("v"), 0)
	// A compare-and-put gives the key the new TTL.
	_ = s.Put(ctx, fleet.KindMember, "r1", []byte("a"), 0)
	if ok, err := s.CompareAndPut(ctx, fleet.KindMember, "r1", []byte("a"), []byte("b"), time.Second); !ok || err != nil {
		t.Fatalf("CompareAndPut = %v, %v", ok, err)
	}

	gone := func(kind fleet.Kind, key string) func() bool {
		return func() bool {
			_, ok, err := s.Get(ctx, kind, key)
			return err == nil && !ok
		}
	}
	eventually(t, "verdict expiry", gone(fleet.KindVerdict, "short"))
	eventually(t, "lease expiry", gone(fleet.KindLease, "short"))
	eventually(t, "member expiry after compare-and-put", gone(fleet.KindMember, "r1"))

	l, err := s.List(ctx, fleet.KindVerdict)
	if err != nil || len(l) != 1 || l[0].Key != "long" {
		t.Fatalf("List after expiry = %+v, %v", l, err)
	}
	created, _, err := s.Create(ctx, fleet.KindLease, "short", []byte("again"), time.Minute)
	if err != nil || !created {
		t.Fatalf("Create after expiry = %v, %v", created, err)
	}
}

// hints collects what a Watch sends.
type hints struct {
	mu sync.Mutex
	hs []fleet.Hint
}

func (h *hints) add(x fleet.Hint) {
	h.mu.Lock()
	h.hs = append(h.hs, x)
	h.mu.Unlock()
}

func (h *hints) count(match func(fleet.Hint) bool) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, x := range h.hs {
		if match(x) {
			n++
		}
	}
	return n
}

func resync(h fleet.Hint) bool { return h.Resync }

func hintFor(kind fleet.Kind, key string) func(fleet.Hint) bool {
	return func(h fleet.Hint) bool { return !h.Resync && h.Kind == kind && h.Key == key }
}

// rewatch runs Watch again after it returns, as Join does, until ctx ends.
// It returns the channel of the errors Watch returned.
func rewatch(ctx context.Context, s *natsstore.Store, h *hints) <-chan error {
	errs := make(chan error, 100)
	go func() {
		defer close(errs)
		for ctx.Err() == nil {
			err := s.Watch(ctx, h.add)
			select {
			case errs <- err:
			default:
			}
			if errors.Is(err, fleet.ErrClosed) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	return errs
}

func TestWatchHints(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx, cancel := context.WithCancel(ctxT(t))
	var h hints
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, h.add) }()
	eventually(t, "first Resync", func() bool { return h.count(resync) == 1 })

	_ = s.Put(ctx, fleet.KindVerdict, "a/b.c", []byte("v"), 0)
	eventually(t, "put hint", func() bool { return h.count(hintFor(fleet.KindVerdict, "a/b.c")) >= 1 })
	_ = s.Delete(ctx, fleet.KindVerdict, "a/b.c")
	eventually(t, "delete hint", func() bool { return h.count(hintFor(fleet.KindVerdict, "a/b.c")) >= 2 })
	_ = s.Put(ctx, fleet.KindMember, "r1", []byte("v"), time.Second)
	eventually(t, "expiry hint", func() bool { return h.count(hintFor(fleet.KindMember, "r1")) >= 2 })

	// A foreign key written straight into the bucket is no hint.
	kv, _ := js.KeyValue(ctx, natsstore.DefaultBucket)
	_, _ = kv.Put(ctx, "foreign.a.b", []byte("x"))
	_, _ = kv.Put(ctx, "verdict.marker", []byte("x"))
	eventually(t, "marker hint", func() bool { return h.count(hintFor(fleet.KindVerdict, "marker")) == 1 })
	if n := h.count(func(x fleet.Hint) bool { return x.Kind == "foreign" }); n != 0 {
		t.Fatalf("%d hints for a foreign key", n)
	}

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Watch returned %v after cancel, want context.Canceled", err)
	}
}

// The server restarts mid-run: Watch returns, the next Watch resyncs, the
// file-stored entries are still there and the store works again.
func TestServerRestart(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)
	_ = s.Put(ctx, fleet.KindOverride, "payments", []byte("force-open"), 0)
	v1, _ := s.NextVersion(ctx)

	var h hints
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := rewatch(wctx, s, &h)
	eventually(t, "first Resync", func() bool { return h.count(resync) >= 1 })

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Resync after restart", func() bool { return h.count(resync) >= 2 })
	if err := <-errs; err == nil {
		t.Fatal("Watch returned no error for a lost connection")
	}

	e, ok, err := s.Get(ctx, fleet.KindOverride, "payments")
	if err != nil || !ok || string(e.Value) != "force-open" {
		t.Fatalf("Get after restart = %+v, %v, %v", e, ok, err)
	}
	if v2, err := s.NextVersion(ctx); err != nil || v2 <= v1 {
		t.Fatalf("NextVersion after restart = %d, %v; before %d", v2, err, v1)
	}
	_ = s.Put(ctx, fleet.KindVerdict, "after", []byte("v"), 0)
	eventually(t, "hint after restart", func() bool { return h.count(hintFor(fleet.KindVerdict, "after")) >= 1 })
}

// The server goes away: every call returns an error by its context's
// deadline, none hangs or panics; when it is back, the store works.
func TestServerDown(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	srv.Shutdown()

	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	if err := s.Put(short(), fleet.KindVerdict, "a", []byte("v"), time.Second); err == nil {
		t.Error("Put with the server down: no error")
	}
	if _, _, err := s.Get(short(), fleet.KindVerdict, "a"); err == nil {
		t.Error("Get with the server down: no error")
	}
	if _, _, err := s.Create(short(), fleet.KindLease, "a", []byte("v"), time.Second); err == nil {
		t.Error("Create with the server down: no error")
	}
	if _, err := s.CompareAndPut(short(), fleet.KindLease, "a", []byte("v"), []byte("w"), time.Second); err == nil {
		t.Error("CompareAndPut with the server down: no error")
	}
	if _, err := s.List(short(), fleet.KindVerdict); err == nil {
		t.Error("List with the server down: no error")
	}
	if _, err := s.NextVersion(short()); err == nil {
		t.Error("NextVersion with the server down: no error")
	}
	if err := s.Watch(short(), func(fleet.Hint) {}); err == nil {
		t.Error("Watch with the server down: no error")
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "Put after the server is back", func() bool {
		return s.Put(short(), fleet.KindVerdict, "a", []byte("v"), time.Second) == nil
	})
}

// The connection is cut (a proxy resets it): Watch returns, the next one
// resyncs, and hints flow again.
func TestConnectionCut(t *testing.T) {
	srv := startServer(t)
	p := startProxy(t, strings.TrimPrefix(srv.URL(), "nats://"))
	_, js := connect(t, p.url())
	s := newStore(t, js)
	ctx := ctxT(t)

	var h hints
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rewatch(wctx, s, &h)
	eventually(t, "first Resync", func() bool { return h.count(resync) >= 1 })
	for i := 2; i <= 4; i++ {
		p.cut()
		eventually(t, fmt.Sprintf("Resync %d after a cut", i), func() bool { return h.count(resync) >= i })
	}
	eventually(t, "Put after the cuts", func() bool {
		return s.Put(ctx, fleet.KindVerdict, "after-cut", []byte("v"), 0) == nil
	})
	eventually(t, "hint after the cuts", func() bool { return h.count(hintFor(fleet.KindVerdict, "after-cut")) >= 1 })
}

func TestClose(t *testing.T) {
	srv := startServer(t)
	nc, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)
	done := make(chan error, 1)
	var h hints
	go func() { done <- s.Watch(ctx, h.add) }()
	eventually(t, "Resync", func() bool { return h.count(resync) == 1 })
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, fleet.ErrClosed) {
		t.Fatalf("Watch after Close returned %v", err)
	}
	if err := s.Put(ctx, fleet.KindVerdict, "a", nil, 0); !errors.Is(err, fleet.ErrClosed) {
		t.Fatalf("Put after Close = %v", err)
	}
	if _, err := s.List(ctx, fleet.KindVerdict); !errors.Is(err, fleet.ErrClosed) {
		t.Fatalf("List after Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	if !nc.IsConnected() {
		t.Fatal("Close closed the caller's connection")
	}
}

func TestNewOptionsAndErrors(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	ctx := ctxT(t)

	if _, err := natsstore.New(ctx, js, natsstore.WithBucket("bad.name")); err == nil || !strings.Contains(err.Error(), "bad.name") {
		t.Fatalf("New with a bad bucket name: %v", err)
	}
	if _, err := natsstore.New(ctx, js, natsstore.WithMarkerTTL(time.Millisecond)); err == nil {
		t.Fatal("New with a marker TTL under a second: no error")
	}
	if _, err := natsstore.New(ctx, nil); err == nil {
		t.Fatal("New with a nil JetStream: no error")
	}
	// A bucket that exists without per-key TTL is refused, by name.
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "old_bucket"}); err != nil {
		t.Fatal(err)
	}
	if _, err := natsstore.New(ctx, js, natsstore.WithBucket("old_bucket")); err == nil || !strings.Contains(err.Error(), "old_bucket") {
		t.Fatalf("New on a bucket without per-key TTL: %v", err)
	}
	// Two stores, two buckets: two fleets apart.
	a := newStore(t, js, natsstore.WithBucket("fleet_a"), natsstore.WithStorage(jetstream.MemoryStorage))
	b := newStore(t, js, natsstore.WithBucket("fleet_b"), natsstore.WithMaxBytes(1<<20), natsstore.WithMarkerTTL(5*time.Second))
	_ = a.Put(ctx, fleet.KindMember, "r1", []byte("a"), 0)
	if _, ok, _ := b.Get(ctx, fleet.KindMember, "r1"); ok {
		t.Fatal("a key of fleet_a is visible in fleet_b")
	}
	if a.Bucket() != "fleet_a" {
		t.Fatalf("Bucket() = %q", a.Bucket())
	}
	// Binding a bucket that exists (another replica made it) works.
	c := newStore(t, js, natsstore.WithBucket("fleet_a"))
	if _, ok, _ := c.Get(ctx, fleet.KindMember, "r1"); !ok {
		t.Fatal("a second store on fleet_a does not see its keys")
	}
}

// NATS KV has no server clock to run GCRA with: the store does not claim
// to be a RateStore, so Join runs global limits at their local share.
func TestNotARateStore(t *testing.T) {
	var s fleet.Store = (*natsstore.Store)(nil)
	if _, ok := s.(fleet.RateStore); ok {
		t.Fatal("natsstore.Store implements fleet.RateStore")
	}
}

// Each List makes an ordered consumer; it must delete it, or a fleet's
// reconciles would pile consumers up on the server.
func TestListLeavesNoConsumers(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)
	_ = s.Put(ctx, fleet.KindMember, "a", []byte("x"), 0)
	for range 100 {
		if _, err := s.List(ctx, fleet.KindMember); err != nil {
			t.Fatal(err)
		}
	}
	st, err := js.Stream(ctx, "KV_"+natsstore.DefaultBucket)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "no consumers left after 100 Lists", func() bool {
		info, err := st.Info(ctx)
		return err == nil && info.State.Consumers == 0
	})
}

// A memory-stored bucket is lost when the server restarts: the store
// creates it again on the first call that finds it gone, and every call
// works again (the data comes back with the replicas' next writes).
func TestMemoryBucketLostInRestart(t *testing.T) {
	srv := startServer(t)
	nc, js := connect(t, srv.URL())
	s := newStore(t, js, natsstore.WithStorage(jetstream.MemoryStorage))
	ctx := ctxT(t)
	_ = s.Put(ctx, fleet.KindMember, "r1", []byte("x"), 0)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "reconnected", nc.IsConnected)
	short := func() context.Context {
		c, cancel := context.WithTimeout(ctx, time.Second)
		t.Cleanup(cancel)
		return c
	}
	eventually(t, "Put after the bucket was lost", func() bool {
		return s.Put(short(), fleet.KindMember, "r2", []byte("y"), 0) == nil
	})
	if _, ok, err := s.Get(ctx, fleet.KindMember, "r1"); err != nil || ok {
		t.Fatalf("Get of a key of the lost bucket = %v, %v; want absent", ok, err)
	}
	if l, err := s.List(ctx, fleet.KindMember); err != nil || len(l) != 1 || l[0].Key != "r2" {
		t.Fatalf("List after recreation = %+v, %v", l, err)
	}
	if v, err := s.NextVersion(ctx); err != nil || v != 1 {
		t.Fatalf("NextVersion after recreation = %d, %v; want 1 (the counter starts again)", v, err)
	}
	var h hints
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rewatch(wctx, s, &h)
	eventually(t, "Resync", func() bool { return h.count(resync) >= 1 })
}

// The bucket deleted under a running store (by an operator, say) comes back
// the same way; a Watch started after it was deleted recreates it too.
func TestBucketDeletedUnderTheStore(t *testing.T) {
	srv := startServer(t)
	_, js := connect(t, srv.URL())
	s := newStore(t, js)
	ctx := ctxT(t)
	if err := js.DeleteKeyValue(ctx, natsstore.DefaultBucket); err != nil {
		t.Fatal(err)
	}
	var h hints
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rewatch(wctx, s, &h)
	eventually(t, "Resync on a recreated bucket", func() bool { return h.count(resync) >= 1 })
	created, _, err := s.Create(ctx, fleet.KindLease, "g", []byte("t"), time.Minute)
	if err != nil || !created {
		t.Fatalf("Create after the bucket was deleted = %v, %v", created, err)
	}
	eventually(t, "hint after recreation", func() bool { return h.count(hintFor(fleet.KindLease, "g")) >= 1 })
}
