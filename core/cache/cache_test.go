package cache_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/cache"
)

var errDown = errors.New("dependency down")

func newCache(t testing.TB, cfg cache.Config) *cache.Cache {
	t.Helper()
	c, err := cache.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCacheStaleOnlyWithinMaxStaleness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, cache.Config{MaxStaleness: time.Minute, MaxEntries: 10})
		ok := func(context.Context) (string, error) { return "good", nil }
		down := func(context.Context) (string, error) { return "", errDown }
		if v, a, err := cache.Do(context.Background(), c, "k", ok); v != "good" || a.Source != cache.Called || err != nil {
			t.Fatalf("fill = %q, %+v, %v", v, a, err)
		}
		time.Sleep(time.Minute)
		v, a, err := cache.Do(context.Background(), c, "k", down)
		if v != "good" || err != nil || !a.IsStale() || a.Age != time.Minute || !errors.Is(a.Err, errDown) {
			t.Fatalf("at max staleness: %q, %+v, %v; want the stale value, a minute old", v, a, err)
		}
		time.Sleep(time.Nanosecond)
		if v, a, err := cache.Do(context.Background(), c, "k", down); !errors.Is(err, errDown) || a.IsStale() || v != "" {
			t.Fatalf("past max staleness: %q, %+v, %v; want the error", v, a, err)
		}
		if st := c.Stats(); st.StaleServed != 1 || st.StaleMissing != 1 || st.Fills != 3 {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestCacheGetAtExplicitTime(t *testing.T) {
	c := newCache(t, cache.Config{MaxStaleness: time.Second, MaxEntries: 10})
	t0 := time.Unix(1000, 0)
	c.SetAt("k", 1, t0)
	if v, age, ok := c.GetAt("k", t0.Add(time.Second)); !ok || v != 1 || age != time.Second {
		t.Fatalf("GetAt at max staleness = %v, %v, %v", v, age, ok)
	}
	if _, _, ok := c.GetAt("k", t0.Add(time.Second+1)); ok {
		t.Fatal("GetAt past max staleness answered")
	}
	if st := c.Stats(); st.Entries != 0 {
		t.Errorf("the expired entry was kept: %+v", st)
	}
}

func TestCacheFreshHitSkipsTheCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, cache.Config{MaxStaleness: time.Hour, TTL: time.Second, MaxEntries: 10})
		var calls atomic.Int32
		fn := func(context.Context) (int, error) { return int(calls.Add(1)), nil }
		cache.Do(context.Background(), c, "k", fn)
		time.Sleep(time.Second)
		if v, a, _ := cache.Do(context.Background(), c, "k", fn); v != 1 || a.Source != cache.Fresh {
			t.Fatalf("within the TTL: %d, %+v; want the fresh value", v, a)
		}
		time.Sleep(time.Nanosecond)
		if v, a, _ := cache.Do(context.Background(), c, "k", fn); v != 2 || a.Source != cache.Called {
			t.Fatalf("past the TTL: %d, %+v; want a new call", v, a)
		}
	})
}

func TestCacheConcurrentFillsRunTheDependencyOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, cache.Config{MaxStaleness: time.Hour, MaxEntries: 10})
		var calls atomic.Int32
		fn := func(context.Context) (int, error) {
			calls.Add(1)
			time.Sleep(10 * time.Millisecond)
			return 7, nil
		}
		var wg sync.WaitGroup
		var shared atomic.Int32
		for range 50 {
			wg.Go(func() {
				v, a, err := cache.Do(context.Background(), c, "k", fn)
				if v != 7 || err != nil {
					t.Errorf("Do = %d, %v", v, err)
				}
				if a.Source == cache.Shared {
					shared.Add(1)
				}
			})
		}
		wg.Wait()
		if calls.Load() != 1 || shared.Load() != 49 {
			t.Fatalf("%d calls, %d shared answers; want 1 and 49", calls.Load(), shared.Load())
		}
	})
}

func TestCacheWaiterLeavesWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, cache.Config{MaxStaleness: time.Hour, MaxEntries: 10})
		filled := make(chan struct{})
		go func() {
			defer close(filled)
			cache.Do(context.Background(), c, "k", func(context.Context) (int, error) {
				time.Sleep(time.Hour)
				return 1, nil
			})
		}()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if _, _, err := cache.Do(ctx, c, "k", func(context.Context) (int, error) { return 2, nil }); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("waiter = %v; want its deadline", err)
		}
		<-filled
	})
}

func TestCachePanickingFillDoesNotAnswerWaitersWithZero(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newCache(t, cache.Config{MaxStaleness: time.Hour, MaxEntries: 10})
		release := make(chan struct{})
		go func() {
			defer func() { _ = recover() }()
			cache.Do(context.Background(), c, "k", func(context.Context) (int, error) {
				<-release
				panic("boom")
			})
		}()
		synctest.Wait()
		done := make(chan error)
		go func() {
			_, _, err := cache.Do(context.Background(), c, "k", func(context.Context) (int, error) { return 1, nil })
			done <- err
		}()
		synctest.Wait()
		close(release)
		if err := <-done; !errors.Is(err, cache.ErrFillAbandoned) {
			t.Fatalf("waiter = %v; want ErrFillAbandoned", err)
		}
	})
}

func TestCacheBoundedByEntriesAndBytes(t *testing.T) {
	now := time.Unix(0, 0)
	c := newCache(t, cache.Config{MaxStaleness: time.Hour, MaxEntries: 3})
	for i := range 5 {
		c.SetAt(fmt.Sprint(i), i, now)
	}
	c.GetAt("2", now) // 2 is now the most recent
	c.SetAt("5", 5, now)
	for k, want := range map[string]bool{"0": false, "1": false, "2": true, "3": false, "4": true, "5": true} {
		if _, _, ok := c.GetAt(k, now); ok != want {
			t.Errorf("key %s kept = %v; want %v", k, ok, want)
		}
	}
	b := newCache(t, cache.Config{MaxStaleness: time.Hour, MaxEntries: 100, MaxBytes: 3 * (cache.EntryOverhead + 1 + 100)})
	for i := range 10 {
		b.SetAt(fmt.Sprint(i), strings.Repeat("x", 100-16), now)
	}
	if st := b.Stats(); st.Entries != 3 || st.Bytes > 3*(cache.EntryOverhead+101) || st.Evictions != 7 {
		t.Errorf("byte-bounded cache: %+v; want 3 entries", st)
	}
	b.SetAt("huge", strings.Repeat("x", 10000), now)
	if _, _, ok := b.GetAt("huge", now); ok {
		t.Error("a value bigger than maxBytes was kept")
	}
}

// TestCacheMemoryBoundedUnderAMillionKeys fills a cache bounded at 10,000
// entries with a million distinct keys and checks the heap it holds.
func TestCacheMemoryBoundedUnderAMillionKeys(t *testing.T) {
	const maxEntries = 10_000
	keys := 1_000_000
	if raceEnabled {
		keys = 100_000
	}
	held := millionKeys(t, keys, maxEntries)
	t.Logf("%d distinct keys, %d entries kept: %d bytes of heap held (%d per entry)", keys, maxEntries, held, held/maxEntries)
	if limit := uint64(maxEntries * 400); held > limit {
		t.Errorf("the cache holds %d bytes after %d keys; want at most %d", held, keys, limit)
	}
}

func millionKeys(t testing.TB, keys, maxEntries int) uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	c := newCache(t, cache.Config{MaxStaleness: time.Hour, MaxEntries: maxEntries})
	now := time.Unix(0, 0)
	var key [16]byte
	for i := range keys {
		c.SetAt(string(fmt.Appendf(key[:0], "key-%d", i)), i, now)
	}
	if st := c.Stats(); st.Entries != maxEntries || st.Evictions != uint64(keys-maxEntries) {
		t.Fatalf("stats %+v", st)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	runtime.KeepAlive(c)
	if ms.HeapAlloc < before {
		return 0
	}
	return ms.HeapAlloc - before
}

func BenchmarkCacheMillionKeys(b *testing.B) {
	for b.Loop() {
		held := millionKeys(b, 1_000_000, 10_000)
		b.ReportMetric(float64(held), "heap-bytes")
	}
}

// mapStore is a Store kept in a map, with ages measured on its own clock.
type mapStore struct {
	mu sync.Mutex
	m  map[string]struct {
		v  any
		at time.Time
	}
}

func (s *mapStore) Get(_ context.Context, key string) (any, time.Duration, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	return e.v, time.Since(e.at), ok, nil
}

func (s *mapStore) Set(_ context.Context, key string, v any, age time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]struct {
			v  any
			at time.Time
		}{}
	}
	s.m[key] = struct {
		v  any
		at time.Time
	}{v, time.Now().Add(-age)}
	return nil
}

func TestCacheStoreAnswersAnotherInstance(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &mapStore{}
		a := newCache(t, cache.Config{MaxStaleness: time.Minute, MaxEntries: 10, Store: st})
		b := newCache(t, cache.Config{MaxStaleness: time.Minute, MaxEntries: 10, Store: st})
		cache.Do(context.Background(), a, "k", func(context.Context) (string, error) { return "from a", nil })
		time.Sleep(30 * time.Second)
		v, ans, err := cache.Do(context.Background(), b, "k", func(context.Context) (string, error) { return "", errDown })
		if v != "from a" || err != nil || !ans.IsStale() || ans.Age != 30*time.Second {
			t.Fatalf("b = %q, %+v, %v; want a's value, stale, 30s old", v, ans, err)
		}
		time.Sleep(31 * time.Second)
		if _, _, err := cache.Do(context.Background(), b, "k2", func(context.Context) (string, error) { return "", errDown }); err == nil {
			t.Fatal("an unknown key answered")
		}
	})
}

func TestCacheConfigRefusesBadFieldsByName(t *testing.T) {
	for _, tc := range []struct {
		cfg  cache.Config
		want string
	}{
		{cache.Config{MaxEntries: 1}, "maxStaleness: 0s must be above 0"},
		{cache.Config{MaxStaleness: -time.Second, MaxEntries: 1}, "maxStaleness: -1s"},
		{cache.Config{MaxStaleness: time.Second}, "maxEntries: 0 must be at least 1"},
		{cache.Config{MaxStaleness: time.Second, MaxEntries: 1, MaxBytes: -1}, "maxBytes: -1"},
		{cache.Config{MaxStaleness: time.Second, MaxEntries: 1, TTL: time.Minute}, "ttl: 1m0s"},
	} {
		_, err := cache.New(tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v; want %q", tc.cfg, err, tc.want)
		}
	}
}
