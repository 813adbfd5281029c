package redisstore_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/breakerbox/breakerbox/fleet"
	"github.com/breakerbox/breakerbox/fleet/redisstore"
	"github.com/breakerbox/breakerbox/fleet/redisstore/internal/redistest"
)

// workload runs a replica's mix of store calls (each with the 100 ms
// timeout Join gives it) until stop, counting successes and failures; it
// is what a fleet keeps doing while its Redis fails over.
type workload struct {
	ok, failed atomic.Int64
	lastErr    atomic.Value
	stop       chan struct{}
	done       sync.WaitGroup
}

func startWorkload(s *redisstore.Store, replicas int) *workload {
	w := &workload{stop: make(chan struct{})}
	for r := range replicas {
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			for i := 0; ; i++ {
				select {
				case <-w.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
				var err error
				switch i % 4 {
				case 0:
					err = s.Put(ctx, fleet.KindVerdict, fmt.Sprintf("g/r%d", r), []byte("open"), 5*time.Second)
				case 1:
					_, err = s.List(ctx, fleet.KindVerdict)
				case 2:
					_, _, err = s.Create(ctx, fleet.KindLease, "g", []byte(fmt.Sprint(r)), 50*time.Millisecond)
				case 3:
					_, _, err = s.Take(ctx, "global", fleet.Rate{Limit: 1000, Period: time.Second}, 10)
				}
				cancel()
				if err != nil {
					w.failed.Add(1)
					w.lastErr.Store(err.Error())
					time.Sleep(10 * time.Millisecond)
				} else {
					w.ok.Add(1)
				}
			}
		}()
	}
	return w
}

func (w *workload) end() { close(w.stop); w.done.Wait() }

// rewatch watches like Join: again after every return, until ctx ends;
// it forwards hints to the channel.
func rewatch(ctx context.Context, s *redisstore.Store, hints chan<- fleet.Hint) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			_ = s.Watch(ctx, func(h fleet.Hint) {
				select {
				case hints <- h:
				default:
				}
			})
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return &wg
}

// waitHintFor waits until a hint for key arrives, putting it again now and
// then (a hint published while no watch was subscribed is lost).
func waitHintFor(t *testing.T, s *redisstore.Store, hints <-chan fleet.Hint, key string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		_ = s.Put(ctx, fleet.KindOverride, key, []byte("v"), time.Minute)
		cancel()
		timeout := time.After(500 * time.Millisecond)
		for {
			select {
			case h := <-hints:
				if h.Key == key {
					return
				}
				continue
			case <-timeout:
			}
			break
		}
	}
	t.Fatalf("no hint for %q", key)
}

// eventually retries op (100 ms each) until it succeeds.
func eventually(t *testing.T, what string, op func(ctx context.Context) error) {
	t.Helper()
	var last error
	redistest.WaitFor(t, what, 30*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		last = op(ctx)
		return last == nil
	})
	_ = last
}

func TestContractCluster(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cluster.Addrs()})
	t.Cleanup(func() { client.Close() })
	runContract(t, func(t *testing.T) (*redisstore.Store, *redisstore.Store) {
		return newStoreOn(t, client, redisstore.WithResyncEvery(0))
	})
	t.Run("Conformance", func(t *testing.T) { conformance(t, client) })

	t.Run("Failover", func(t *testing.T) {
		s, err := redisstore.New(client, redisstore.WithFleet("failover"), redisstore.WithPingEvery(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		master := cluster.MasterOf(s.Key(fleet.KindVerdict, "x"))
		replica := cluster.AddReplica(master)

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := s.Put(ctx, fleet.KindOverride, "before", []byte("kept"), time.Minute); err != nil {
			t.Fatal(err)
		}
		v1, _ := s.NextVersion(ctx)
		hints := make(chan fleet.Hint, 256)
		watching := rewatch(ctx, s, hints)
		waitHintFor(t, s, hints, "warm")

		w := startWorkload(s, 4)
		redistest.WaitFor(t, "the workload to run", 10*time.Second, func() bool { return w.ok.Load() > 50 })
		cluster.Failover(replica)
		okAtFailover := w.ok.Load()
		redistest.WaitFor(t, "the workload to go on after the failover", 30*time.Second, func() bool {
			return w.ok.Load() > okAtFailover+50
		})
		w.end()
		t.Logf("workload: %d calls ok, %d failed (last: %v)", w.ok.Load(), w.failed.Load(), w.lastErr.Load())

		// What was written before the failover is still there, the
		// version counter goes on, and hints still arrive.
		eventually(t, "Get after failover", func(ctx context.Context) error {
			e, ok, err := s.Get(ctx, fleet.KindOverride, "before")
			if err == nil && (!ok || string(e.Value) != "kept") {
				t.Fatalf("key written before the failover: %+v %v", e, ok)
			}
			return err
		})
		v2, err := s.NextVersion(ctx)
		if err != nil || v2 <= v1 {
			t.Fatalf("NextVersion after failover = %d, %v (before: %d)", v2, err, v1)
		}
		waitHintFor(t, s, hints, "after")
		if role := master.Info("role"); role != "slave" {
			t.Fatalf("old master's role = %q, want slave", role)
		}

		// Now the new master dies: the cluster promotes its replica (the
		// first master) on its own, after the node timeout, and the
		// store goes on.
		if err := s.Put(ctx, fleet.KindOverride, "before-kill", []byte("kept"), time.Minute); err != nil {
			t.Fatal(err)
		}
		offset := replica.Info("master_repl_offset")
		redistest.WaitFor(t, "the replica to hold the write", 10*time.Second, func() bool {
			a, _ := strconv.ParseInt(master.Info("master_repl_offset"), 10, 64)
			b, _ := strconv.ParseInt(offset, 10, 64)
			return b > 0 && a >= b
		})
		w = startWorkload(s, 4)
		replica.Kill()
		redistest.WaitFor(t, "the replica to take over from the dead master", 30*time.Second, func() bool {
			return master.Info("role") == "master"
		})
		okAtTakeover := w.ok.Load()
		redistest.WaitFor(t, "the workload to go on after the takeover", 30*time.Second, func() bool {
			return w.ok.Load() > okAtTakeover+50
		})
		w.end()
		t.Logf("workload across the kill: %d calls ok, %d failed (last: %v)", w.ok.Load(), w.failed.Load(), w.lastErr.Load())
		eventually(t, "Get after the takeover", func(ctx context.Context) error {
			e, ok, err := s.Get(ctx, fleet.KindOverride, "before-kill")
			if err == nil && (!ok || string(e.Value) != "kept") {
				t.Fatalf("key written before the kill: %+v %v", e, ok)
			}
			return err
		})
		waitHintFor(t, s, hints, "after-kill")
		cancel()
		watching.Wait()
	})
}

func TestContractSentinel(t *testing.T) {
	sen := redistest.StartSentinel(t, 1)
	client := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:    sen.Name,
		SentinelAddrs: sen.Addrs(),
	})
	t.Cleanup(func() { client.Close() })
	runContract(t, func(t *testing.T) (*redisstore.Store, *redisstore.Store) {
		return newStoreOn(t, client, redisstore.WithResyncEvery(0))
	})
	t.Run("Conformance", func(t *testing.T) { conformance(t, client) })

	t.Run("Failover", func(t *testing.T) {
		s, err := redisstore.New(client, redisstore.WithFleet("failover"), redisstore.WithPingEvery(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := s.Put(ctx, fleet.KindOverride, "before", []byte("kept"), time.Minute); err != nil {
			t.Fatal(err)
		}
		v1, _ := s.NextVersion(ctx)
		redistest.WaitFor(t, "the replica to catch up", 10*time.Second, func() bool {
			v, err := sen.Replica.Do("GET", s.Key(fleet.KindOverride, "before"))
			return err == nil && v != nil
		})
		hints := make(chan fleet.Hint, 256)
		watching := rewatch(ctx, s, hints)
		waitHintFor(t, s, hints, "warm")

		w := startWorkload(s, 4)
		redistest.WaitFor(t, "the workload to run", 10*time.Second, func() bool { return w.ok.Load() > 50 })
		old := sen.Primary
		sen.Failover()
		okAtFailover := w.ok.Load()
		redistest.WaitFor(t, "the workload to go on after the failover", 30*time.Second, func() bool {
			return w.ok.Load() > okAtFailover+50
		})
		w.end()
		t.Logf("workload: %d calls ok, %d failed (last: %v)", w.ok.Load(), w.failed.Load(), w.lastErr.Load())

		eventually(t, "Get after failover", func(ctx context.Context) error {
			e, ok, err := s.Get(ctx, fleet.KindOverride, "before")
			if err == nil && (!ok || string(e.Value) != "kept") {
				t.Fatalf("key written before the failover: %+v %v", e, ok)
			}
			return err
		})
		v2, err := s.NextVersion(ctx)
		if err != nil || v2 <= v1 {
			t.Fatalf("NextVersion after failover = %d, %v (before: %d)", v2, err, v1)
		}
		// Writes land on the new primary, once the client has learnt of
		// the switch (until then the old primary, not yet demoted by
		// Sentinel, may take writes that are lost: Redis replication is
		// asynchronous).
		eventually(t, "a write on the new primary", func(ctx context.Context) error {
			if err := s.Put(ctx, fleet.KindOverride, "after", []byte("x"), time.Minute); err != nil {
				return err
			}
			if v, err := sen.Primary.Do("GET", s.Key(fleet.KindOverride, "after")); err != nil || v == nil {
				return fmt.Errorf("the new primary does not hold the write: %v %v", v, err)
			}
			return nil
		})
		waitHintFor(t, s, hints, "after-hint")
		redistest.WaitFor(t, "Sentinel to demote the old primary", 30*time.Second, func() bool {
			return old.Info("role") == "slave"
		})
		cancel()
		watching.Wait()
	})
}
