package ratelimit

import (
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
