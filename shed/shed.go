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
	DefaultStep       = 0.25
	DefaultRetryAfter = time.Second
)

// maxPressure is the pressure at which every request is shed: one unit per
// criticality.
const maxPressure = float64(numRanks)

// Config describes a [Shedder]. Its zero value is valid: it sheds on queue
// delay with the defaults, and has neither a slot limit nor a CPU signal,
// so it only sheds on the delays given to ObserveAt.
type Config struct {
	// Target is the standing queue delay the shedder tolerates: an interval
	// whose smallest observed delay is above Target is an overloaded one
	// (CoDel's target). Default 5ms.
	Target time.Duration

	// Interval is the period over which the smallest delay is taken and the
	// pressure is updated (CoDel's interval): about the time a burst takes
	// to drain. Default 100ms.
	Interval time.Duration

	// Step is how much each overloaded interval raises the pressure, and
	// each calm one lowers it, in (0, 1]. With the default 0.25, the first
	// four overloaded intervals in a row take the share of sheddable
	// requests shed from 0 to all of them.
	Step float64

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
	// means no limit: Acquire only makes the pressure decision, and queue
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
	if c.Step == 0 {
		c.Step = DefaultStep
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
	if !(c.Step > 0 && c.Step <= 1) {
		errs = append(errs, fmt.Errorf("shed: step: %v must be in (0, 1]", c.Step))
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
// # The pressure ladder
//
// A shedder keeps one number, the pressure, between 0 and 3. At the end of
// each Interval it looks at the interval's evidence: if the smallest queue
// delay observed in it was above Target (CoDel's test: a standing queue,
// not a burst), or CPU use was above CPULimit, the pressure rises by Step;
// otherwise (including an interval without any observation) it falls by
// Step. Each criticality is shed with a share of the pressure's unit above
// its rung:
//
//	sheddable  min(pressure, 1)
//	default    min(max(pressure-1, 0), 1)
//	critical   min(max(pressure-2, 0), 1)
//
// so default requests are shed only once every sheddable one is, and
// critical ones only once every default one is. The share is applied
// without randomness: of n requests of a criticality whose share is f, the
// shedder sheds the k-th when floor(k·f) grows, so the same sequence of
// calls always gets the same answers.
//
// There is no background goroutine: the interval is closed by the first
// call (AllowAt, ObserveAt, Acquire) after it ends, and intervals that
// passed without any call count as calm ones.
//
// # Slots and queue
//
// With MaxInFlight set, Acquire also holds requests to MaxInFlight at once
// and queues up to MaxQueue more, critical ones first; the time each one
// waited is the queue delay the shedder watches. Without it, the owner of a
// queue (a worker pool, a simulation) reports delays with ObserveAt.
type Shedder struct {
	cfg Config

	// Atomic: read on every decision.
	pressure    atomic.Uint64 // math.Float64bits of the pressure
	intervalEnd atomic.Int64  // UnixNano at which the current interval ends
	seen        [numRanks]atomic.Uint64
	admitted    [numRanks]atomic.Uint64
	shed        [numRanks]atomic.Uint64

	rejections [numRanks][3]*Rejection // by rank, then reason index

	// Guarded by mu.
	mu         sync.Mutex
	started    bool
	minDelay   time.Duration // smallest delay of the current interval
	haveDelay  bool          // some delay was observed in the current interval
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

// Pressure returns the current pressure, between 0 and 3 (see [Shedder]).
func (s *Shedder) Pressure() float64 { return math.Float64frombits(s.pressure.Load()) }

// ShedShare returns the share of requests of criticality c the shedder
// sheds at the current pressure, between 0 and 1.
func (s *Shedder) ShedShare(c Criticality) float64 {
	return shareAt(s.Pressure(), c.rank())
}

// shareAt is the share of rank r shed at pressure p.
func shareAt(p float64, r int) float64 {
	return min(max(p-float64(r), 0), 1)
}

// AllowAt decides whether a request of criticality c arriving at now is
// taken (nil) or shed (a *Rejection with ReasonOverload, matching ErrShed
// and core.ErrRejected). It does not take a slot: see Acquire.
func (s *Shedder) AllowAt(now time.Time, c Criticality) error {
	s.tick(now)
	r := c.rank()
	f := shareAt(s.Pressure(), r)
	if f > 0 {
		k := s.seen[r].Add(1)
		if f >= 1 || math.Floor(float64(k)*f) > math.Floor(float64(k-1)*f) {
			s.shed[r].Add(1)
			return s.rejections[r][0]
		}
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
// closes the current one (and counts the calm ones that passed without a
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
	p := s.Pressure()
	over := s.haveDelay && s.minDelay > s.cfg.Target
	if s.cfg.CPULimit > 0 {
		cpu := s.cfg.CPU()
		if wall := now.Sub(s.lastCPUAt); wall > 0 {
			use := float64(cpu-s.lastCPU) / (float64(wall) * float64(s.cfg.CPUs))
			over = over || use > s.cfg.CPULimit
		}
		s.lastCPU, s.lastCPUAt = cpu, now
	}
	if over {
		p += s.cfg.Step
		s.overloaded++
	} else {
		p -= s.cfg.Step
	}
	s.intervals++
	// Whole intervals that passed without a call are calm ones. Bounded, as
	// the pressure cannot fall below 0 in more than 3/Step of them.
	idle := now.Sub(end) / s.cfg.Interval
	if idle > 0 {
		n := min(int64(idle), int64(maxPressure/s.cfg.Step)+1)
		p -= float64(n) * s.cfg.Step
		s.intervals += uint64(idle)
	}
	p = min(max(p, 0), maxPressure)
	s.pressure.Store(math.Float64bits(p))
	s.haveDelay, s.minDelay = false, 0
	s.intervalEnd.Store(end.Add((idle + 1) * s.cfg.Interval).UnixNano())
}

// Snapshot is a copy of a shedder's state and counters.
type Snapshot struct {
	// Pressure is between 0 and 3 (see Shedder).
	Pressure float64
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
		Pressure:   s.Pressure(),
		InFlight:   s.inFlight,
		Queued:     s.queued,
		Intervals:  s.intervals,
		Overloaded: s.overloaded,
		Admitted:   make(map[Criticality]uint64, numRanks),
		Shed:       make(map[Criticality]uint64, numRanks),
	}
	s.mu.Unlock()
	for r, c := range byRank {
		snap.Admitted[c] = s.admitted[r].Load()
		snap.Shed[c] = s.shed[r].Load()
	}
	return snap
}
