package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func mustKeyed(t testing.TB, cfg KeyedConfig) *Keyed {
	t.Helper()
	k, err := NewKeyed(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestKeyedKeysAreIndependent(t *testing.T) {
	for _, algo := range algorithms {
		k := mustKeyed(t, KeyedConfig{Config: Config{Algorithm: algo, Limit: 2, Per: time.Minute}})
		for _, key := range []string{"a", "b"} {
			if !k.AllowN(key, t0, 1) || !k.AllowN(key, t0, 1) || k.AllowN(key, t0, 1) {
				t.Errorf("%v: key %s: limit of 2 not enforced", algo, key)
			}
		}
		if ra := k.RetryAfterN("a", t0, 1); ra <= 0 {
			t.Errorf("%v: RetryAfterN(t, 1) = %v", algo, ra)
		}
		if ra := k.RetryAfterN("c", t0, 1); ra != 0 || k.Len() != 2 {
			t.Errorf("%v: RetryAfterN(t, 1) of an unknown key = %v (and made %d keys)", algo, ra, k.Len())
		}
		if ra := k.RetryAfterN("c", t0, 3); ra != neverD {
			t.Errorf("%v: RetryAfterN(3) of an unknown key = %v", algo, ra)
		}
		s := k.Snapshot()
		if s.Keys != 2 || s.Allowed != 4 || s.Rejected != 2 {
			t.Errorf("%v: Snapshot = %+v", algo, s)
		}
	}
}

func TestKeyedEvictsLeastRecentlyUsed(t *testing.T) {
	k := mustKeyed(t, KeyedConfig{Config: Config{Limit: 1, Per: time.Hour}, MaxKeys: 3})
	s := time.Second // the LRU order's resolution with the default IdleTimeout
	for i, key := range []string{"a", "b", "c", "a"} {
		k.AllowN(key, at(time.Duration(i)*s), 1)
	}
	k.AllowN("d", at(4*s), 1) // full: b is the least recently used
	if k.Len() != 3 {
		t.Fatalf("Len = %d, want 3", k.Len())
	}
	if k.AllowN("a", at(5*s), 1) || k.AllowN("c", at(5*s), 1) || k.AllowN("d", at(5*s), 1) {
		t.Error("a kept key lost its state")
	}
	if !k.AllowN("b", at(5*s), 1) {
		t.Error("b was not the one evicted")
	}
	if s := k.Snapshot(); s.Evicted != 2 || s.Expired != 0 { // b, then a for b
		t.Errorf("Evicted %d, Expired %d", s.Evicted, s.Expired)
	}
}

func TestKeyedExpiresIdleKeysAtRest(t *testing.T) {
	k := mustKeyed(t, KeyedConfig{Config: Config{Limit: 1, Burst: 1}, MaxKeys: 3, IdleTimeout: time.Second})
	for _, key := range []string{"a", "b", "c"} {
		k.AllowN(key, t0, 1)
	}
	k.AllowN("slow", t0, 1) // evicts a: nothing idle yet
	if s := k.Snapshot(); s.Evicted != 1 || s.Expired != 0 {
		t.Fatalf("Evicted %d, Expired %d", s.Evicted, s.Expired)
	}
	// At +2s every key is idle and back at rest: the new key expires them
	// rather than evicting.
	k.AllowN("d", at(2*time.Second), 1)
	if s := k.Snapshot(); s.Evicted != 1 || s.Expired != 3 || s.Keys != 1 {
		t.Errorf("Evicted %d, Expired %d, Keys %d", s.Evicted, s.Expired, s.Keys)
	}
}

func TestKeyedKeepsKeysNotAtRest(t *testing.T) {
	k := mustKeyed(t, KeyedConfig{Config: Config{Limit: 1, Per: time.Hour, Burst: 1}, MaxKeys: 10, IdleTimeout: time.Second})
	k.AllowN("a", t0, 1)
	if n := k.PruneAt(at(time.Minute)); n != 0 || k.Len() != 1 {
		t.Errorf("Prune removed %d keys of which one was in use", n)
	}
	if k.AllowN("a", at(time.Minute), 1) {
		t.Error("the key's state was lost")
	}
	if n := k.PruneAt(at(2 * time.Hour)); n != 1 || k.Len() != 0 {
		t.Errorf("Prune at rest removed %d, left %d", n, k.Len())
	}
}

func TestKeyedPrune(t *testing.T) {
	k := mustKeyed(t, KeyedConfig{Config: Config{Algorithm: AlgorithmSlidingWindow, Limit: 5}, IdleTimeout: 10 * time.Second})
	for i := range 100 {
		k.AllowN(strconv.Itoa(i), at(time.Duration(i)*time.Second), 1)
	}
	// New keys expired some of the old ones already (two each at most).
	expired := k.Snapshot().Expired
	if expired == 0 || expired > 91 {
		t.Errorf("new keys expired %d", expired)
	}
	// At +100s keys 0..90 are idle for 10s or more; their windows are empty.
	if n := k.PruneAt(at(100 * time.Second)); uint64(n) != 91-expired {
		t.Errorf("Prune removed %d, want %d", n, 91-expired)
	}
	if k.Len() != 9 || k.Snapshot().Expired != 91 {
		t.Errorf("Len %d, Expired %d", k.Len(), k.Snapshot().Expired)
	}
}

// TestKeyedFloodIsBounded: a flood of distinct keys never grows the table past
// MaxKeys, sharded or not.
func TestKeyedFloodIsBounded(t *testing.T) {
	for _, maxKeys := range []int{100, 2000} {
		k := mustKeyed(t, KeyedConfig{Config: Config{Limit: 10}, MaxKeys: maxKeys})
		for i := range 20000 {
			k.AllowN(fmt.Sprint("flood-", i), t0, 1)
			if i%1000 == 0 && k.Len() > maxKeys {
				t.Fatalf("%d keys, max %d", k.Len(), maxKeys)
			}
		}
		s := k.Snapshot()
		if s.Keys > maxKeys || s.Keys < maxKeys*9/10 {
			t.Errorf("MaxKeys %d: %d keys kept", maxKeys, s.Keys)
		}
		if s.Evicted+uint64(s.Keys) != 20000 {
			t.Errorf("MaxKeys %d: evicted %d + kept %d != 20000", maxKeys, s.Evicted, s.Keys)
		}
		if s.Config.MaxKeys != maxKeys || s.Config.IdleTimeout != time.Minute {
			t.Errorf("Config = %+v", s.Config)
		}
	}
}

func TestKeyedSetLimit(t *testing.T) {
	k := mustKeyed(t, KeyedConfig{Config: Config{Limit: 10, Burst: 10}})
	k.AllowN("a", t0, 7)
	if err := k.SetLimitAt(t0, Config{Limit: 100, Burst: 5}); err != nil {
		t.Fatal(err)
	}
	if !k.AllowN("a", t0, 3) || k.AllowN("a", t0, 1) {
		t.Error("existing key: 3 tokens not kept")
	}
	if !k.AllowN("b", t0, 5) || k.AllowN("b", t0, 1) {
		t.Error("new key: not the new burst of 5")
	}
	if err := k.SetLimit(Config{Algorithm: AlgorithmGCRA, Limit: 1}); err == nil {
		t.Error("SetLimit changed the algorithm")
	}
	if got := k.Config().Limit; got != 100 {
		t.Errorf("Config().Limit = %v", got)
	}
}

func TestKeyedConcurrent(t *testing.T) {
	k := mustKeyed(t, KeyedConfig{Config: Config{Limit: 1, Burst: 50}, MaxKeys: 2000})
	keys := []string{"a", "b", "c", "d", "e"}
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := map[string]int{}
	for g := range 8 {
		wg.Go(func() {
			local := map[string]int{}
			for i := range 500 {
				key := keys[(g+i)%len(keys)]
				if k.AllowN(key, t0, 1) {
					local[key]++
				}
			}
			mu.Lock()
			for key, n := range local {
				admitted[key] += n
			}
			mu.Unlock()
		})
	}
	for i := range 100 {
		wg.Go(func() { k.AllowN(fmt.Sprint("other-", i), t0, 1); k.PruneAt(t0) })
	}
	wg.Wait()
	for _, key := range keys {
		if admitted[key] != 50 {
			t.Errorf("key %s admitted %d, want 50", key, admitted[key])
		}
	}
}

func TestKeyedWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := mustKeyed(t, KeyedConfig{Config: Config{Limit: 1, Burst: 1}})
		start := time.Now()
		if !k.Allow("a") || k.Allow("a") || !k.AllowN("b", time.Now(), 1) {
			t.Fatal("limits not enforced")
		}
		if ra := k.RetryAfter("a"); ra != time.Second {
			t.Errorf("RetryAfter = %v", ra)
		}
		if err := k.Wait(t.Context(), "a"); err != nil || time.Since(start) != time.Second {
			t.Errorf("Wait = %v after %v", err, time.Since(start))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		if err := k.Wait(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait = %v", err)
		}
		if err := k.Wait(ctx, "a"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Wait on a done context = %v", err)
		}
		if n := k.Prune(); n != 0 {
			t.Errorf("Prune removed %d fresh keys", n)
		}
		if s := k.Snapshot(); s.Allowed != 3 || s.Rejected != 3 {
			t.Errorf("counts %d/%d", s.Allowed, s.Rejected)
		}
	})
}

func TestKeyedConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  KeyedConfig
		want string
	}{
		{KeyedConfig{Config: Config{Limit: 1}}, ""},
		{KeyedConfig{Config: Config{Limit: 0}}, "ratelimit: limit: 0 must be > 0"},
		{KeyedConfig{Config: Config{Limit: 1}, MaxKeys: -1}, "ratelimit: maxKeys: -1 must be >= 0"},
		{KeyedConfig{Config: Config{Limit: 1}, IdleTimeout: -time.Second}, "ratelimit: idleTimeout: -1s must be >= 0"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if got := fmt.Sprint(err); tt.want == "" && err != nil || tt.want != "" && got != tt.want {
			t.Errorf("Validate(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
		if _, err2 := NewKeyed(tt.cfg); fmt.Sprint(err2) != fmt.Sprint(err) {
			t.Errorf("NewKeyed and Validate disagree: %v, %v", err2, err)
		}
	}
}

func TestKeyedAllocs(t *testing.T) {
	for _, maxKeys := range []int{100, 5000} {
		for _, algo := range algorithms {
			k := mustKeyed(t, KeyedConfig{Config: Config{Algorithm: algo, Limit: 1e6}, MaxKeys: maxKeys})
			key := "client-203.0.113.7"
			k.Allow(key)
			if n := testing.AllocsPerRun(1000, func() { k.Allow(key) }); n != 0 {
				t.Errorf("%v, %d keys: Allow on an existing key allocates %v", algo, maxKeys, n)
			}
			if n := testing.AllocsPerRun(1000, func() { k.AllowN(key, t0, 1); k.RetryAfterN(key, t0, 1) }); n != 0 {
				t.Errorf("%v, %d keys: AllowN allocates %v", algo, maxKeys, n)
			}
		}
	}
}
