package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/faultproxy"
	"github.com/breakerbox/breakerbox/fleet/redisstore"
	"github.com/breakerbox/breakerbox/fleet/redisstore/internal/redistest"
)

// callTimeout is the timeout Join puts on every store call.
const callTimeout = 100 * time.Millisecond

// returnBound is how long a call with callTimeout may take to come back
// before the test calls it blocked: ten times the deadline, so a loaded
// machine cannot fail the test, while a client waiting for its own
// timeouts (go-redis: 3 s reads, 5 s dials) would.
const returnBound = time.Second

// proxied starts a redis-server, a fault proxy in front of it and a store
// whose client dials the proxy.
func proxied(t *testing.T, opts ...redisstore.Option) (*redistest.Server, *faultproxy.Proxy, *redisstore.Store) {
	return proxiedWith(t, false, opts...)
}

// proxiedWith is proxied with the client's ContextTimeoutEnabled set.
func proxiedWith(t *testing.T, ctxTimeout bool, opts ...redisstore.Option) (*redistest.Server, *faultproxy.Proxy, *redisstore.Store) {
	t.Helper()
	srv := redistest.Start(t)
	p, err := faultproxy.New(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	client := redis.NewClient(&redis.Options{Addr: p.Addr(), ContextTimeoutEnabled: ctxTimeout})
	t.Cleanup(func() { client.Close() })
	opts = append([]redisstore.Option{redisstore.WithPrefix(newPrefix(t)), redisstore.WithPingEvery(100 * time.Millisecond)}, opts...)
	s, err := redisstore.New(client, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return srv, p, s
}

// everyCall runs each of the Store's calls once with callTimeout and
// returns their errors by name, and the longest a call took.
func everyCall(s *redisstore.Store) (map[string]error, time.Duration, string) {
	ops := map[string]func(ctx context.Context) error{
		"Put": func(ctx context.Context) error {
			return s.Put(ctx, fleet.KindVerdict, "g/r1", []byte("v"), time.Minute)
		},
		"Create": func(ctx context.Context) error {
			_, _, err := s.Create(ctx, fleet.KindLease, "g", []byte("t"), time.Second)
			return err
		},
		"CompareAndPut": func(ctx context.Context) error {
			_, err := s.CompareAndPut(ctx, fleet.KindLease, "g", []byte("t"), []byte("u"), time.Second)
			return err
		},
		"CompareAndDelete": func(ctx context.Context) error {
			_, err := s.CompareAndDelete(ctx, fleet.KindLease, "g", []byte("u"))
			return err
		},
		"Delete": func(ctx context.Context) error { return s.Delete(ctx, fleet.KindLease, "x") },
		"Get": func(ctx context.Context) error {
			_, _, err := s.Get(ctx, fleet.KindVerdict, "g/r1")
			return err
		},
		"List": func(ctx context.Context) error {
			_, err := s.List(ctx, fleet.KindVerdict)
			return err
		},
		"NextVersion": func(ctx context.Context) error {
			_, err := s.NextVersion(ctx)
			return err
		},
		"Take": func(ctx context.Context) error {
			_, _, err := s.Take(ctx, "k", fleet.Rate{Limit: 1000, Period: time.Second}, 10)
			return err
		},
		"Watch": func(ctx context.Context) error {
			err := s.Watch(ctx, func(fleet.Hint) {})
			if errors.Is(err, context.DeadlineExceeded) {
				// Watch is long-lived: ending with its ctx is its success.
				return nil
			}
			if err == nil {
				return errors.New("Watch returned nil")
			}
			return err
		},
	}
	errs := make(map[string]error, len(ops))
	var longest time.Duration
	var slowest string
	for name, op := range ops {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		start := time.Now()
		errs[name] = op(ctx)
		if el := time.Since(start); el > longest {
			longest, slowest = el, name
		}
		cancel()
	}
	return errs, longest, slowest
}

// allFail checks that every call failed (Watch: ended by error or by its
// deadline) and that none blocked past returnBound.
func allFail(t *testing.T, s *redisstore.Store, fault string) {
	t.Helper()
	errs, longest, slowest := everyCall(s)
	for name, err := range errs {
		if err == nil && name != "Watch" {
			t.Errorf("%s: %s succeeded", fault, name)
		}
	}
	if longest > returnBound {
		t.Errorf("%s: %s took %v with a %v deadline", fault, slowest, longest, callTimeout)
	}
	t.Logf("%s: every call failed; the longest, %s, took %v (deadline %v)", fault, slowest, longest, callTimeout)
}

// recovers waits until every call succeeds again.
func recovers(t *testing.T, s *redisstore.Store, after string) {
	t.Helper()
	var last map[string]error
	redistest.WaitFor(t, "every call to succeed after "+after, 30*time.Second, func() bool {
		errs, _, _ := everyCall(s)
		last = errs
		for _, err := range errs {
			if err != nil {
				return false
			}
		}
		return true
	})
	_ = last
}

// watcher runs one Watch and records its hints and its end.
type watcher struct {
	hints chan fleet.Hint
	done  chan error
}

func watch(ctx context.Context, s *redisstore.Store) *watcher {
	w := &watcher{hints: make(chan fleet.Hint, 256), done: make(chan error, 1)}
	go func() {
		w.done <- s.Watch(ctx, func(h fleet.Hint) {
			select {
			case w.hints <- h:
			default:
			}
		})
	}()
	return w
}

// subscribed waits for the watch's first hint, a Resync.
func (w *watcher) subscribed(t *testing.T) {
	t.Helper()
	if h := nextHint(t, w.hints); !h.Resync {
		t.Fatalf("first hint %+v, want Resync", h)
	}
}

// ended waits (bounded) for the watch to return and checks why.
func (w *watcher) ended(t *testing.T, want error) {
	t.Helper()
	select {
	case err := <-w.done:
		if !errors.Is(err, want) {
			t.Fatalf("Watch returned %v, want %v", err, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Watch did not return within 10s of losing its subscription")
	}
}

func TestRedisStoppedCallsReturnInTime(t *testing.T) {
	// Both kinds of client: one that ends its calls with ctx
	// (ContextTimeoutEnabled) and one that would wait for its own socket
	// timeouts, which the Store stops waiting for.
	for _, ctxTimeout := range []bool{false, true} {
		t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v", ctxTimeout), func(t *testing.T) {
			srv, _, s := proxiedWith(t, ctxTimeout)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := watch(ctx, s)
			w.subscribed(t)
			recovers(t, s, "start")

			srv.Stop() // SIGSTOP: sockets open, nobody answers
			allFail(t, s, "SIGSTOP")
			w.ended(t, redisstore.ErrWatchLost)
			allFail(t, s, "SIGSTOP, again")

			srv.Cont()
			recovers(t, s, "SIGCONT")
			w2 := watch(ctx, s)
			w2.subscribed(t)
		})
	}
}

func TestRedisKilledAndRestarted(t *testing.T) {
	srv, _, s := proxied(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := watch(ctx, s)
	w.subscribed(t)

	srv.Kill()
	w.ended(t, redisstore.ErrWatchLost)
	allFail(t, s, "redis-server killed")

	srv.Restart() // same port, empty
	recovers(t, s, "the restart")
	w2 := watch(ctx, s)
	w2.subscribed(t)
	// Hints flow again.
	otherClient := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer otherClient.Close()
	other, _ := redisstore.New(otherClient, redisstore.WithPrefix(s.Prefix()))
	defer other.Close()
	if err := other.Put(ctx, fleet.KindOverride, "o", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if h := nextHint(t, w2.hints); h != (fleet.Hint{Kind: fleet.KindOverride, Key: "o"}) {
		t.Fatalf("hint after restart = %+v", h)
	}
}

func TestPubSubConnectionCut(t *testing.T) {
	_, p, s := proxied(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := watch(ctx, s)
	w.subscribed(t)

	p.ResetAll() // RST on every connection, the subscription's included
	w.ended(t, redisstore.ErrWatchLost)
	w2 := watch(ctx, s)
	w2.subscribed(t) // a new subscription starts with a Resync
	recovers(t, s, "the reset")
}

func TestSlowAndBlackHoledStore(t *testing.T) {
	_, p, s := proxied(t)
	recovers(t, s, "start")

	p.SetDelay(time.Second) // answers arrive long after the deadline
	allFail(t, s, "1s delay")
	p.SetDelay(0)
	recovers(t, s, "the delay")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := watch(ctx, s)
	w.subscribed(t)
	p.SetDrop(true)
	allFail(t, s, "black hole")
	w.ended(t, redisstore.ErrWatchLost)
	p.SetDrop(false)
	recovers(t, s, "the black hole")

	p.Partition()
	allFail(t, s, "partition")
	if err := p.Heal(); err != nil {
		t.Fatal(err)
	}
	recovers(t, s, "the partition")
}

func TestForeignValues(t *testing.T) {
	srv := redistest.Start(t)
	raw := srv.Client()
	s, _ := newStoreOn(t, raw)
	ctx := ctxT(t)
	if err := s.Put(ctx, fleet.KindVerdict, "g/good", []byte(`{"v":1}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, fleet.KindVerdict, "g/bad", []byte(`{"v":1}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, fleet.KindVerdict, "g/hash", []byte(`{"v":1}`), time.Minute); err != nil {
		t.Fatal(err)
	}
	// Another program overwrites keys behind the store's back.
	must(t, raw.Set(ctx, s.Key(fleet.KindVerdict, "g/bad"), "\xffnot json", time.Minute).Err())
	must(t, raw.Del(ctx, s.Key(fleet.KindVerdict, "g/hash")).Err())
	must(t, raw.HSet(ctx, s.Key(fleet.KindVerdict, "g/hash"), "a", "b").Err())
	must(t, raw.Set(ctx, s.RateKey("k"), "garbage", time.Minute).Err())
	must(t, raw.ZAdd(ctx, "{"+s.Prefix()+"}:index:verdict", redis.Z{Score: 1, Member: "g/forged"}).Err())

	es, err := s.List(ctx, fleet.KindVerdict)
	if err != nil {
		t.Fatal(err)
	}
	got := entryValues(es)
	if len(got) != 2 || got["g/good"] != `{"v":1}` || got["g/bad"] != "\xffnot json" {
		t.Fatalf("List = %q; want the good entry and the foreign value as it is", got)
	}
	for _, e := range es {
		if e.Key == "g/bad" && e.Revision != 0 {
			t.Fatalf("a foreign value has revision %d, want 0", e.Revision)
		}
	}
	// The foreign value can be replaced by compare-and-swap, as Join does.
	if ok, err := s.CompareAndPut(ctx, fleet.KindVerdict, "g/bad", []byte("\xffnot json"), []byte("fixed"), time.Minute); !ok || err != nil {
		t.Fatalf("CompareAndPut over a foreign value: %v %v", ok, err)
	}
	// A key of another type is an error, not a panic.
	if _, _, err := s.Get(ctx, fleet.KindVerdict, "g/hash"); err == nil {
		t.Fatal("Get of a hash: no error")
	}
	if err := s.Put(ctx, fleet.KindVerdict, "g/hash", []byte("x"), time.Minute); err != nil {
		t.Fatalf("Put over a hash: %v", err) // SET replaces any type
	}
	// A garbage rate state counts as a full bucket.
	if g, _, err := s.Take(ctx, "k", fleet.Rate{Limit: 5, Period: time.Hour}, 5); err != nil || g != 5 {
		t.Fatalf("Take over a garbage state = %d, %v", g, err)
	}
	// A foreign message on the hint channel is a Resync.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := watch(wctx, s)
	w.subscribed(t)
	must(t, raw.Publish(ctx, "{"+s.Prefix()+"}:hints", "no-colon").Err())
	if h := nextHint(t, w.hints); !h.Resync {
		t.Fatalf("hint for a foreign message = %+v, want Resync", h)
	}
}

func TestPeriodicResync(t *testing.T) {
	srv := redistest.Start(t)
	s, _ := newStoreOn(t, srv.Client(), redisstore.WithResyncEvery(50*time.Millisecond), redisstore.WithPingEvery(200*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := watch(ctx, s)
	w.subscribed(t)
	for i := range 3 {
		if h := nextHint(t, w.hints); !h.Resync {
			t.Fatalf("hint %d = %+v, want a periodic Resync", i, h)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
