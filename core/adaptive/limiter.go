package adaptive

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Window says when a Limiter closes its window of samples and hands it to
// its Algorithm. Zero fields take their defaults.
type Window struct {
	// Samples closes the window once it holds this many samples, 1 to
	// 100000; default 10.
	Samples int `json:"windowSamples,omitempty"`
	// Interval closes a window that holds at least one sample once this long
	// has passed since it opened, so that a quiet guard still adapts;
	// default 1s.
	Interval time.Duration `json:"windowInterval,omitempty"`
}

// Default window settings.
const (
	DefaultWindowSamples  = 10
	DefaultWindowInterval = time.Second
	maxWindowSamples      = 100000
)

// Validate reports every invalid field of w, joined with errors.Join.
func (w Window) Validate() error {
	var errs []error
	if w.Samples < 0 || w.Samples > maxWindowSamples {
		errs = append(errs, fmt.Errorf("adaptive: windowSamples: %d must be between 0 (default %d) and %d", w.Samples, DefaultWindowSamples, maxWindowSamples))
	}
	if w.Interval < 0 {
		errs = append(errs, fmt.Errorf("adaptive: windowInterval: %v must not be negative", w.Interval))
	}
	return errors.Join(errs...)
}

func (w Window) withDefaults() Window {
	if w.Samples == 0 {
		w.Samples = DefaultWindowSamples
	}
	if w.Interval == 0 {
		w.Interval = DefaultWindowInterval
	}
	return w
}

// Limiter feeds an Algorithm from many goroutines at the cost of a few
// atomic additions per sample.
//
// Record adds a sample to the open window without a lock. The caller that
// fills the window (Window.Samples samples), or the first one to record
// after Window.Interval has passed since the window opened, closes it: if
// no other caller is closing one at that moment, it hands the window to the
// algorithm as one sample (the mean RTT, the highest in-flight count, and
// dropped if any sample was; samples with no RTT count only for their
// dropped flag) and publishes the new limit. Samples recorded
// while a window is being closed may count in the next one: the windows are
// approximate, the limit is not (it always comes from the algorithm, within
// its Bounds).
//
// A Limiter is safe for concurrent use. Record does not allocate.
type Limiter struct {
	// Added to by every Record.
	samples  atomic.Int64
	rttSum   atomic.Int64 // nanoseconds, each sample capped at MaxRTT
	untimed  atomic.Int64 // samples with no RTT (zero or negative)
	drops    atomic.Int64
	inflight atomic.Int64 // the highest seen in the window
	opened   atomic.Int64 // unix nanoseconds the window opened at
	started  atomic.Bool  // opened is set
	limit    atomic.Int64 // the algorithm's latest limit

	window Window

	mu  sync.Mutex // held while a window is closed; guards alg
	alg Algorithm
}

// NewLimiter returns a Limiter feeding alg, or the error of w.Validate.
// The Limiter owns alg from then on: nobody else may call its Sample.
func NewLimiter(alg Algorithm, w Window) (*Limiter, error) {
	if alg == nil {
		return nil, errors.New("adaptive: algorithm: nil")
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{window: w.withDefaults(), alg: alg}
	l.limit.Store(int64(alg.Limit()))
	return l, nil
}

// Limit returns the current limit.
func (l *Limiter) Limit() int { return int(l.limit.Load()) }

// Record adds one sample (see Algorithm.Sample) to the window. It returns
// the current limit and whether this call changed it, so that the caller
// can apply the new limit (a bulkhead's SetLimit) off the common path.
func (l *Limiter) Record(now time.Time, rtt time.Duration, inflight int, dropped bool) (limit int, changed bool) {
	n := l.samples.Add(1)
	if rtt > 0 {
		l.rttSum.Add(int64(min(rtt, MaxRTT)))
	} else {
		l.untimed.Add(1)
	}
	if dropped {
		l.drops.Add(1)
	}
	if in := int64(inflight); in > l.inflight.Load() {
		l.raiseInflight(in)
	}
	t := now.UnixNano()
	opened := l.opened.Load()
	if !l.started.Load() {
		if l.started.CompareAndSwap(false, true) {
			l.opened.Store(t)
		}
		opened = t
	}
	if n < int64(l.window.Samples) && t-opened < int64(l.window.Interval) {
		return int(l.limit.Load()), false
	}
	return l.close(now)
}

func (l *Limiter) raiseInflight(in int64) {
	for {
		old := l.inflight.Load()
		if in <= old || l.inflight.CompareAndSwap(old, in) {
			return
		}
	}
}

// close hands the open window to the algorithm, unless another caller is
// doing so.
func (l *Limiter) close(now time.Time) (int, bool) {
	if !l.mu.TryLock() {
		return int(l.limit.Load()), false
	}
	defer l.mu.Unlock()
	n := l.samples.Swap(0)
	sum := l.rttSum.Swap(0)
	untimed := l.untimed.Swap(0)
	drops := l.drops.Swap(0)
	in := l.inflight.Swap(0)
	l.opened.Store(now.UnixNano())
	old := l.limit.Load()
	if n <= 0 {
		return int(old), false
	}
	var rtt time.Duration // 0: no RTT in the window, which the algorithm ignores
	if timed := n - untimed; timed > 0 {
		rtt = time.Duration(sum / timed)
		if sum < 0 { // overflow, which capped samples make unreachable
			rtt = MaxRTT
		}
	}
	next := int64(l.alg.Sample(now, rtt, int(in), drops > 0))
	l.limit.Store(next)
	return int(next), next != old
}
