package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

// Benchmark scenarios: "admit" has a limit no caller can reach (every call is
// admitted: the compare-and-swap path), "reject" an exhausted limit (every
// call is rejected: a read-only path).
var benchScenarios = []struct {
	name string
	cfg  Config
}{
	{"admit", Config{Limit: 1e9, Per: time.Second}},
	{"reject", Config{Limit: 1, Per: time.Hour, Burst: 1}},
}

func benchLimiters(b *testing.B, run func(b *testing.B, l nLimiter)) {
	for _, algo := range algorithms {
		for _, sc := range benchScenarios {
			cfg := sc.cfg
			cfg.Algorithm = algo
			if algo == AlgorithmSlidingWindow && sc.name == "admit" {
				cfg = Config{Algorithm: algo, Limit: maxWindowLimit, Per: time.Millisecond}
			}
			for _, precise := range []bool{false, true} {
				cfg.Precise = precise
				name := algo.String() + "/" + sc.name
				if precise {
					name += "/precise"
				}
				b.Run(name, func(b *testing.B) {
					l := mustNew(b, cfg)
					l.Allow()
					b.ReportAllocs()
					run(b, l)
				})
			}
		}
	}
}

func BenchmarkAllow(b *testing.B) {
	benchLimiters(b, func(b *testing.B, l nLimiter) {
		for b.Loop() {
			l.Allow()
		}
	})
}

func BenchmarkAllowParallel(b *testing.B) {
	benchLimiters(b, func(b *testing.B, l nLimiter) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow()
			}
		})
	})
}

func BenchmarkAllowAt(b *testing.B) {
	l, _ := NewGCRA(Config{Limit: 1e9})
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		l.AllowAt(now)
	}
}

func BenchmarkRetryAfter(b *testing.B) {
	for _, algo := range algorithms {
		b.Run(algo.String(), func(b *testing.B) {
			l := mustNew(b, Config{Algorithm: algo, Limit: 1, Per: time.Hour, Burst: 1})
			l.Allow()
			b.ReportAllocs()
			for b.Loop() {
				l.RetryAfter()
			}
		})
	}
}

func BenchmarkSnapshot(b *testing.B) {
	l, _ := NewTokenBucket(Config{Limit: 10})
	b.ReportAllocs()
	for b.Loop() {
		l.Snapshot()
	}
}

func BenchmarkWaitImmediate(b *testing.B) {
	l, _ := NewTokenBucket(Config{Limit: 1e9})
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		l.Wait(ctx)
	}
}

func BenchmarkKeyedAllow(b *testing.B) {
	k, _ := NewKeyed(KeyedConfig{Config: Config{Limit: 1e9}, MaxKeys: 100000})
	key := "tenant-42"
	k.Allow(key)
	b.ReportAllocs()
	for b.Loop() {
		k.Allow(key)
	}
}

func BenchmarkKeyedAllowParallel(b *testing.B) {
	k, _ := NewKeyed(KeyedConfig{Config: Config{Limit: 1e9}, MaxKeys: 100000})
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = "tenant-" + strconv.Itoa(i)
		k.Allow(keys[i])
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			k.Allow(keys[i&1023])
			i += 7
		}
	})
}

func BenchmarkKeyedNewKeys(b *testing.B) {
	k, _ := NewKeyed(KeyedConfig{Config: Config{Limit: 10}, MaxKeys: 10000})
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = "ip-" + strconv.Itoa(i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k.Allow(keys[i&(1<<16-1)])
		i++
	}
}
