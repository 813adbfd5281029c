package shed

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of a [Config].
const (
	DefaultTarget     = 5 * time.Millisecond
	DefaultInterval   = 100 * time.Millisecond
	DefaultGain       = 0.02
	DefaultRetryAfter = time.Second
)

// The controller's bounds and its damping (see Shedder).
// drainIntervals is over how many intervals the shedder drains the part of
// a standing queue above the target.
const drainIntervals = 2

// Config describes a [Shedder]. Its zero value is valid: it sheds on queue
// delay with the defaults, and has neither a slot limit nor a CPU signal,
// so it only sheds on the delays given to ObserveAt.
type Config struct {
	// Target is the standing queue delay the shedder aims at: an interval
	// whose smallest observed delay is above Target is an overloaded one
	// (CoDel's target). Default 5ms.
	Target time.Duration

	// Interval is the period over which the smallest delay is taken and the
	// share of requests to shed is updated (CoDel's interval): about the
	// time a burst takes to drain. Default 100ms.
	Interval time.Duration

	// Gain is how fast the share of requests shed falls once the queue no
	// longer stands (and rises while only the CPU is over its limit): by
	// Gain each interval, in (0, 1]. Default 0.02: from shedding half the
	// requests to none in 25 intervals.
	Gain float64

	// CPULimit is the CPU use, in (0, 1] of CPUs, above which an interval
	// counts as overloaded, whatever the queue delay. 0 turns the CPU
	// signal off.
	CPULimit float64

	// CPU returns the process's cumulative CPU time (user and system),
	// read once per interval when CPULimit is set. Nil means
	// ProcessCPUTime. Tests and simulations give their own.
	CPU func() time.Duration

	// CPUs is the number of CPUs the process may use, the denominator of
	// CPU use. 0 means runtime.GOMAXPROCS(0) when the shedder is created.
	CPUs int

	// MaxInFlight is the number of requests Acquire lets run at once. 0
	// means no limit: Acquire only makes the shedding decision, and queue
	// delay comes only from ObserveAt.
	MaxInFlight int

	// MaxQueue is how many requests may wait in Acquire for a slot when
	// MaxInFlight are running. Their wait is the queue delay the shedder
	// watches; with 0, nobody waits and requests beyond MaxInFlight are shed
	// at once.
	MaxQueue int

	// MaxWait is the longest a request waits in the queue before it is shed.
	// Default: 4 × Interval.
	MaxWait time.Duration

	// RetryAfter is the retry-after of every rejection. Default 1s.
	RetryAfter time.Duration
}

// maxDuration bounds durations so that sums of them cannot overflow.
const maxDuration = 24 * time.Hour

// withDefaults fills in the defaults.
func (c Config) withDefaults() Config {
	if c.Target == 0 {
		c.Target = DefaultTarget
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Gain == 0 {
		c.Gain = DefaultGain
	}
	if c.CPULimit > 0 && c.CPU == nil {
		c.CPU = ProcessCPUTime
	}
	if c.CPUs == 0 {
		c.CPUs = runtime.GOMAXPROCS(0)
	}
	if c.MaxWait == 0 && c.Interval > 0 && c.Interval <= maxDuration {
		c.MaxWait = 4 * c.Interval
	}
	if c.RetryAfter == 0 {
		c.RetryAfter = DefaultRetryAfter
	}
	return c
}

// Validate reports every invalid field of c after the defaults are filled
// in, joined with errors.Join; each message names the field and the value.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	dur := func(name string, d time.Duration, positive bool) {
		switch {
		case positive && d <= 0:
			errs = append(errs, fmt.Errorf("shed: %s: %v must be positive", name, d))
		case d < 0:
			errs = append(errs, fmt.Errorf("shed: %s: %v must not be negative", name, d))
		case d > maxDuration:
			errs = append(errs, fmt.Errorf("shed: %s: %v must be at most %v", name, d, maxDuration))
		}
	}
	dur("target", c.Target, true)
	dur("interval", c.Interval, true)
	if c.MaxWait != 0 || c.Interval <= maxDuration { // else its default is unset: interval says why
		dur("maxWait", c.MaxWait, true)
	}
	dur("retryAfter", c.RetryAfter, true)
	if !(c.Gain > 0 && c.Gain <= 1) {
		errs = append(errs, fmt.Errorf("shed: gain: %v must be in (0, 1]", c.Gain))
	}
	if !(c.CPULimit >= 0 && c.CPULimit <= 1) {
		errs = append(errs, fmt.Errorf("shed: cpuLimit: %v must be in [0, 1]", c.CPULimit))
	}
	if c.CPUs < 1 {
		errs = append(errs, fmt.Errorf("shed: cpus: %d must be at least 1", c.CPUs))
	}
	if c.MaxInFlight < 0 {
		errs = append(errs, fmt.Errorf("shed: maxInFlight: %d must not be negative", c.MaxInFlight))
	}
	if c.MaxQueue < 0 {
		errs = append(errs, fmt.Errorf("shed: maxQueue: %d must not be negative", c.MaxQueue))
	}
	if c.MaxQueue > 0 && c.MaxInFlight <= 0 {
		errs = append(errs, fmt.Errorf("shed: maxQueue: %d needs maxInFlight: a queue forms only behind a slot limit", c.MaxQueue))
	}
	return errors.Join(errs...)
}

// Shedder decides, per request, whether a server takes it or sheds it,
// by its criticality and the server's load. Build one with New; it is safe
// for concurrent use.
//
// # How much to shed
//
// A shedder keeps D, the share of all requests it sheds, between 0 and 1,
// and updates it at the end of each Interval from m, the smallest queue
// delay observed in the interval (CoDel's measure: a burst that drains
// within the interval leaves m small, a standing queue does not):
//
//   - m above Target: the queue stands, so the service is saturated, and
//     the number of requests that left the queue in the interval, s, is
//     what it can serve. D becomes 1 − a/n, n the requests that arrived in
//     the interval and a = s − e/2 the ones to admit: s less half the
//     excess queue e = s·(m − Target)/Interval, so that the excess drains
//     in two intervals.
//   - otherwise (an interval without any observation included): D falls
//     by Gain, probing for capacity the service has again.
//   - with CPULimit set, an interval whose CPU use was above it while the
//     queue was not standing raises D by Gain.
//
// # Whom to shed
//
// D is a share of all requests; the shedder spends it on the least
// critical first, by the mix of criticalities that arrived in the interval
// just closed: with n_s sheddable, n_d default and n_c critical requests,
// it sheds D·(n_s+n_d+n_c) of them, all sheddable ones before any default
// one and all default ones before any critical one. A rank above the least
// critical one that arrived (the ladder's upper rungs) is guarded further,
// so that noise in the estimate and bursts of critical traffic wait in the
// queue rather than get shed:
//
//   - draining the excess queue never climbs a rung: only D without the
//     drain term (1 − s/n) may reach a new rank;
//   - a new rank is reached only after the one below was wholly shed for a
//     whole interval, and with the CPU over its limit or m above
//     (1+2k)·Target, k the number of less critical ranks that arrived;
//   - an interval without overload (no standing queue, the CPU within its
//     limit) stops shedding a partly shed upper rank at once.
//
// So critical requests are shed only when shedding every other request is
// not enough, and a criticality that is absent costs the others nothing.
// Shares are applied without randomness: of requests of a criticality
// whose share is f, the k-th of the interval is shed when floor(k·f)
// grows, so the same calls always get the same answers.
//
// There is no background goroutine: the interval is closed by the first
// call (AllowAt, ObserveAt, Acquire) after it ends, and each whole interval
// that passed without a call lowers D by Gain.
//
// # Slots and queue
//
// With MaxInFlight set, Acquire also holds requests to MaxInFlight at once
// and queues up to MaxQueue more, critical ones first; the time each one
// waited is the queue delay the shedder watches. Without it, the owner of a
// queue (a worker pool, a simulation) reports delays with ObserveAt.
type Shedder struct {
	cfg Config

	// Atomic: read or added to on every decision.
	drop        atomic.Uint64           // math.Float64bits of D
	shares      [numRanks]atomic.Uint64 // math.Float64bits of each rank's share
	arrived     [numRanks]atomic.Uint64 // requests of the current interval, by rank
	intervalEnd atomic.Int64            // UnixNano at which the current interval ends
	admitted    [numRanks]atomic.Uint64
	shed        [numRanks]atomic.Uint64

	rejections [numRanks][3]*Rejection // by rank, then reason index

	// Guarded by mu.
	mu         sync.Mutex
	started    bool
	minDelay   time.Duration // smallest delay of the current interval
	haveDelay  bool          // some delay was observed in the current interval
	served     int           // delays observed in the current interval
	lastCPU    time.Duration // cumulative CPU time at the last interval end
	lastCPUAt  time.Time
	intervals  uint64 // intervals closed
	overloaded uint64 // of which overloaded
	inFlight   int
	queued     int
	queues     [numRanks][]*waiter
}

// New returns a shedder for cfg, or the error Validate reports.
func New(cfg Config) (*Shedder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Shedder{cfg: cfg}
	for r := range numRanks {
		for i, reason := range [...]string{ReasonOverload, ReasonQueueFull, ReasonQueueTimeout} {
			s.rejections[r][i] = newRejection(byRank[r], reason, cfg.RetryAfter)
		}
	}
	return s, nil
}

// Config returns the shedder's configuration, defaults filled in.
func (s *Shedder) Config() Config { return s.cfg }

// DropShare returns D, the share of all requests the shedder sheds at
// present, between 0 and 1 (see [Shedder]).
func (s *Shedder) DropShare() float64 { return math.Float64frombits(s.drop.Load()) }

// ShedShare returns the share of requests of criticality c the shedder
// sheds at present, between 0 and 1.
func (s *Shedder) ShedShare(c Criticality) float64 {
	return math.Float64frombits(s.shares[c.rank()].Load())
}

// AllowAt decides whether a request of criticality c arriving at now is
// taken (nil) or shed (a *Rejection with ReasonOverload, matching ErrShed
// and core.ErrRejected). It does not take a slot: see Acquire.
func (s *Shedder) AllowAt(now time.Time, c Criticality) error {
	s.tick(now)
	r := c.rank()
	k := s.arrived[r].Add(1)
	if f := math.Float64frombits(s.shares[r].Load()); f > 0 &&
		(f >= 1 || math.Floor(float64(k)*f) > math.Floor(float64(k-1)*f)) {
		s.shed[r].Add(1)
		return s.rejections[r][0]
	}
	s.admitted[r].Add(1)
	return nil
}

// ObserveAt records that a request left a queue at now after waiting delay:
// the queue-delay signal. Negative delays count as 0.
func (s *Shedder) ObserveAt(now time.Time, delay time.Duration) {
	s.mu.Lock()
	s.closeIntervalsLocked(now)
	s.observeLocked(delay)
	s.mu.Unlock()
}

// tick closes the current interval if now is past its end.
func (s *Shedder) tick(now time.Time) {
	if end := s.intervalEnd.Load(); end != 0 && now.UnixNano() < end {
		return
	}
	s.mu.Lock()
	s.closeIntervalsLocked(now)
	s.mu.Unlock()
}

// closeIntervalsLocked starts the first interval at the first call, and
// closes the current one (and counts the quiet ones that passed without a
// call) when now is past its end. A clock that goes backwards closes
// nothing.
func (s *Shedder) closeIntervalsLocked(now time.Time) {
	if !s.started {
		s.started = true
		s.lastCPUAt = now
		if s.cfg.CPULimit > 0 {
			s.lastCPU = s.cfg.CPU()
		}
		s.intervalEnd.Store(now.Add(s.cfg.Interval).UnixNano())
		return
	}
	end := time.Unix(0, s.intervalEnd.Load())
	if now.Before(end) {
		return
	}
	g := s.cfg.Gain
	d := s.DropShare()
	var arrived [numRanks]float64
	var total float64
	for r := range numRanks {
		arrived[r] = float64(s.arrived[r].Swap(0))
		total += arrived[r]
	}
	var m time.Duration // the interval's smallest delay, 0 without any
	if s.haveDelay {
		m = s.minDelay
	}
	over := m > s.cfg.Target
	var base float64 // the drop share that holds the queue where it is
	switch {
	case over && total > 0:
		// A standing queue: the service took s.served requests from it in
		// the interval, which is what it can serve. Admit that many, less
		// the excess queue (its delay over the target, at that rate) spread
		// over drainIntervals.
		excess := float64(s.minDelay-s.cfg.Target) / float64(s.cfg.Interval) * float64(s.served)
		admit := max(float64(s.served)-excess/drainIntervals, 0)
		base = min(max(1-float64(s.served)/total, 0), 1)
		d = 1 - admit/total
	default:
		d -= g
		base = d
	}
	cpuOver := false
	if s.cfg.CPULimit > 0 {
		cpu := s.cfg.CPU()
		if wall := now.Sub(s.lastCPUAt); wall > 0 {
			use := float64(cpu-s.lastCPU) / (float64(wall) * float64(s.cfg.CPUs))
			cpuOver = use > s.cfg.CPULimit
			if cpuOver && !over {
				over = true
				d = s.DropShare() + g
				base = d
			}
		}
		s.lastCPU, s.lastCPUAt = cpu, now
	}
	if over {
		s.overloaded++
	}
	s.intervals++
	// Whole intervals that passed without a call are quiet ones. Bounded, as
	// D cannot fall below 0 in more than 1/Gain of them.
	idle := now.Sub(end) / s.cfg.Interval
	if idle > 0 {
		d -= g * float64(min(int64(idle), int64(1/g)+1))
		base = d
		s.intervals += uint64(idle)
	}
	d = min(max(d, 0), 1)
	if math.IsNaN(d) {
		d = 0
	}
	s.drop.Store(math.Float64bits(d))
	s.spendLocked(d, min(max(base, 0), 1), arrived, total, m, cpuOver)
	s.served = 0
	s.haveDelay, s.minDelay = false, 0
	s.intervalEnd.Store(end.Add((idle + 1) * s.cfg.Interval).UnixNano())
}

// spendLocked shares the drop share d of all requests among the ranks,
// least critical first, by the mix that arrived in the interval just
// closed, and starts counting the next interval's arrivals.
func (s *Shedder) spendLocked(d, base float64, n [numRanks]float64, total float64, m time.Duration, cpuOver bool) {
	standing := m > s.cfg.Target // the queue stands
	full := shares(d, n, total)
	rung := shares(base, n, total)
	prevFull := true // the rank below was wholly shed in the interval just closed
	present := 0     // ranks below r of which some arrived in that interval
	for r := range numRanks {
		share := full[r]
		prev := math.Float64frombits(s.shares[r].Load())
		if present > 0 && d < 1 {
			// Rules for a rank above the least critical one present.
			switch {
			case rung[r] == 0:
				// Draining a queue sheds only the ranks that holding the
				// queue steady sheds: it never climbs to a more critical rank.
				share = 0
			case prev > 0 && (standing || cpuOver):
				// Already being shed, and still overloaded: D decides.
			case prev > 0 && prev < 1:
				// Partly shed, and the overload is gone: the top rung goes
				// first, at once.
				share = 0
			case !prevFull || !(cpuOver || m > time.Duration(1+2*present)*s.cfg.Target):
				// Climbing to a new rank takes the rank below wholly shed
				// for a whole interval, and the CPU over its limit or a
				// standing queue of 1+2k targets, k the number of less
				// critical ranks that arrived: an overestimate of D, or a
				// burst of the rank itself, waits in the queue rather than
				// sheds it.
				share = 0
			}
		}
		if n[r] > 0 {
			present++
		}
		s.shares[r].Store(math.Float64bits(share))
		prevFull = prev >= 1
	}
}

// shares spends the drop share d of total requests, n of each rank, on the
// ranks in order: all of rank 0 before any of rank 1, and so on. A rank of
// which none arrived gets a share of 1 when some of d is left for it.
func shares(d float64, n [numRanks]float64, total float64) (out [numRanks]float64) {
	left := d * total
	for r := range numRanks {
		switch {
		case d <= 0:
		case d >= 1:
			out[r] = 1
		case n[r] == 0:
			if left > 0 {
				out[r] = 1
			}
		default:
			out[r] = min(left/n[r], 1)
			left -= out[r] * n[r]
		}
		if left < 1e-9 {
			left = 0
		}
	}
	return out
}

// Snapshot is a copy of a shedder's state and counters.
type Snapshot struct {
	// DropShare is D, the share of all requests shed (see Shedder); Shares
	// the share of each criticality: Shares[Sheddable], ...
	DropShare float64
	Shares    map[Criticality]float64
	// InFlight and Queued count requests holding and waiting for a slot of
	// Acquire.
	InFlight, Queued int
	// Admitted and Shed count requests by criticality since the shedder was
	// created: Admitted[Critical], Shed[Sheddable], ...
	Admitted, Shed map[Criticality]uint64
	// Intervals counts the intervals closed; Overloaded those of them found
	// overloaded.
	Intervals, Overloaded uint64
}

// Snapshot returns a copy of the shedder's state and counters.
func (s *Shedder) Snapshot() Snapshot {
	s.mu.Lock()
	snap := Snapshot{
		DropShare:  s.DropShare(),
		InFlight:   s.inFlight,
		Queued:     s.queued,
		Intervals:  s.intervals,
		Overloaded: s.overloaded,
		Admitted:   make(map[Criticality]uint64, numRanks),
		Shed:       make(map[Criticality]uint64, numRanks),
		Shares:     make(map[Criticality]float64, numRanks),
	}
	s.mu.Unlock()
	for r, c := range byRank {
		snap.Admitted[c] = s.admitted[r].Load()
		snap.Shed[c] = s.shed[r].Load()
		snap.Shares[c] = math.Float64frombits(s.shares[r].Load())
	}
	return snap
}
