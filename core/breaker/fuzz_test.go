package breaker

import (
	"errors"
	"math"
	"testing"
	"time"
)

// model is a naive reference implementation of the breaker's rules for a
// count or time window, written for clarity rather than speed: it keeps
// every outcome of the current window in a slice and recomputes everything
// after each one.
type model struct {
	cfg       Config
	epoch     time.Time // the breaker's, for time-window bucket boundaries
	state     State
	gen       int
	window    []mOutcome // outcomes of the current generation
	consec    int
	openUntil time.Time
	opens     int
	grace     int
	probes    []mProbe // probes keep their slots across periods
	probeOK   int

	admitted, succeeded, failed, ignored, rejected, rejectedProbe, shadow int
}

type mOutcome struct {
	at   time.Time
	fail bool
}

type mProbe struct {
	busy  bool
	start time.Time
	gen   int // the period that admitted it
}

type mPermit struct {
	gen   int
	kind  uint8
	slot  int
	start time.Time
}

func newModel(cfg Config, epoch time.Time) *model {
	cfg = cfg.withDefaults()
	return &model{cfg: cfg, epoch: epoch, probes: make([]mProbe, cfg.HalfOpenProbes)}
}

// counted returns the outcomes the window holds at now: the last WindowSize
// of a count window, or those in the Buckets buckets up to now's of a time
// window.
func (m *model) counted(now time.Time) (calls, fails int) {
	w := m.window
	if m.cfg.Window == CountWindow {
		w = w[max(0, len(w)-m.cfg.WindowSize):]
	}
	span := int64(m.cfg.WindowDuration) / int64(m.cfg.Buckets)
	bucket := func(t time.Time) int64 { return floorDiv(int64(t.Sub(m.epoch)), span) }
	for _, o := range w {
		if m.cfg.Window == TimeWindow {
			if d := bucket(now) - bucket(o.at); d < 0 || d >= int64(m.cfg.Buckets) {
				continue
			}
		}
		calls++
		if o.fail {
			fails++
		}
	}
	return calls, fails
}

func (m *model) set(s State) {
	m.state = s
	m.gen++
	m.window = nil
	m.consec = 0
}

func (m *model) open(now time.Time, grace bool) {
	d := float64(m.cfg.OpenDuration) * math.Pow(m.cfg.OpenBackoff, float64(m.opens))
	d = min(d, float64(m.cfg.MaxOpenDuration))
	m.openUntil = now.Add(time.Duration(d))
	m.grace = 0
	if grace {
		m.grace = m.cfg.GraceCalls
	}
	m.set(Open)
}

func (m *model) allow(now time.Time) (mPermit, bool) {
	for {
		switch m.state {
		case Closed, MetricsOnly:
			m.admitted++
			return mPermit{gen: m.gen, kind: kindClosed}, true
		case Disabled:
			m.admitted++
			return mPermit{gen: m.gen, kind: kindPass}, true
		case ForcedOpen:
			m.rejected++
			return mPermit{}, false
		case Open:
			if m.grace > 0 {
				m.grace--
				m.admitted++
				return mPermit{gen: m.gen, kind: kindPass}, true
			}
			if now.Before(m.openUntil) {
				m.rejected++
				return mPermit{}, false
			}
			m.probeOK = 0
			m.set(HalfOpen)
		case HalfOpen:
			lost := false
			for i, pr := range m.probes {
				if pr.busy && now.Sub(pr.start) >= m.cfg.ProbeTimeout {
					lost = lost || pr.gen == m.gen
					m.probes[i] = mProbe{}
				}
			}
			if lost {
				m.opens++
				m.open(now, false)
				m.rejectedProbe++
				return mPermit{}, false
			}
			for i, pr := range m.probes {
				if !pr.busy {
					m.probes[i] = mProbe{busy: true, start: now, gen: m.gen}
					m.admitted++
					return mPermit{gen: m.gen, kind: kindProbe, slot: i, start: now}, true
				}
			}
			m.rejectedProbe++
			return mPermit{}, false
		}
	}
}

func (m *model) done(p mPermit, now time.Time, r Result) {
	switch r {
	case Success:
		m.succeeded++
	case Failure:
		m.failed++
	default:
		m.ignored++
	}
	if p.kind == kindProbe {
		pr := m.probes[p.slot]
		if !pr.busy || !pr.start.Equal(p.start) || pr.gen != p.gen {
			return // timed out
		}
		m.probes[p.slot] = mProbe{}
	}
	if p.gen != m.gen {
		return
	}
	switch p.kind {
	case kindProbe:
		switch r {
		case Failure:
			m.opens++
			m.open(now, false)
		case Success:
			m.probeOK++
			if m.probeOK >= m.cfg.SuccessThreshold {
				m.opens = 0
				m.set(Closed)
			}
		}
	case kindClosed:
		if r == Ignore {
			return
		}
		trip := func() {
			if m.state == MetricsOnly {
				m.shadow++
				m.window, m.consec = nil, 0
				return
			}
			m.open(now, true)
		}
		m.window = append(m.window, mOutcome{now, r == Failure})
		if r == Failure {
			m.consec++
			if k := m.cfg.ConsecutiveFailures; k > 0 && m.consec >= k {
				trip()
				return
			}
		} else {
			m.consec = 0
		}
		calls, fails := m.counted(now)
		if calls >= m.cfg.MinCalls && m.cfg.FailureRate > 0 && fails > 0 && float64(fails)*100 >= m.cfg.FailureRate*float64(calls) {
			trip()
		}
	}
}

func (m *model) manual(op byte) {
	switch op % 5 {
	case 0:
		m.set(ForcedOpen)
	case 1:
		m.set(Disabled)
	case 2:
		m.set(MetricsOnly)
	case 3: // Release
		if m.state.Manual() {
			m.opens = 0
			m.set(Closed)
		}
	case 4: // Reset
		if m.state.Manual() {
			m.set(m.state)
		} else {
			m.opens = 0
			m.set(Closed)
		}
	}
}

func applyManual(b *Breaker, op byte) {
	m := Manual{Actor: "fuzz"}
	switch op % 5 {
	case 0:
		b.ForceOpen(m)
	case 1:
		b.Disable(m)
	case 2:
		b.MetricsOnly(m)
	case 3:
		b.Release(m)
	case 4:
		b.Reset(m)
	}
}

// FuzzBreakerMatchesModel drives the breaker and the naive model with the
// same sequence of calls, held permits, time steps and manual operations,
// and requires the same decisions, states and counters at every step.
func FuzzBreakerMatchesModel(f *testing.F) {
	f.Add([]byte{4, 2, 50, 2, 1, 1, 0}, []byte{1, 1, 1, 1, 0x50, 0, 0, 2, 2, 3, 3, 1})
	f.Add([]byte{10, 5, 30, 0, 2, 2, 1}, []byte{0, 0, 1, 1, 1, 1, 1, 0xa0, 2, 2, 2, 0x13, 0x33, 0})
	f.Add([]byte{3, 3, 100, 3, 1, 1, 2}, []byte{1, 1, 1, 0xf0, 0, 0, 0x44, 0, 0x34, 1, 1, 1, 0x54, 0})
	f.Add([]byte{1, 1, 50, 1, 3, 2, 0}, []byte{2, 2, 2, 1, 0x90, 2, 2, 2, 3, 0x13, 0x23, 0x60, 2, 0x33})
	// Three probes, one fails and reopens while two still run, into the
	// next half-open period.
	f.Add([]byte{1, 1, 50, 0, 2, 1, 0}, []byte{1, 0xa2, 2, 2, 0x13, 0xa2, 2, 2, 2, 0x03, 0x03, 2, 0x83, 2})
	// Time windows younger than their span, across a trip and a recovery.
	f.Add([]byte{4, 3, 50, 0, 1, 1, 0, 0x13}, []byte{1, 1, 1, 0x30, 0, 0, 1, 0xf0, 0xa0, 0, 0, 0, 1, 0x20, 1, 0x10, 0})
	f.Add([]byte{8, 4, 40, 0, 2, 2, 1, 0x37}, []byte{0, 0, 0, 0, 0x50, 1, 1, 0x60, 0, 1, 0x13, 0x80, 2, 0x83, 2, 0x13, 0x10, 1})
	f.Fuzz(func(t *testing.T, cfgBytes, ops []byte) {
		if len(cfgBytes) < 7 || len(ops) > 400 {
			return
		}
		size := int(cfgBytes[0]%12) + 1
		timeWindow := len(cfgBytes) > 7 && cfgBytes[7]&1 == 1
		cfg := Config{
			WindowSize:          size,
			MinCalls:            int(cfgBytes[1])%size + 1,
			FailureRate:         float64(cfgBytes[2]%100) + 1,
			ConsecutiveFailures: int(cfgBytes[3] % 5),
			HalfOpenProbes:      int(cfgBytes[4]%3) + 1,
			SuccessThreshold:    int(cfgBytes[5]%3) + 1,
			GraceCalls:          int(cfgBytes[6] % 3),
			OpenDuration:        10 * time.Second,
			OpenBackoff:         2,
			MaxOpenDuration:     50 * time.Second,
			ProbeTimeout:        7 * time.Second,
		}
		if timeWindow {
			// A time window of 1 to 8 buckets over 4 to 32 seconds: ops
			// step time by up to 15 s, so windows are young and old alike.
			cfg.Window, cfg.WindowSize = TimeWindow, 0
			cfg.Buckets = int(cfgBytes[7]>>1%8) + 1
			cfg.WindowDuration = time.Duration(cfg.Buckets*int(cfgBytes[7]>>4%4+1)) * time.Second
		}
		b, err := New(cfg)
		if err != nil {
			t.Fatalf("config %+v: %v", cfg, err)
		}
		m := newModel(cfg, b.epoch)
		now := b.epoch // as young as the breaker
		type held struct {
			p  Permit
			mp mPermit
		}
		var hold []held
		results := [3]Result{Success, Failure, Ignore}
		errs := [3]error{nil, errors.New("fail"), nil}
		for i, op := range ops {
			now = now.Add(time.Duration(op>>4) * time.Second)
			switch op & 0x0f % 4 {
			case 0, 1: // a call that finishes at once: 0 = success, 1 = failure
				p, err := b.AllowAt(bg, now)
				mp, ok := m.allow(now)
				if (err == nil) != ok {
					t.Fatalf("op %d: breaker admitted=%v, model admitted=%v (state %v)", i, err == nil, ok, m.state)
				}
				if ok {
					r := results[op&1]
					p.ReportAt(now, r)
					m.done(mp, now, r)
				}
			case 2: // admit and hold
				p, err := b.AllowAt(bg, now)
				mp, ok := m.allow(now)
				if (err == nil) != ok {
					t.Fatalf("op %d (hold): breaker admitted=%v, model admitted=%v (state %v)", i, err == nil, ok, m.state)
				}
				if ok {
					hold = append(hold, held{p, mp})
				}
			case 3: // finish the oldest held call, or a manual operation
				if len(hold) > 0 {
					h := hold[0]
					hold = hold[1:]
					k := (op >> 4) % 3
					if k == 1 {
						h.p.DoneAt(now, errs[1])
					} else {
						h.p.ReportAt(now, results[k])
					}
					m.done(h.mp, now, results[k])
				} else {
					applyManual(b, op>>4)
					m.manual(op >> 4)
				}
			}
			s := b.Snapshot()
			if s.State != m.state {
				t.Fatalf("op %d: state %v, model %v", i, s.State, m.state)
			}
			got := [...]int{int(s.Admitted), int(s.Succeeded), int(s.Failed), int(s.Ignored), int(s.Rejected), int(s.RejectedProbe), int(s.ShadowTrips), s.ConsecutiveFailures}
			want := [...]int{m.admitted, m.succeeded, m.failed, m.ignored, m.rejected, m.rejectedProbe, m.shadow, m.consec}
			if got != want {
				t.Fatalf("op %d: counters %v, model %v (admitted, succeeded, failed, ignored, rejected, rejectedProbe, shadow, consecutive)", i, got, want)
			}
			busy := 0
			for _, pr := range m.probes {
				if pr.busy {
					busy++
				}
			}
			if s.ProbesInFlight != busy {
				t.Fatalf("op %d: %d probes in flight, model %d", i, s.ProbesInFlight, busy)
			}
			if m.state == Closed || m.state == MetricsOnly {
				b.mu.Lock()
				calls, fails, _, _, _ := b.windowLocked(int64(now.Sub(b.epoch)))
				b.mu.Unlock()
				if mc, mf := m.counted(now); calls != mc || fails != mf {
					t.Fatalf("op %d: window %d calls/%d failures, model %d/%d", i, calls, fails, mc, mf)
				}
			}
		}
	})
}
