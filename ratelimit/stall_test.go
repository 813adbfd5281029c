package ratelimit

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"testing/synctest"
	"time"
)

// stallClock makes the limiters built until the test ends read a coarse
// clock whose goroutine never runs, as when every P is busy and the
// scheduler does not get to it: it holds the bubble's time of the call and
// moves only if the limiters move it. Call it inside a synctest bubble.
func stallClock(t *testing.T) *coarseClock {
	t.Helper()
	c := new(coarseClock)
	c.word.Store(preciseNow()<<1 | 1)
	old := coarseClockFor
	coarseClockFor = func() *coarseClock { return c }
	t.Cleanup(func() { coarseClockFor = old })
	return c
}

// stalledLimiter is a limiter of 1000 calls a second with burst (for the
// sliding window: burst calls per window of burst ms) that reads a stalled
// coarse clock, or the precise clock if precise.
func stalledLimiter(t *testing.T, kind string, burst int, precise bool) (allow func() bool, retryAfter func() time.Duration) {
	t.Helper()
	if !precise {
		stallClock(t)
	}
	cfg := Config{Limit: 1000, Burst: burst, Precise: precise}
	switch kind {
	case "gcra":
		cfg.Algorithm = AlgorithmGCRA
	case "sliding_window":
		cfg = Config{Algorithm: AlgorithmSlidingWindow, Limit: float64(burst), Per: time.Duration(burst) * time.Millisecond, Precise: precise}
	case "keyed":
		k, err := NewKeyed(KeyedConfig{Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		return func() bool { return k.Allow("k") }, func() time.Duration { return k.RetryAfter("k") }
	}
	l := mustNew(t, cfg)
	return l.Allow, l.RetryAfter
}

var stalledKinds = []string{"token_bucket", "gcra", "sliding_window", "keyed"}

// TestStalledClockStillAdmitsFullRate pins issue 15.1: with every core busy
// the coarse clock's goroutine is not scheduled, and limiters that read it
// admitted only their burst per tick that did come (2,400–5,000 a second of
// a 100,000 limit with burst 100). However far the coarse clock falls
// behind, a limiter must admit what the same limiter reading the precise
// clock admits: its full rate for a token bucket or GCRA. Time is the
// bubble's: the limiters are called until refused every millisecond.
func TestStalledClockStillAdmitsFullRate(t *testing.T) {
	for _, kind := range stalledKinds {
		for _, burst := range []int{1, 10, 100, 10_000} {
			t.Run(kind+"/burst="+strconv.Itoa(burst), func(t *testing.T) {
				steps := 2000 // ms
				if kind == "sliding_window" {
					steps = max(steps, 3*burst) // three windows
				}
				var admitted [2]int // coarse, precise
				for i, precise := range []bool{false, true} {
					synctest.Test(t, func(t *testing.T) {
						allow, _ := stalledLimiter(t, kind, burst, precise)
						// Take the first burst, and rest long enough for
						// the bucket to fill and the windows to empty.
						for allow() {
						}
						time.Sleep(max(20*time.Duration(burst)*time.Millisecond, time.Second))
						for allow() {
						}
						for range steps {
							time.Sleep(time.Millisecond)
							for allow() {
								admitted[i]++
							}
						}
					})
				}
				if admitted[0] != admitted[1] {
					t.Errorf("admitted %d calls in %d ms; with the precise clock, %d", admitted[0], steps, admitted[1])
				}
				if kind != "sliding_window" && admitted[1] != steps {
					t.Errorf("the precise limiter admitted %d calls in %d ms at 1000 a second", admitted[1], steps)
				}
			})
		}
	}
}

// TestStalledClockRetryAfterIsExact: a retry-after read on a stalled coarse
// clock would be too long by the clock's lag (seconds here); it is computed
// again on the precise clock, and the call fits exactly then.
func TestStalledClockRetryAfterIsExact(t *testing.T) {
	for _, kind := range stalledKinds {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				allow, retryAfter := stalledLimiter(t, kind, 10, false)
				for allow() {
				}
				time.Sleep(5 * time.Second) // the clock does not move
				for allow() {
				}
				ra := retryAfter()
				if ra <= 0 || ra > 20*time.Millisecond { // two windows, for the sliding window
					t.Fatalf("RetryAfter = %v", ra)
				}
				time.Sleep(ra - time.Nanosecond)
				if allow() {
					t.Fatalf("admitted before its retry-after %v", ra)
				}
				time.Sleep(time.Nanosecond)
				if !allow() {
					t.Fatalf("refused at its retry-after %v", ra)
				}
			})
		})
	}
}

// A coarse limiter decides admissions at the coarse time, as if the calls
// had come when the clock last moved. While the clock lags, a limiter that
// went quiet with a partly spent bucket may hand out the tokens it held at
// that time on top of the full bucket an exact limiter holds now: a burst of
// up to twice Burst, never more. (A sliding window may likewise count calls
// in a window that has already ended: at most 3×Limit calls in any span of
// Per, against 2×Limit.) These tests hold the documented bounds over random
// calls while the clock's goroutine ticks at random, or not at all for
// seconds, and limiters catch it up.
func TestLaggingClockOverAdmitsAtMostOneBurst(t *testing.T) {
	for _, kind := range []string{"token_bucket", "gcra", "keyed"} {
		for _, burst := range []int{1, 4, 20} {
			t.Run(kind+"/burst="+strconv.Itoa(burst), func(t *testing.T) {
				// Seeds 3, 6, 10 and 11 take the limiter past its exact
				// bound (a burst of Burst).
				for seed := range 12 {
					times := laggingClockCalls(t, kind, burst, uint64(seed))
					// The least burst with which an exact meter of 1000 a
					// second admits every admitted call.
					const iv = int64(time.Millisecond)
					z, need := int64(math.MinInt64), int64(0)
					for _, at := range times {
						z = max(z, at) + iv
						need = max(need, z-at)
					}
					if need > int64(2*burst)*iv {
						t.Fatalf("seed %d: calls need a burst of %.2f", seed, float64(need)/float64(iv))
					}
				}
			})
		}
	}
}

func TestLaggingClockSlidingWindowAtMostThreeLimits(t *testing.T) {
	for _, limit := range []int{1, 4, 20} {
		t.Run("limit="+strconv.Itoa(limit), func(t *testing.T) {
			per := int64(limit) * int64(time.Millisecond)
			// Seeds 43, 49 and 61 take the limiter past 2×Limit.
			for seed := 40; seed < 64; seed++ {
				times := laggingClockCalls(t, "sliding_window", limit, uint64(seed))
				for i, j := 0, 0; i < len(times); i++ {
					for times[i]-times[j] >= per {
						j++
					}
					if i-j+1 > 3*limit {
						t.Fatalf("seed %d: %d calls within %v", seed, i-j+1, time.Duration(per))
					}
				}
			}
		})
	}
}

// laggingClockCalls calls a stalledLimiter (1000 a second) in random groups
// at random times, and returns the times of the calls it admitted, on the
// precise clock. The clock's goroutine ticks now and then at random.
func laggingClockCalls(t *testing.T, kind string, burst int, seed uint64) []int64 {
	var times []int64
	synctest.Test(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(seed, 15))
		allow, _ := stalledLimiter(t, kind, burst, false)
		c := coarseClockFor()
		span := int64(burst) * int64(time.Millisecond) // the bucket's, the window's
		gap := span / int64(1+rng.IntN(20))
		tickEvery := 1 + rng.IntN(50)
		for range 500 {
			time.Sleep(time.Duration(rng.Int64N(gap + 1)))
			if rng.IntN(8) == 0 {
				time.Sleep(time.Duration(rng.Int64N(3*span + 1)))
			}
			now := preciseNow()
			if rng.IntN(tickEvery) == 0 {
				c.tick(now, new(int))
			}
			for range rng.IntN(2*burst + 2) {
				if allow() {
					times = append(times, now)
				}
			}
		}
	})
	return times
}
