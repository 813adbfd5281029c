package ratelimit

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
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

func benchLimiters(b *testing.B, run func(b *testing.B, l Limiter)) {
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
	benchLimiters(b, func(b *testing.B, l Limiter) {
		for b.Loop() {
			l.Allow()
		}
	})
}

func BenchmarkAllowParallel(b *testing.B) {
	benchLimiters(b, func(b *testing.B, l Limiter) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow()
			}
		})
	})
}

func BenchmarkAllowN(b *testing.B) {
	l, _ := NewGCRA(Config{Limit: 1e9})
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		l.AllowN(now, 1)
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

// BenchmarkAllowSaturated measures how much of its limit a limiter admits
// while every core is busy calling it, the moment at which a rate limit
// matters most: the benchmark's goroutine and GOMAXPROCS-1 others call Allow
// in a busy loop, so the coarse clock's goroutine waits for the scheduler to
// preempt one of them. The limit is saturatedRate calls a second with each
// burst of saturatedBursts (for the sliding window: Limit calls per window
// of Limit/saturatedRate).
//
// It reports admitted/limit, the calls admitted per second after a warm-up
// that takes the initial burst, over the limit; and admitted/exact, the
// calls admitted over those admitted by an exact limiter (the same one with
// Precise set) called at the same moments, one after the other in turn. On a
// machine shared with other work, the callers themselves lose the CPU for
// milliseconds at a time and a small bucket loses the tokens nobody asked
// for: admitted/limit then falls for every limiter, exact ones included,
// while admitted/exact still compares the limiter with an exact one. ns/op
// is the time of one call to each, most of them rejections.
func BenchmarkAllowSaturated(b *testing.B) {
	for _, kind := range []string{"token_bucket", "gcra", "sliding_window", "keyed"} {
		for _, burst := range saturatedBursts {
			for _, precise := range []bool{false, true} {
				name := kind + "/burst=" + strconv.Itoa(burst)
				if precise {
					name += "/precise"
				}
				b.Run(name, func(b *testing.B) {
					benchSaturated(b, saturatedAllow(b, kind, burst, precise), saturatedAllow(b, kind, burst, true), saturatedRate)
				})
			}
		}
	}
}

const saturatedRate = 100_000 // calls per second

var saturatedBursts = []int{1, 10, 100, 10_000}

// saturatedAllow returns the Allow of a limiter of saturatedRate with burst.
func saturatedAllow(b *testing.B, kind string, burst int, precise bool) func() bool {
	cfg := Config{Limit: saturatedRate, Burst: burst, Precise: precise}
	switch kind {
	case "gcra":
		cfg.Algorithm = AlgorithmGCRA
	case "sliding_window":
		cfg = Config{Algorithm: AlgorithmSlidingWindow, Limit: float64(burst),
			Per: time.Duration(burst) * time.Second / saturatedRate, Precise: precise}
	case "keyed":
		k, err := NewKeyed(KeyedConfig{Config: cfg})
		if err != nil {
			b.Fatal(err)
		}
		return func() bool { return k.Allow("tenant-42") }
	}
	return mustNew(b, cfg).Allow
}

// benchSaturated calls allow and ref in a busy loop on every P for the
// benchmark time, and reports the calls allow admitted per second over
// limit, and over the calls ref admitted.
func benchSaturated(b *testing.B, allow, ref func() bool, limit float64) {
	var (
		stop            atomic.Bool
		admitted, exact atomic.Int64
		wg              sync.WaitGroup
	)
	call := func(i int) {
		if i&1 != 0 && ref() {
			exact.Add(1)
		}
		if allow() {
			admitted.Add(1)
		}
		if i&1 == 0 && ref() {
			exact.Add(1)
		}
	}
	for range runtime.GOMAXPROCS(0) - 1 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				call(i)
			}
		})
	}
	defer func() {
		stop.Store(true)
		wg.Wait()
	}()
	// Warm up: take the initial burst, and let the clock's goroutine fall
	// behind as it does under load.
	i := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; i++ {
		call(i)
	}
	a0, e0, t0 := admitted.Load(), exact.Load(), time.Now()
	for b.Loop() {
		call(i)
		i++
	}
	a1, e1, t1 := admitted.Load(), exact.Load(), time.Now()
	b.ReportMetric(float64(a1-a0)/t1.Sub(t0).Seconds()/limit, "admitted/limit")
	b.ReportMetric(float64(a1-a0)/float64(max(e1-e0, 1)), "admitted/exact")
}
