package sim

import (
	"fmt"
	"slices"
	"time"

	"github.com/breakerbox/breakerbox/shed"
)

// Bucket is one slice of a run's timeline.
type Bucket struct {
	// At is the bucket's start, as time since the run started.
	At time.Duration
	// Offered counts requests that arrived in the bucket; Rejected those of
	// them the limiter turned away.
	Offered, Rejected int
	// Succeeded counts requests that completed in the bucket within their
	// client's deadline; Late those that completed after it.
	Succeeded, Late int
	// Latencies holds the latency of each request completed in the bucket,
	// capped at the client's deadline (what the client saw), sorted.
	Latencies []time.Duration
	// Limit is the limiter's limit at the bucket's last admission; InFlight
	// the highest number of admitted requests in the service.
	Limit, InFlight int
	// ByClass counts offered and succeeded requests by criticality.
	OfferedBy, SucceededBy [3]int
}

// Summary is what a run measured.
type Summary struct {
	// Goodput is the rate of successful requests during the peak window,
	// per second, and GoodputRatio that rate over the capacity C.
	Goodput, GoodputRatio float64
	// P50 and P99 are the latencies of the requests completed during the
	// peak window (capped at the deadline).
	P50, P99 time.Duration
	// CalmP99 is the p99 latency before the load first exceeds C.
	CalmP99 time.Duration
	// Recovery is the time from the load falling back to C until every
	// following bucket has at least 99% of the requests that arrived in it
	// succeed and a p99
	// within twice CalmP99; -1 if that never happened before the end.
	Recovery time.Duration
	// ClassGoodput is, by criticality, the share of the requests offered
	// during the peak window that succeeded.
	ClassGoodput [3]float64
	// Offered is the total number of requests offered.
	Offered int
}

// Result is one run of a scenario with one limiter.
type Result struct {
	Scenario Scenario
	// Name names the limiter.
	Name    string
	Buckets []Bucket
	Summary Summary
}

func newResult(sc Scenario, name string) *Result {
	n := int((sc.Duration() + sc.Bucket - 1) / sc.Bucket)
	res := &Result{Scenario: sc, Name: name, Buckets: make([]Bucket, n)}
	for i := range res.Buckets {
		res.Buckets[i].At = time.Duration(i) * sc.Bucket
	}
	return res
}

func (res *Result) bucket(now time.Time) *Bucket {
	i := int(now.Sub(Start) / res.Scenario.Bucket)
	return &res.Buckets[min(max(i, 0), len(res.Buckets)-1)]
}

func classIndex(c shed.Criticality) int {
	switch c {
	case shed.Sheddable:
		return 0
	case shed.Critical:
		return 2
	}
	return 1
}

func (res *Result) offer(now time.Time, r *request) {
	b := res.bucket(now)
	b.Offered++
	b.OfferedBy[classIndex(r.crit)]++
}

func (res *Result) reject(now time.Time, _ *request) { res.bucket(now).Rejected++ }

func (res *Result) limit(now time.Time, limit, inflight int) {
	b := res.bucket(now)
	b.Limit = limit
	b.InFlight = max(b.InFlight, inflight)
}

// complete counts r in the bucket it completed in, and its success in the
// bucket it arrived in by class (so that class goodput compares like with
// like).
func (res *Result) complete(now time.Time, r *request, rtt time.Duration, late bool) {
	b := res.bucket(now)
	b.Latencies = append(b.Latencies, min(rtt, res.Scenario.Timeout))
	if late {
		b.Late++
		return
	}
	b.Succeeded++
	res.bucket(r.arrival).SucceededBy[classIndex(r.crit)]++
}

func (res *Result) finish() {
	sc := res.Scenario
	for i := range res.Buckets {
		slices.Sort(res.Buckets[i].Latencies)
	}
	s := &res.Summary
	from, to, _ := sc.peakWindow(2 * time.Second)
	var lat []time.Duration
	var ok int
	var offBy, okBy [3]int
	for _, b := range res.Buckets {
		s.Offered += b.Offered
		if b.At >= from && b.At+sc.Bucket <= to {
			lat = append(lat, b.Latencies...)
			ok += b.Succeeded
			for c := range 3 {
				offBy[c] += b.OfferedBy[c]
				okBy[c] += b.SucceededBy[c]
			}
		}
	}
	slices.Sort(lat)
	s.Goodput = float64(ok) / (to - from).Seconds()
	s.GoodputRatio = s.Goodput / sc.Capacity()
	s.P50, s.P99 = pct(lat, 0.5), pct(lat, 0.99)
	for c := range 3 {
		if offBy[c] > 0 {
			s.ClassGoodput[c] = float64(okBy[c]) / float64(offBy[c])
		}
	}
	var calm []time.Duration
	for _, b := range res.Buckets {
		if sc.loadAt(b.At+sc.Bucket) > 1 {
			break
		}
		calm = append(calm, b.Latencies...)
	}
	slices.Sort(calm)
	s.CalmP99 = pct(calm, 0.99)
	s.Recovery = res.recovery(s.CalmP99)
}

// recovery returns how long after the load fell back to C the service
// served its clients as before: every later bucket has 99% of its offered
// requests succeed and a p99 within twice calmP99.
func (res *Result) recovery(calmP99 time.Duration) time.Duration {
	sc := res.Scenario
	calm := sc.calmEnds()
	first := int(calm / sc.Bucket)
	good := func(b Bucket) bool {
		ok := b.SucceededBy[0] + b.SucceededBy[1] + b.SucceededBy[2]
		return b.Offered > 0 && float64(ok) >= 0.99*float64(b.Offered) &&
			pct(b.Latencies, 0.99) <= 2*calmP99
	}
	// The last bucket may be cut short by the end of the run: not judged.
	last := len(res.Buckets) - 1
	for i := last - 1; i >= first; i-- {
		if !good(res.Buckets[i]) {
			if i == last-1 {
				return -1
			}
			return max(res.Buckets[i+1].At-calm, 0)
		}
	}
	return 0
}

// String returns a one-line summary.
func (res *Result) String() string {
	s := res.Summary
	rec := "never"
	if s.Recovery >= 0 {
		rec = s.Recovery.String()
	}
	return fmt.Sprintf("%-22s goodput %6.0f/s (%5.1f%% of C)  p50 %8v  p99 %8v  recovery %v",
		res.Name, s.Goodput, 100*s.GoodputRatio, s.P50.Round(100*time.Microsecond), s.P99.Round(100*time.Microsecond), rec)
}
