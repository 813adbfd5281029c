package ratelimit

import (
	"encoding/binary"
	"math/big"
	"testing"
	"time"
)

// The fuzz tests hold the limiters against naive models over random arrival
// sequences with explicit times. Each operation takes three bytes: a gap
// (two bytes, in 1/64ths of the emission interval, so sequences cross both
// bursts and refills) and a number of calls (up to burst+1, 0 included).

type model interface {
	allow(t, n int64) bool
	retryAfter(t, n int64) int64
}

// naiveBucket is a token bucket as textbooks write it: tokens (counted in
// nanoseconds of refill, so the arithmetic is exact) refilled on each call
// and capped at the burst.
type naiveBucket struct {
	interval, burst int64
	tokens, last    int64
	started         bool
}

func (b *naiveBucket) refill(t int64) {
	if !b.started {
		b.started, b.last, b.tokens = true, t, b.burst*b.interval
		return
	}
	if t > b.last {
		b.tokens = min(b.tokens+t-b.last, b.burst*b.interval)
		b.last = t
	}
}

func (b *naiveBucket) allow(t, n int64) bool {
	b.refill(t)
	switch {
	case n <= 0:
		return true
	case n > b.burst || b.tokens < n*b.interval:
		return false
	}
	b.tokens -= n * b.interval
	return true
}

func (b *naiveBucket) retryAfter(t, n int64) int64 {
	b.refill(t)
	switch {
	case n <= 0:
		return 0
	case n > b.burst:
		return never
	}
	return max(0, n*b.interval-b.tokens)
}

// naiveGCRA is GCRA's virtual scheduling algorithm as the ATM specification
// states it, for n cells at once: with emission interval T and tolerance
// tau = (burst-1)*T, the cells conform at t unless t < TAT + (n-1)*T - tau;
// then TAT = max(TAT, t) + n*T.
type naiveGCRA struct {
	T, tau, burst int64
	tat           int64
	started       bool
}

func (g *naiveGCRA) arrive(t int64) {
	if !g.started {
		g.started, g.tat = true, t
	}
}

func (g *naiveGCRA) allow(t, n int64) bool {
	g.arrive(t)
	if n <= 0 {
		return true
	}
	if n > g.burst || t < g.tat+(n-1)*g.T-g.tau {
		return false
	}
	g.tat = max(g.tat, t) + n*g.T
	return true
}

func (g *naiveGCRA) retryAfter(t, n int64) int64 {
	g.arrive(t)
	if n <= 0 {
		return 0
	}
	if n > g.burst {
		return never
	}
	return max(0, g.tat+(n-1)*g.T-g.tau-t)
}

func fuzzMeter(f *testing.F, algo Algorithm, newModel func(interval, burst int64) model) {
	f.Add(uint32(100_000_000), uint8(3), []byte{0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 32, 1, 0, 64, 1, 1, 0, 3, 0, 0, 4})
	f.Add(uint32(1), uint8(1), []byte{0, 1, 1, 0, 0, 1, 0, 64, 2, 0, 0, 0})
	f.Add(uint32(7), uint8(255), []byte{0, 0, 255, 255, 255, 1, 0, 0, 200, 0, 1, 100})
	f.Add(uint32(1_000_000_007), uint8(10), []byte{0, 0, 5, 0, 0, 5, 0, 0, 1, 0, 10, 1, 2, 0, 10})
	f.Fuzz(func(t *testing.T, interval uint32, burst uint8, ops []byte) {
		iv, b := max(int64(interval), 1), max(int64(burst), 1)
		l, err := New(Config{Algorithm: algo, Limit: 1, Per: time.Duration(iv), Burst: int(b)})
		if err != nil {
			t.Fatal(err)
		}
		m := newModel(iv, b)
		now := t0
		for i := 0; i+3 <= len(ops); i += 3 {
			gap := int64(binary.BigEndian.Uint16(ops[i:])) * iv / 64
			n := int64(ops[i+2]) % (b + 2)
			now = now.Add(time.Duration(gap))
			tn := nanos(now)
			if got, want := l.RetryAfterN(now, int(n)), m.retryAfter(tn, n); int64(got) != want {
				t.Fatalf("op %d (+%v, n=%d): retry-after %v, model %v", i/3, now.Sub(t0), n, got, time.Duration(want))
			}
			if got, want := l.AllowN(now, int(n)), m.allow(tn, n); got != want {
				t.Fatalf("op %d (+%v, n=%d): allowed %v, model %v", i/3, now.Sub(t0), n, got, want)
			}
			if got, want := l.RetryAfterN(now, 1), m.retryAfter(tn, 1); int64(got) != want {
				t.Fatalf("op %d (+%v): retry-after for one %v, model %v", i/3, now.Sub(t0), got, time.Duration(want))
			}
		}
	})
}

func FuzzTokenBucket(f *testing.F) {
	fuzzMeter(f, AlgorithmTokenBucket, func(iv, b int64) model { return &naiveBucket{interval: iv, burst: b} })
}

func FuzzGCRA(f *testing.F) {
	fuzzMeter(f, AlgorithmGCRA, func(iv, b int64) model { return &naiveGCRA{T: iv, tau: (b - 1) * iv, burst: b} })
}

// naiveWindow keeps every window's count in a map and compares the weighted
// estimate in big rationals.
type naiveWindow struct {
	w, limit int64
	counts   map[int64]int64
}

func (m *naiveWindow) fits(t, n int64) bool {
	t += unixOffset
	idx := t / m.w // times are positive here
	el := t - idx*m.w
	est := new(big.Rat).SetFrac64(m.counts[idx-1]*(m.w-el), m.w)
	est.Add(est, big.NewRat(m.counts[idx]+n, 1))
	return est.Cmp(big.NewRat(m.limit, 1)) <= 0
}

func (m *naiveWindow) allow(t, n int64) bool {
	if n <= 0 {
		return true
	}
	if n > m.limit || !m.fits(t, n) {
		return false
	}
	m.counts[(t+unixOffset)/m.w] += n
	return true
}

func FuzzSlidingWindow(f *testing.F) {
	f.Add(uint32(1000), uint8(3), []byte{0, 0, 1, 0, 0, 2, 0, 0, 1, 0, 32, 1, 0, 64, 1, 1, 0, 3, 0, 0, 4})
	f.Add(uint32(7), uint8(1), []byte{0, 1, 1, 0, 0, 1, 0, 64, 2, 0, 0, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, window uint32, limit uint8, ops []byte) {
		w, lim := max(int64(window), 1), max(int64(limit), 1)
		l, err := NewSlidingWindow(Config{Limit: float64(lim), Per: time.Duration(w)})
		if err != nil {
			t.Fatal(err)
		}
		m := &naiveWindow{w: w, limit: lim, counts: map[int64]int64{}}
		now := t0
		for i := 0; i+3 <= len(ops); i += 3 {
			now = now.Add(time.Duration(int64(binary.BigEndian.Uint16(ops[i:])) * w / 64))
			n := int64(ops[i+2]) % (lim + 2)
			tn := nanos(now)
			if got, want := l.AllowN(now, int(n)), m.allow(tn, n); got != want {
				t.Fatalf("op %d (+%v, n=%d): allowed %v, model %v", i/3, now.Sub(t0), n, got, want)
			}
			// The retry-after is the first instant the model admits.
			ra := l.RetryAfterN(now, 1)
			if ra < 0 || ra > 3*time.Duration(w) {
				t.Fatalf("op %d: retry-after %v", i/3, ra)
			}
			if !m.fits(tn+int64(ra), 1) || ra > 0 && m.fits(tn+int64(ra)-1, 1) {
				t.Fatalf("op %d (+%v): retry-after %v is not the model's first admission", i/3, now.Sub(t0), ra)
			}
		}
	})
}
