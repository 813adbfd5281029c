package sim

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"time"

	"github.com/breakerbox/breakerbox/shed"
)

// Start is the virtual time at which every run starts.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Phase is a stretch of the offered load, which moves linearly from From
// to To times the service's capacity over Duration.
type Phase struct {
	Duration time.Duration
	From, To float64
}

// Scenario describes the simulated service and the load offered to it.
//
// The service has Workers workers in front of an unbounded FIFO queue (a
// thread pool). A request's service time is ServiceMin plus an exponential
// part of mean ServiceExp, drawn when the request arrives, so every
// limiter sees the same requests. Queueing degrades the service: with a
// backlog of b requests waiting for a worker, a request that starts is
// slower by the factor 1 + Thrash·min(b, ThrashQueue)/ThrashQueue (memory,
// GC and lock contention of a loaded server). The client gives up after
// Timeout, but the server still serves a request whose client is gone, as
// most servers do: that is the wasted work that collapses an unprotected
// service. Requests arrive as a Poisson process whose rate follows Phases.
type Scenario struct {
	Name        string
	Seed        uint64
	Workers     int
	ServiceMin  time.Duration
	ServiceExp  time.Duration
	Thrash      float64
	ThrashQueue int
	Timeout     time.Duration
	Phases      []Phase
	// CriticalShare is the share of requests marked shed.Critical; the rest
	// are shed.Sheddable. 0 marks every request shed.Default.
	CriticalShare float64
	// Bucket is the resolution of the timelines.
	Bucket time.Duration
}

// Capacity returns the service's capacity C in requests per second:
// Workers over the mean service time.
func (s Scenario) Capacity() float64 {
	return float64(s.Workers) / (s.ServiceMin + s.ServiceExp).Seconds()
}

// Duration returns the length of the run: the sum of the phases.
func (s Scenario) Duration() time.Duration {
	var d time.Duration
	for _, p := range s.Phases {
		d += p.Duration
	}
	return d
}

// loadAt returns the offered load at elapsed time d, as a multiple of C.
func (s Scenario) loadAt(d time.Duration) float64 {
	for _, p := range s.Phases {
		if d < p.Duration {
			return p.From + (p.To-p.From)*float64(d)/float64(p.Duration)
		}
		d -= p.Duration
	}
	return s.Phases[len(s.Phases)-1].To
}

// peakWindow returns the stretch of the run spent at the highest load
// (the longest phase whose From and To are both the peak), minus its first
// settle period: where goodput and latency under overload are measured.
func (s Scenario) peakWindow(settle time.Duration) (from, to time.Duration, peak float64) {
	var at time.Duration
	var best time.Duration
	for _, p := range s.Phases {
		if p.From == p.To && (p.From > peak || (p.From == peak && p.Duration > best)) {
			peak, best, from, to = p.From, p.Duration, at+settle, at+p.Duration
		}
		at += p.Duration
	}
	return from, to, peak
}

// calmEnds returns the elapsed time at which the load first falls back to
// at most C after having been above it.
func (s Scenario) calmEnds() time.Duration {
	const step = 10 * time.Millisecond
	above := false
	for d := time.Duration(0); d < s.Duration(); d += step {
		l := s.loadAt(d)
		if l > 1 {
			above = true
		} else if above {
			return d
		}
	}
	return s.Duration()
}

// Limiter decides which requests enter the service. The simulation calls
// it in the order of virtual time, from one goroutine.
type Limiter interface {
	// Admit decides whether a request of criticality c arriving at now
	// enters the service; token is handed back to Done.
	Admit(now time.Time, c shed.Criticality) (token any, ok bool)
	// Done reports that an admitted request left the service at now after
	// rtt; dropped says that it missed its client's deadline.
	Done(now time.Time, token any, rtt time.Duration, dropped bool)
	// Waited reports that a request waited wait in the service's queue
	// before a worker took it.
	Waited(now time.Time, wait time.Duration)
	// Limit returns the current concurrency limit, 0 for none.
	Limit() int
}

// request is one simulated request.
type request struct {
	arrival time.Time
	service time.Duration // base service time
	crit    shed.Criticality
	token   any
	queued  time.Time // when it joined the service's queue
	done    time.Time // completion time, once in service
	seq     uint64
}

// completions is a min-heap of requests in service by completion time.
type completions []*request

func (h completions) Len() int { return len(h) }
func (h completions) Less(i, j int) bool {
	if h[i].done.Equal(h[j].done) {
		return h[i].seq < h[j].seq
	}
	return h[i].done.Before(h[j].done)
}
func (h completions) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *completions) Push(x any)   { *h = append(*h, x.(*request)) }
func (h *completions) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return r
}

// Run simulates sc with l in front of the service and returns what
// happened. The same scenario and limiter configuration give the same
// Result.
func Run(sc Scenario, name string, l Limiter) *Result {
	arrivals := rand.New(rand.NewPCG(sc.Seed, 1))
	res := newResult(sc, name)
	var (
		inService completions
		queue     []*request // FIFO of admitted requests waiting for a worker
		busy      int
		inflight  int
		seq       uint64
	)
	end := Start.Add(sc.Duration())
	capacity := sc.Capacity()

	start := func(now time.Time, r *request) {
		slow := 1.0
		if sc.Thrash > 0 && sc.ThrashQueue > 0 {
			slow += sc.Thrash * float64(min(len(queue), sc.ThrashQueue)) / float64(sc.ThrashQueue)
		}
		r.done = now.Add(time.Duration(float64(r.service) * slow))
		busy++
		heap.Push(&inService, r)
	}
	nextArrival := func(now time.Time) time.Time {
		rate := sc.loadAt(now.Sub(Start)) * capacity
		if rate <= 0 {
			return now.Add(sc.Bucket)
		}
		gap := arrivals.ExpFloat64() / rate
		return now.Add(time.Duration(gap * float64(time.Second)))
	}
	next := nextArrival(Start)
	for {
		if len(inService) > 0 && !inService[0].done.After(next) {
			r := heap.Pop(&inService).(*request)
			now := r.done
			if now.After(end) {
				break
			}
			busy--
			rtt := now.Sub(r.arrival)
			dropped := rtt > sc.Timeout
			inflight--
			l.Done(now, r.token, rtt, dropped)
			res.complete(now, r, rtt, dropped)
			if len(queue) > 0 {
				q := queue[0]
				queue[0] = nil
				queue = queue[1:]
				l.Waited(now, now.Sub(q.queued))
				start(now, q)
			}
			continue
		}
		now := next
		if now.After(end) {
			break
		}
		next = nextArrival(now)
		seq++
		r := &request{
			arrival: now,
			service: sc.ServiceMin + time.Duration(arrivals.ExpFloat64()*float64(sc.ServiceExp)),
			seq:     seq,
		}
		switch {
		case sc.CriticalShare > 0 && arrivals.Float64() < sc.CriticalShare:
			r.crit = shed.Critical
		case sc.CriticalShare > 0:
			r.crit = shed.Sheddable
		}
		res.offer(now, r)
		tok, ok := l.Admit(now, r.crit)
		if !ok {
			res.reject(now, r)
			continue
		}
		r.token = tok
		inflight++
		res.limit(now, l.Limit(), inflight)
		if busy < sc.Workers {
			l.Waited(now, 0)
			start(now, r)
			continue
		}
		r.queued = now
		queue = append(queue, r)
	}
	res.finish()
	return res
}

// pct returns the q-quantile of sorted xs (nearest rank), 0 when empty.
func pct(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
