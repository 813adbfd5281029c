package benchmarks

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/ratelimit"
	fsratelimiter "github.com/failsafe-go/failsafe-go/ratelimiter"
	uber "go.uber.org/ratelimit"
	"golang.org/x/time/rate"
)

// RateLimit: ask a rate limiter for one call. Every limiter is set to a
// billion calls a second with a burst of as many, far above what two cores
// can ask for, so that every call is admitted and the benchmark measures the
// admission path. A limiter that rejects some calls anyway reports them as
// rejected/op.
//
// go.uber.org/ratelimit has no non-blocking call: Take blocks until the call
// is due. At a billion calls a second (one nanosecond apart, with its default
// slack of 10) no call is ever due in the future, so Take never sleeps and
// measures its bookkeeping only.

const (
	rlLimit = 1e9 // calls per second
	rlBurst = 1e9
)

func bbTokenBucket(tb testing.TB, precise bool) *ratelimit.TokenBucket {
	tb.Helper()
	l, err := ratelimit.NewTokenBucket(ratelimit.Config{Limit: rlLimit, Burst: rlBurst, Precise: precise})
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func bbGCRA(tb testing.TB) *ratelimit.GCRA {
	tb.Helper()
	l, err := ratelimit.NewGCRA(ratelimit.Config{Algorithm: ratelimit.AlgorithmGCRA, Limit: rlLimit, Burst: rlBurst})
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func xtLimiter() *rate.Limiter { return rate.NewLimiter(rlLimit, rlBurst) }

func fsBursty() fsratelimiter.RateLimiter[struct{}] {
	return fsratelimiter.NewBursty[struct{}](rlLimit, time.Second)
}

func fsSmooth() fsratelimiter.RateLimiter[struct{}] {
	return fsratelimiter.NewSmooth[struct{}](rlLimit, time.Second)
}

func uberLimiter() uber.Limiter { return uber.New(rlLimit) }

// reportRejected adds a rejected/op metric when some calls were refused.
func reportRejected(b *testing.B, rejected int64) {
	if rejected > 0 {
		b.ReportMetric(float64(rejected)/float64(b.N), "rejected/op")
	}
}

func BenchmarkRateLimit(b *testing.B) {
	b.Run("breakerbox-tokenbucket", func(b *testing.B) {
		l := bbTokenBucket(b, false)
		var rejected int64
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !l.Allow() {
				rejected++
			}
		}
		reportRejected(b, rejected)
	})
	b.Run("breakerbox-tokenbucket-precise", func(b *testing.B) {
		l := bbTokenBucket(b, true)
		var rejected int64
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !l.Allow() {
				rejected++
			}
		}
		reportRejected(b, rejected)
	})
	b.Run("breakerbox-gcra", func(b *testing.B) {
		l := bbGCRA(b)
		var rejected int64
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !l.Allow() {
				rejected++
			}
		}
		reportRejected(b, rejected)
	})
	b.Run("xtime-rate", func(b *testing.B) {
		l := xtLimiter()
		var rejected int64
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !l.Allow() {
				rejected++
			}
		}
		reportRejected(b, rejected)
	})
	b.Run("failsafe-bursty", func(b *testing.B) {
		l := fsBursty()
		var rejected int64
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !l.TryAcquirePermit() {
				rejected++
			}
		}
		reportRejected(b, rejected)
	})
	b.Run("failsafe-smooth", func(b *testing.B) {
		l := fsSmooth()
		var rejected int64
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !l.TryAcquirePermit() {
				rejected++
			}
		}
		reportRejected(b, rejected)
	})
	b.Run("uber", func(b *testing.B) {
		l := uberLimiter()
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			l.Take()
		}
	})
}

func BenchmarkRateLimitParallel(b *testing.B) {
	par := func(b *testing.B, allow func() bool) {
		b.Helper()
		var rejected atomic.Int64
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			var n int64
			for pb.Next() {
				if !allow() {
					n++
				}
			}
			rejected.Add(n)
		})
		reportRejected(b, rejected.Load())
	}
	// Each library's method value is bound once, outside the timed loop;
	// every library pays the same indirect call.
	b.Run("breakerbox-tokenbucket", func(b *testing.B) { par(b, bbTokenBucket(b, false).Allow) })
	b.Run("breakerbox-tokenbucket-precise", func(b *testing.B) { par(b, bbTokenBucket(b, true).Allow) })
	b.Run("breakerbox-gcra", func(b *testing.B) { par(b, bbGCRA(b).Allow) })
	b.Run("xtime-rate", func(b *testing.B) { par(b, xtLimiter().Allow) })
	b.Run("failsafe-bursty", func(b *testing.B) { par(b, fsBursty().TryAcquirePermit) })
	b.Run("failsafe-smooth", func(b *testing.B) { par(b, fsSmooth().TryAcquirePermit) })
	b.Run("uber", func(b *testing.B) {
		l := uberLimiter()
		par(b, func() bool { l.Take(); return true })
	})
}

// KeyedRateLimit: Allow for a key that already has a limiter, cycling over
// 1024 tenants. Every key gets the limit above. No peer ships a keyed
// limiter; the baseline is what a service would write by hand: one
// x/time/rate Limiter per key in a sync.Map.

const numKeys = 1024 // a power of two

func tenantKeys() []string {
	keys := make([]string, numKeys)
	for i := range keys {
		keys[i] = "tenant-" + strconv.Itoa(i)
	}
	return keys
}

func bbKeyed(tb testing.TB, keys []string) *ratelimit.Keyed {
	tb.Helper()
	k, err := ratelimit.NewKeyed(ratelimit.KeyedConfig{Config: ratelimit.Config{Limit: rlLimit, Burst: rlBurst}})
	if err != nil {
		tb.Fatal(err)
	}
	for _, key := range keys {
		if !k.Allow(key) {
			tb.Fatalf("keyed limiter rejected the first call of %q", key)
		}
	}
	return k
}

// xtKeyed is the hand-written baseline: a sync.Map of x/time/rate limiters.
type xtKeyed struct{ m sync.Map }

func newXTKeyed(keys []string) *xtKeyed {
	k := &xtKeyed{}
	for _, key := range keys {
		k.Allow(key)
	}
	return k
}

func (k *xtKeyed) Allow(key string) bool {
	l, ok := k.m.Load(key)
	if !ok {
		l, _ = k.m.LoadOrStore(key, xtLimiter())
	}
	return l.(*rate.Limiter).Allow()
}

func BenchmarkKeyedRateLimit(b *testing.B) {
	keys := tenantKeys()
	b.Run("breakerbox", func(b *testing.B) {
		k := bbKeyed(b, keys)
		var rejected int64
		i := 0
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !k.Allow(keys[i&(numKeys-1)]) {
				rejected++
			}
			i++
		}
		reportRejected(b, rejected)
	})
	b.Run("xtime-rate-syncmap", func(b *testing.B) {
		k := newXTKeyed(keys)
		var rejected int64
		i := 0
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		for b.Loop() {
			if !k.Allow(keys[i&(numKeys-1)]) {
				rejected++
			}
			i++
		}
		reportRejected(b, rejected)
	})
}

func BenchmarkKeyedRateLimitParallel(b *testing.B) {
	keys := tenantKeys()
	par := func(b *testing.B, allow func(string) bool) {
		b.Helper()
		var rejected atomic.Int64
		var seed atomic.Int64
		b.ReportAllocs()
		defer reportCPU(b, startCPU())
		b.RunParallel(func(pb *testing.PB) {
			// Each goroutine starts at its own place in the key cycle.
			i := int(seed.Add(numKeys / 8))
			var n int64
			for pb.Next() {
				if !allow(keys[i&(numKeys-1)]) {
					n++
				}
				i++
			}
			rejected.Add(n)
		})
		reportRejected(b, rejected.Load())
	}
	b.Run("breakerbox", func(b *testing.B) { par(b, bbKeyed(b, keys).Allow) })
	b.Run("xtime-rate-syncmap", func(b *testing.B) { par(b, newXTKeyed(keys).Allow) })
}

// RateLimitSaturated: every core busy calling one limiter, the moment at
// which a rate limit matters most. The benchmark's goroutine and
// GOMAXPROCS-1 others call Allow in a busy loop, so a goroutine that a
// limiter relies on (breakerbox's coarse clock) waits for the scheduler to
// preempt one of them. Each limiter allows limit calls a second with burst.
//
// Metrics: admitted/limit, the calls admitted per second after a warm-up
// that takes the initial burst, over the limit; and admitted/xtime, the
// calls admitted over those admitted by an x/time/rate limiter of the same
// limit and burst called at the same moments (one after the other, in
// turn). x/time/rate reads time.Now on every call and is the reference. On
// a machine shared with other work the callers lose the CPU for
// milliseconds at a time, and a small bucket loses the tokens nobody asked
// for: admitted/limit falls for every library, x/time/rate included, while
// admitted/xtime still compares like with like. ns/op is the time of one
// call to each of the two limiters, most of them rejections.
func BenchmarkRateLimitSaturated(b *testing.B) {
	for _, limit := range []float64{1000, 100_000} {
		for _, burst := range []int{1, 10, 100, 10_000} {
			name := "limit=" + strconv.Itoa(int(limit)) + "/burst=" + strconv.Itoa(burst) + "/"
			cfg := ratelimit.Config{Limit: limit, Burst: burst}
			ref := func() func() bool { return rate.NewLimiter(rate.Limit(limit), burst).Allow }
			b.Run(name+"breakerbox-tokenbucket", func(b *testing.B) {
				l, err := ratelimit.NewTokenBucket(cfg)
				if err != nil {
					b.Fatal(err)
				}
				saturate(b, l.Allow, ref(), limit)
			})
			b.Run(name+"breakerbox-tokenbucket-precise", func(b *testing.B) {
				cfg := cfg
				cfg.Precise = true
				l, err := ratelimit.NewTokenBucket(cfg)
				if err != nil {
					b.Fatal(err)
				}
				saturate(b, l.Allow, ref(), limit)
			})
			b.Run(name+"breakerbox-gcra", func(b *testing.B) {
				l, err := ratelimit.NewGCRA(cfg)
				if err != nil {
					b.Fatal(err)
				}
				saturate(b, l.Allow, ref(), limit)
			})
			b.Run(name+"xtime-rate", func(b *testing.B) { saturate(b, ref(), ref(), limit) })
		}
	}
}

// saturate calls allow and ref in a busy loop on every P for the benchmark
// time, and reports the calls allow admitted per second over limit, and over
// the calls ref admitted.
func saturate(b *testing.B, allow, ref func() bool, limit float64) {
	var (
		stop           atomic.Bool
		admitted, refd atomic.Int64
		wg             sync.WaitGroup
	)
	call := func(i int) {
		if i&1 != 0 && ref() {
			refd.Add(1)
		}
		if allow() {
			admitted.Add(1)
		}
		if i&1 == 0 && ref() {
			refd.Add(1)
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
	// Warm up: take the initial burst, and let background goroutines fall
	// behind as they do under load.
	i := 0
	for start := time.Now(); time.Since(start) < 50*time.Millisecond; i++ {
		call(i)
	}
	b.ReportAllocs()
	a0, r0, t0 := admitted.Load(), refd.Load(), time.Now()
	for b.Loop() {
		call(i)
		i++
	}
	a1, r1, t1 := admitted.Load(), refd.Load(), time.Now()
	b.ReportMetric(float64(a1-a0)/t1.Sub(t0).Seconds()/limit, "admitted/limit")
	b.ReportMetric(float64(a1-a0)/float64(max(r1-r0, 1)), "admitted/xtime")
}
