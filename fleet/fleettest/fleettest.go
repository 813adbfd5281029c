// Package fleettest is the conformance suite of fleet.Store: a backend's
// tests call Run with a function that returns a new client of the backend,
// and the suite checks the contract Join relies on (create-if-absent,
// compare-and-swap, server-side expiry, versions, hints, Close, and
// RateStore.Take when implemented).
//
// The suite has no timing assertions: expiry is awaited by polling with a
// generous deadline, so it passes on a loaded machine and against a real
// server.
package fleettest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/fleet"
)

// NewStore returns a new client of the backend under test. Every call made
// within one Run must return a client of the same data (the same server
// and namespace), since the suite checks what one client sees of
// another's writes; the suite uses keys of its own in each subtest, so a
// namespace may be shared by every subtest. The suite closes the clients
// it gets.
type NewStore func(t *testing.T) fleet.Store

// Options tune Run for a backend.
type Options struct {
	// TTL is the short expiry the suite writes to test expiry; default 1s
	// (NATS KV's per-key TTL has a granularity of a second).
	TTL time.Duration
	// ExpiryDeadline is how long the suite waits for an entry to expire
	// before failing; default 30s.
	ExpiryDeadline time.Duration
	// WatchDeadline is how long the suite waits for a hint; default 10s.
	WatchDeadline time.Duration
}

func (o Options) withDefaults() Options {
	if o.TTL <= 0 {
		o.TTL = time.Second
	}
	if o.ExpiryDeadline <= 0 {
		o.ExpiryDeadline = 30 * time.Second
	}
	if o.WatchDeadline <= 0 {
		o.WatchDeadline = 10 * time.Second
	}
	return o
}

// Run runs the conformance suite with default options.
func Run(t *testing.T, newStore NewStore) { RunWith(t, newStore, Options{}) }

// RunWith runs the conformance suite with o.
func RunWith(t *testing.T, newStore NewStore, o Options) {
	o = o.withDefaults()
	run := 0
	var mu sync.Mutex
	prefix := func(t *testing.T) string { // keys of this subtest
		mu.Lock()
		defer mu.Unlock()
		run++
		return fmt.Sprintf("ft%d-%d-", time.Now().UnixNano()%1e9, run)
	}
	client := func(t *testing.T) fleet.Store {
		t.Helper()
		s := newStore(t)
		if s == nil {
			t.Fatal("fleettest: newStore returned nil")
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		return c
	}

	t.Run("PutGetDelete", func(t *testing.T) {
		s, c, p := client(t), ctx(t), prefix(t)
		k := p + "a"
		if _, ok, err := s.Get(c, fleet.KindVerdict, k); err != nil || ok {
			t.Fatalf("Get of an absent key = ok %v, err %v; want false, nil", ok, err)
		}
		v := []byte(`{"v":1,"x":"\u00e9\u0000"}` + "\x00\xff")
		must(t, s.Put(c, fleet.KindVerdict, k, v, 0))
		e, ok, err := s.Get(c, fleet.KindVerdict, k)
		if err != nil || !ok || !bytes.Equal(e.Value, v) || e.Key != k {
			t.Fatalf("Get after Put = %+v, %v, %v; want key %q value %q", e, ok, err, k, v)
		}
		if e.Revision == 0 {
			t.Errorf("Get after Put: Revision 0, want a backend revision > 0")
		}
		must(t, s.Put(c, fleet.KindVerdict, k, []byte("second"), 0))
		e2, _, _ := s.Get(c, fleet.KindVerdict, k)
		if string(e2.Value) != "second" {
			t.Fatalf("Get after a second Put = %q, want %q", e2.Value, "second")
		}
		if e2.Revision == e.Revision {
			t.Errorf("Revision did not change with a write: %d", e2.Revision)
		}
		must(t, s.Delete(c, fleet.KindVerdict, k))
		if _, ok, err := s.Get(c, fleet.KindVerdict, k); err != nil || ok {
			t.Fatalf("Get after Delete = ok %v, err %v; want false, nil", ok, err)
		}
		if err := s.Delete(c, fleet.KindVerdict, k); err != nil {
			t.Fatalf("Delete of an absent key: %v, want nil", err)
		}
	})

	t.Run("KindsAreApart", func(t *testing.T) {
		s, c, p := client(t), ctx(t), prefix(t)
		k := p + "same"
		must(t, s.Put(c, fleet.KindVerdict, k, []byte("verdict"), 0))
		must(t, s.Put(c, fleet.KindLease, k, []byte("lease"), 0))
		if e, ok, _ := s.Get(c, fleet.KindVerdict, k); !ok || string(e.Value) != "verdict" {
			t.Fatalf("verdict %q = %q, %v; want %q", k, e.Value, ok, "verdict")
		}
		for _, kind := range []fleet.Kind{fleet.KindMember, fleet.KindOverride} {
			es, err := s.List(c, kind)
			must(t, err)
			if slices.ContainsFunc(es, func(e fleet.Entry) bool { return e.Key == k }) {
				t.Errorf("List(%s) holds %q, written under other kinds", kind, k)
			}
		}
		must(t, s.Delete(c, fleet.KindVerdict, k))
		must(t, s.Delete(c, fleet.KindLease, k))
	})

	t.Run("KeysAreAnyGuardName", func(t *testing.T) {
		s, c, p := client(t), ctx(t), prefix(t)
		keys := []string{p + "GET /quote/{sku}", p + "payments.charge", p + "/pkg.Svc/Method", p + "tenant:acme/ünï çødé", p + "a*b>c", p + "x/y|replica-1:8080"}
		for i, k := range keys {
			must(t, s.Put(c, fleet.KindVerdict, k, []byte{byte(i)}, 0))
		}
		es, err := s.List(c, fleet.KindVerdict)
		must(t, err)
		for i, k := range keys {
			j := slices.IndexFunc(es, func(e fleet.Entry) bool { return e.Key == k })
			if j < 0 {
				t.Errorf("List does not return key %q as written", k)
				continue
			}
			if !bytes.Equal(es[j].Value, []byte{byte(i)}) {
				t.Errorf("List: %q = %v, want %v", k, es[j].Value, []byte{byte(i)})
			}
			if e, ok, err := s.Get(c, fleet.KindVerdict, k); err != nil || !ok || e.Key != k {
				t.Errorf("Get(%q) = %+v, %v, %v", k, e, ok, err)
			}
		}
		for _, k := range keys {
			must(t, s.Delete(c, fleet.KindVerdict, k))
		}
	})

	t.Run("Create", func(t *testing.T) {
		s, c, p := client(t), ctx(t), prefix(t)
		k := p + "lease"
		created, _, err := s.Create(c, fleet.KindLease, k, []byte("first"), 0)
		if err != nil || !created {
			t.Fatalf("Create of an absent key = %v, %v; want true, nil", created, err)
		}
		other := client(t)
		created, cur, err := other.Create(c, fleet.KindLease, k, []byte("second"), 0)
		if err != nil || created {
			t.Fatalf("second Create (another client) = %v, %v; want false, nil", created, err)
		}
		if string(cur.Value) != "first" || cur.Key != k {
			t.Fatalf("second Create: cur = %q (key %q), want %q", cur.Value, cur.Key, "first")
		}
		must(t, s.Delete(c, fleet.KindLease, k))
		if created, _, err := other.Create(c, fleet.KindLease, k, []byte("third"), 0); err != nil || !created {
			t.Fatalf("Create after Delete = %v, %v; want true, nil", created, err)
		}
		must(t, s.Delete(c, fleet.KindLease, k))
	})

	t.Run("CreateRace", func(t *testing.T) {
		c, p := ctx(t), prefix(t)
		k := p + "race"
		const n = 8
		clients := make([]fleet.Store, n)
		for i := range clients {
			clients[i] = client(t)
		}
		var wg sync.WaitGroup
		wins := make([]bool, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				wins[i], _, errs[i] = clients[i].Create(c, fleet.KindLease, k, []byte{byte(i)}, 0)
			})
		}
		wg.Wait()
		won := 0
		for i := range n {
			must(t, errs[i])
			if wins[i] {
				won++
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent Creates of one key: %d created it, want exactly 1", n, won)
		}
		must(t, clients[0].Delete(c, fleet.KindLease, k))
	})

	t.Run("CompareAndPut", func(t *testing.T) {
		s, c, p := client(t), ctx(t), prefix(t)
		k := p + "cas"
		if ok, err := s.CompareAndPut(c, fleet.KindLease, k, []byte("x"), []byte("y"), 0); err != nil || ok {
			t.Fatalf("CompareAndPut on an absent key = %v, %v; want false, nil", ok, err)
		}
		must(t, s.Put(c, fleet.KindLease, k, []byte("running"), 0))
		if ok, err := s.CompareAndPut(c, fleet.KindLease, k, []byte("other"), []byte("failed"), 0); err != nil || ok {
			t.Fatalf("CompareAndPut with a wrong old value = %v, %v; want false, nil", ok, err)
		}
		if e, _, _ := s.Get(c, fleet.KindLease, k); string(e.Value) != "running" {
			t.Fatalf("a refused CompareAndPut changed the value to %q", e.Value)
		}
		if ok, err := s.CompareAndPut(c, fleet.KindLease, k, []byte("running"), []byte("failed"), 0); err != nil || !ok {
			t.Fatalf("CompareAndPut with the right old value = %v, %v; want true, nil", ok, err)
		}
		if e, _, _ := s.Get(c, fleet.KindLease, k); string(e.Value) != "failed" {
			t.Fatalf("after CompareAndPut: %q, want %q", e.Value, "failed")
		}
		if ok, _ := s.CompareAndPut(c, fleet.KindLease, k, []byte("running"), []byte("again"), 0); ok {
			t.Fatalf("CompareAndPut with the old value replaced succeeded")
		}
		must(t, s.Delete(c, fleet.KindLease, k))
	})

	t.Run("CompareAndDelete", func(t *testing.T) {
		s, c, p := client(t), ctx(t), prefix(t)
		k := p + "cad"
		if ok, err := s.CompareAndDelete(c, fleet.KindVerdict, k, []byte("x")); err != nil || ok {
			t.Fatalf("CompareAndDelete on an absent key = %v, %v; want false, nil", ok, err)
		}
		must(t, s.Put(c, fleet.KindVerdict, k, []byte("mine"), 0))
		if ok, err := s.CompareAndDelete(c, fleet.KindVerdict, k, []byte("theirs")); err != nil || ok {
			t.Fatalf("CompareAndDelete with a wrong value = %v, %v; want false, nil", ok, err)
		}
		if _, ok, _ := s.Get(c, fleet.KindVerdict, k); !ok {
			t.Fatalf("a refused CompareAndDelete deleted the key")
		}
		if ok, err := s.CompareAndDelete(c, fleet.KindVerdict, k, []byte("mine")); err != nil || !ok {
			t.Fatalf("CompareAndDelete with the right value = %v, %v; want true, nil", ok, err)
		}
		if _, ok, _ := s.Get(c, fleet.KindVerdict, k); ok {
			t.Fatalf("key present after CompareAndDelete")
		}
	})

	t.Run("Expiry", func(t *testing.T) {
		s, c, p := client(t), ctx(t), prefix(t)
		short, long := p+"short", p+"long"
		must(t, s.Put(c, fleet.KindMember, short, []byte("short"), o.TTL))
		must(t, s.Put(c, fleet.KindMember, long, []byte("long"), time.Hour))
		created, _, err := s.Create(c, fleet.KindLease, short, []byte("lease"), o.TTL)
		if err != nil || !created {
			t.Fatalf("Create with a TTL = %v, %v", created, err)
		}
		deadline := time.Now().Add(o.ExpiryDeadline)
		for {
			_, okM, err1 := s.Get(c, fleet.KindMember, short)
			_, okL, err2 := s.Get(c, fleet.KindLease, short)
			must(t, errors.Join(err1, err2))
			if !okM && !okL {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("entries written with TTL %s still present after %s", o.TTL, o.ExpiryDeadline)
			}
			time.Sleep(o.TTL / 10)
		}
		es, err := s.List(c, fleet.KindMember)
		must(t, err)
		if slices.ContainsFunc(es, func(e fleet.Entry) bool { return e.Key == short }) {
			t.Errorf("List returns an expired entry")
		}
		if !slices.ContainsFunc(es, func(e fleet.Entry) bool { return e.Key == long }) {
			t.Errorf("List lost an entry that has not expired")
		}
		if created, _, err := s.Create(c, fleet.KindLease, short, []byte("again"), o.TTL); err != nil || !created {
			t.Errorf("Create over an expired entry = %v, %v; want true, nil", created, err)
		}
		if ok, err := s.CompareAndPut(c, fleet.KindMember, short, []byte("short"), []byte("revived"), 0); err != nil || ok {
			t.Errorf("CompareAndPut over an expired entry = %v, %v; want false, nil", ok, err)
		}
		must(t, s.Delete(c, fleet.KindMember, long))
		must(t, s.Delete(c, fleet.KindLease, short))
	})

	t.Run("PutRefreshesTTL", func(t *testing.T) {
		s, c, p := client(t), ctx(t), prefix(t)
		k := p + "refresh"
		must(t, s.Put(c, fleet.KindMember, k, []byte("a"), o.TTL))
		must(t, s.Put(c, fleet.KindMember, k, []byte("b"), 0)) // no expiry now
		time.Sleep(o.TTL + o.TTL/2)
		if _, ok, err := s.Get(c, fleet.KindMember, k); err != nil || !ok {
			t.Fatalf("a Put without TTL over one with a TTL: the entry expired anyway (ok %v, err %v)", ok, err)
		}
		must(t, s.Delete(c, fleet.KindMember, k))
	})

	t.Run("NextVersion", func(t *testing.T) {
		c := ctx(t)
		a, b := client(t), client(t)
		var last uint64
		for i := range 20 {
			s := a
			if i%2 == 1 {
				s = b
			}
			v, err := s.NextVersion(c)
			must(t, err)
			if v <= last {
				t.Fatalf("NextVersion went from %d to %d (clients alternating)", last, v)
			}
			last = v
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[uint64]bool{}
		for i := range 16 {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Go(func() {
				v, err := s.NextVersion(c)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				if seen[v] || v <= last {
					t.Errorf("concurrent NextVersion returned %d twice or not above %d", v, last)
				}
				seen[v] = true
			})
		}
		wg.Wait()
	})

	t.Run("Watch", func(t *testing.T) {
		s, c, p := client(t), ctx(t), prefix(t)
		writer := client(t)
		hints := make(chan fleet.Hint, 1024)
		wctx, cancel := context.WithCancel(c)
		done := make(chan error, 1)
		go func() {
			done <- s.Watch(wctx, func(h fleet.Hint) {
				select {
				case hints <- h:
				default:
				}
			})
		}()
		first := await(t, hints, o.WatchDeadline, "the first hint (Resync)")
		if !first.Resync {
			t.Fatalf("the first hint is %+v, want a Resync", first)
		}
		k := p + "watched"
		must(t, writer.Put(c, fleet.KindVerdict, k, []byte("x"), 0))
		for {
			h := await(t, hints, o.WatchDeadline, "a hint after a Put")
			if h.Resync || h.Kind == fleet.KindVerdict && h.Key == k {
				break
			}
		}
		must(t, writer.Delete(c, fleet.KindVerdict, k))
		for {
			h := await(t, hints, o.WatchDeadline, "a hint after a Delete")
			if h.Resync || h.Kind == fleet.KindVerdict && h.Key == k {
				break
			}
		}
		cancel()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("Watch returned nil after its context ended, want ctx.Err()")
			}
		case <-time.After(o.WatchDeadline):
			t.Fatalf("Watch did not return within %s of its context ending", o.WatchDeadline)
		}
	})

	t.Run("Close", func(t *testing.T) {
		s, c, p := newStore(t), ctx(t), prefix(t)
		must(t, s.Put(c, fleet.KindVerdict, p+"x", []byte("x"), o.TTL))
		must(t, s.Close())
		if err := s.Put(c, fleet.KindVerdict, p+"y", []byte("y"), 0); !errors.Is(err, fleet.ErrClosed) {
			t.Errorf("Put after Close: %v, want fleet.ErrClosed", err)
		}
		if _, _, err := s.Get(c, fleet.KindVerdict, p+"x"); !errors.Is(err, fleet.ErrClosed) {
			t.Errorf("Get after Close: %v, want fleet.ErrClosed", err)
		}
		if _, err := s.List(c, fleet.KindVerdict); !errors.Is(err, fleet.ErrClosed) {
			t.Errorf("List after Close: %v, want fleet.ErrClosed", err)
		}
		if _, err := s.NextVersion(c); !errors.Is(err, fleet.ErrClosed) {
			t.Errorf("NextVersion after Close: %v, want fleet.ErrClosed", err)
		}
		wc, cancel := context.WithTimeout(c, o.WatchDeadline)
		defer cancel()
		if err := s.Watch(wc, func(fleet.Hint) {}); !errors.Is(err, fleet.ErrClosed) {
			t.Errorf("Watch after Close: %v, want fleet.ErrClosed", err)
		}
		_ = s.Close() // a second Close must not panic
	})

	t.Run("RateStore", func(t *testing.T) {
		s, c, p := client(t), ctx(t), prefix(t)
		rs, ok := s.(fleet.RateStore)
		if !ok {
			t.Skip("the store does not implement fleet.RateStore")
		}
		r := fleet.Rate{Limit: 10, Period: time.Hour, Burst: 10} // no refill within the test
		k := p + "limit"
		g, _, err := rs.Take(c, k, r, 4)
		must(t, err)
		if g != 4 {
			t.Fatalf("Take(4) of a fresh key under 10/h = %d, want 4", g)
		}
		other := client(t).(fleet.RateStore)
		g2, retry, err := other.Take(c, k, r, 100)
		must(t, err)
		if g2 != 6 {
			t.Fatalf("Take(100) after 4 of 10/h (another client) = %d, want 6", g2)
		}
		if retry <= 0 {
			t.Errorf("Take granted fewer than asked with retryAfter %s, want > 0", retry)
		}
		g3, _, err := rs.Take(c, k, r, 1)
		must(t, err)
		if g3 != 0 {
			t.Fatalf("Take past the limit = %d, want 0", g3)
		}
		// Separate keys are separate limits.
		if g, _, err := rs.Take(c, p+"other", r, 3); err != nil || g != 3 {
			t.Fatalf("Take on another key = %d, %v; want 3", g, err)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func await(t *testing.T, ch <-chan fleet.Hint, d time.Duration, what string) fleet.Hint {
	t.Helper()
	select {
	case h := <-ch:
		return h
	case <-time.After(d):
		t.Fatalf("no %s within %s", what, d)
		return fleet.Hint{}
	}
}
