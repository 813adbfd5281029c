package fleet_test

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/fleet"
)

// joinLimiters joins n empty registries to store and returns their agents.
func joinLimiters(t *testing.T, n int, store func() fleet.Store) []*fleet.Agent {
	as := make([]*fleet.Agent, n)
	for i := range as {
		reg, _ := core.NewRegistry()
		a, err := fleet.Join(reg, store(), fleet.WithReplicaID(fmt.Sprintf("r%d", i)), fleet.WithHeartbeat(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close() })
		as[i] = a
	}
	return as
}

// hammer calls Allow on each limiter every `every` for d, and returns the
// calls admitted.
func hammer(ls []*fleet.GlobalLimiter, every, d time.Duration) int {
	var mu sync.Mutex
	admitted := 0
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for _, l := range ls {
		wg.Go(func() {
			n := 0
			for time.Now().Before(end) {
				if l.Allow() {
					n++
				}
				time.Sleep(every)
			}
			mu.Lock()
			admitted += n
			mu.Unlock()
		})
	}
	wg.Wait()
	return admitted
}

// TestGlobalLimitAcrossReplicas: eight replicas hammering one 1,000/s key
// for 5s admit the limit (plus the burst) within 1%, with far fewer round
// trips than calls.
func TestGlobalLimitAcrossReplicas(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := fleet.NewMemoryStore()
		as := joinLimiters(t, 8, func() fleet.Store { return m.Client() })
		rate := fleet.Rate{Limit: 1000, Period: time.Second}
		ls := make([]*fleet.GlobalLimiter, len(as))
		for i, a := range as {
			ls[i] = a.Limiter("checkout", rate)
		}
		synctest.Wait()
		admitted := hammer(ls, time.Millisecond, 5*time.Second) // 8,000 calls/s asked
		want := 5*1000 + 1000                                   // 5s at the limit, plus the burst
		// Never over by more than 1%; under by at most 2% (what accrued on
		// the server in the last over-limit wait is not taken before the
		// end: an end effect, not a loss of capacity).
		if diff := float64(admitted-want) / float64(want); diff > 0.01 || diff < -0.02 {
			t.Fatalf("admitted %d in 5s at 1000/s (burst 1000), want %d (+1%%, -2%%)", admitted, want)
		}
		var trips, byFailure uint64
		var unspent int64
		for _, l := range ls {
			s := l.Stats()
			trips += s.RoundTrips
			byFailure += s.AllowedByFailureMode
			unspent += s.Tokens
		}
		t.Logf("unspent prefetched tokens at the end: %d", unspent)
		if byFailure != 0 {
			t.Errorf("%d calls admitted by failure mode with the store up", byFailure)
		}
		t.Logf("admitted %d (want %d), %d round trips: %.3f per admitted call", admitted, want, trips, float64(trips)/float64(admitted))
		if trips*5 > uint64(admitted) {
			t.Errorf("%d round trips for %d admitted calls: prefetch is not batching", trips, admitted)
		}
	})
}

// TestGlobalLimitFailureMode: with the store down, each replica admits its
// local share (limit / expected replicas), counted; FailClosed rejects.
func TestGlobalLimitFailureMode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := fleet.NewMemoryStore()
		m.SetDown(true)
		as := joinLimiters(t, 1, func() fleet.Store { return m })
		l := as[0].Limiter("k", fleet.Rate{Limit: 100, Period: time.Second}, fleet.ExpectedReplicas(4))
		closed := as[0].Limiter("k2", fleet.Rate{Limit: 100, Period: time.Second}, fleet.FailClosed())
		synctest.Wait()
		admitted := hammer([]*fleet.GlobalLimiter{l}, time.Millisecond, 10*time.Second)
		want := 25*10 + 25 // 25/s for 10s, plus a burst of 25
		if admitted < want-5 || admitted > want+5 {
			t.Fatalf("store down: admitted %d in 10s, want about %d (100/s over 4 replicas)", admitted, want)
		}
		if s := l.Stats(); s.AllowedByFailureMode != uint64(admitted) || !s.Degraded {
			t.Fatalf("stats %+v, want every admission counted as failure mode", s)
		}
		if h := as[0].Health(); h.AllowedByFailureMode != uint64(admitted) {
			t.Fatalf("health counts %d failure-mode admissions, want %d", h.AllowedByFailureMode, admitted)
		}
		if closed.Allow() {
			t.Fatal("FailClosed limiter admitted a call with the store down")
		}
		// The store comes back: tokens come from it again.
		m.SetDown(false)
		time.Sleep(2 * time.Second)
		before := l.Stats().AllowedByFailureMode
		hammer([]*fleet.GlobalLimiter{l}, 10*time.Millisecond, time.Second)
		if s := l.Stats(); s.AllowedByFailureMode != before || s.Degraded {
			t.Fatalf("store back: %+v, want no more failure-mode admissions", s)
		}
	})
}

// plainStore hides MemoryStore's RateStore.
type plainStore struct{ fleet.Store }

// TestGlobalLimitWithoutRateStore: a store that cannot run rate limits
// gives each replica its local share.
func TestGlobalLimitWithoutRateStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		as := joinLimiters(t, 1, func() fleet.Store { return plainStore{fleet.NewMemoryStore()} })
		l := as[0].Limiter("k", fleet.Rate{Limit: 10, Period: time.Second, Burst: 2}, fleet.ExpectedReplicas(2))
		synctest.Wait()
		admitted := hammer([]*fleet.GlobalLimiter{l}, 10*time.Millisecond, 10*time.Second)
		if admitted < 49 || admitted > 53 {
			t.Fatalf("admitted %d in 10s, want about 51 (5/s, burst 1)", admitted)
		}
	})
}
