package hedge

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Sketch geometry: latencies from 2^minExp ns (about 1µs) to 2^maxExp ns
// (about 18 minutes) in octaves of subBuckets buckets each, so a quantile
// is reported at most 1/subBuckets (12.5%) above the true value. Shorter
// latencies count in the first bucket, longer ones in the last.
const (
	minExp     = 10
	maxExp     = 40
	subBits    = 3
	subBuckets = 1 << subBits
	numBuckets = (maxExp - minExp) * subBuckets
)

// DefaultWindow is the number of samples a Sketch made with NewSketch(0)
// keeps in each of its two halves.
const DefaultWindow = 1000

// Sketch is a bounded, lock-free latency histogram that answers quantiles
// of roughly the last 1 to 2 windows of samples. It keeps two halves of a
// fixed size (a few KiB in all, whatever the traffic); Record adds to the
// current half with two atomic adds, and the sample that fills the current
// half clears the other and makes it current. A quantile is read from both
// halves, so it always covers at least one full window once one has been
// seen.
//
// Buckets are logarithmic with 8 per octave, from about 1µs to about 18
// minutes: a quantile is reported as its bucket's upper bound, at most
// 12.5% above the true value (never below it, so a hedge delay read from it
// errs on the late side). Samples recorded while a half is being cleared
// may be lost; a Sketch is an estimate, which is all a hedge delay needs.
//
// A Sketch is safe for concurrent use. The zero value is not usable; call
// NewSketch.
type Sketch struct {
	window int64
	cur    atomic.Int32
	halves [2]half
}

type half struct {
	count   atomic.Int64
	buckets [numBuckets]atomic.Int64
}

// NewSketch returns a Sketch whose halves hold window samples each; 0 means
// DefaultWindow.
func NewSketch(window int) *Sketch {
	if window <= 0 {
		window = DefaultWindow
	}
	return &Sketch{window: int64(window)}
}

// bucketOf returns the bucket of a latency.
func bucketOf(d time.Duration) int {
	if d < 1<<minExp {
		return 0
	}
	v := uint64(d)
	e := bits.Len64(v) - 1 // 2^e <= v < 2^(e+1)
	if e >= maxExp {
		return numBuckets - 1
	}
	sub := int(v>>(e-subBits)) & (subBuckets - 1)
	return (e-minExp)*subBuckets + sub
}

// upperOf returns the exclusive upper bound of bucket i.
func upperOf(i int) time.Duration {
	e := minExp + i/subBuckets
	sub := uint64(i%subBuckets) + 1
	return time.Duration(uint64(1)<<e + sub<<(e-subBits))
}

// Record adds one latency. It does not allocate.
func (s *Sketch) Record(d time.Duration) {
	c := s.cur.Load()
	h := &s.halves[c]
	h.buckets[bucketOf(d)].Add(1)
	if h.count.Add(1) == s.window {
		o := &s.halves[1-c]
		for i := range o.buckets {
			o.buckets[i].Store(0)
		}
		o.count.Store(0)
		s.cur.Store(1 - c)
	}
}

// Count returns the number of samples the sketch answers from.
func (s *Sketch) Count() int64 {
	return s.halves[0].count.Load() + s.halves[1].count.Load()
}

// Quantile returns the q-quantile (0 < q <= 1) of the recorded latencies,
// as the upper bound of its bucket, and false when the sketch is empty.
func (s *Sketch) Quantile(q float64) (time.Duration, bool) {
	var counts [numBuckets]int64
	var total int64
	for h := range s.halves {
		for i := range counts {
			n := s.halves[h].buckets[i].Load()
			counts[i] += n
			total += n
		}
	}
	if total == 0 {
		return 0, false
	}
	rank := int64(math.Ceil(q * float64(total)))
	rank = min(max(rank, 1), total)
	var seen int64
	for i, n := range counts {
		seen += n
		if seen >= rank {
			return upperOf(i), true
		}
	}
	return upperOf(numBuckets - 1), true
}
