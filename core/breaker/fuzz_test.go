package breaker

import (
	"errors"
	"math"
	"testing"
	"time"
)

// model is a naive reference implementation of the breaker's rules for a
// count window, written for clarity rather than speed: it keeps every
// outcome of the current window in a slice and recomputes everything.
type model struct {
	cfg       Config
	state     State
	gen       int
	window    []bool // outcomes of the current generation: true = failure
	consec    int
	openUntil time.Time
	opens     int
	grace     int
	probes    []time.Time // zero = free
	probeOK   int

	admitted, succeeded, failed, ignored, rejected, rejectedProbe, shadow int
}

type mPermit struct {
	gen   int
	kind  uint8
	slot  int
	start time.Time
}

func newModel(cfg Config) *model {
	cfg = cfg.withDefaults()
	return &model{cfg: cfg, probes: make([]time.Time, cfg.HalfOpenProbes)}
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
			clear(m.probes)
			m.probeOK = 0
			m.set(HalfOpen)
		case HalfOpen:
			for i, st := range m.probes {
				if st.IsZero() {
					m.probes[i] = now
					m.admitted++
					return mPermit{gen: m.gen, kind: kindProbe, slot: i, start: now}, true
				}
			}
			for _, st := range m.probes {
				if now.Sub(st) >= m.cfg.ProbeTimeout {
					m.opens++
					m.open(now, false)
					break
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
	if p.gen != m.gen {
		return
	}
	switch p.kind {
	case kindProbe:
		if !m.probes[p.slot].Equal(p.start) {
			return
		}
		m.probes[p.slot] = time.Time{}
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
		m.window = append(m.window, r == Failure)
		if r == Failure {
			m.consec++
			if k := m.cfg.ConsecutiveFailures; k > 0 && m.consec >= k {
				trip()
				return
			}
		} else {
			m.consec = 0
		}
		w := m.window[max(0, len(m.window)-m.cfg.WindowSize):]
		fails := 0
		for _, f := range w {
			if f {
				fails++
			}
		}
		if len(w) >= m.cfg.MinCalls && m.cfg.FailureRate > 0 && fails > 0 && float64(fails)*100 >= m.cfg.FailureRate*float64(len(w)) {
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
	f.Fuzz(func(t *testing.T, cfgBytes, ops []byte) {
		if len(cfgBytes) < 7 || len(ops) > 400 {
			return
		}
		size := int(cfgBytes[0]%12) + 1
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
		b, err := New(cfg)
		if err != nil {
			t.Fatalf("config %+v: %v", cfg, err)
		}
		m := newModel(cfg)
		now := t0
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
			if m.state == Closed || m.state == MetricsOnly {
				w := m.window[max(0, len(m.window)-m.cfg.WindowSize):]
				fails := 0
				for _, f := range w {
					if f {
						fails++
					}
				}
				if s.WindowCalls != len(w) || s.WindowFailures != fails {
					t.Fatalf("op %d: window %d calls/%d failures, model %d/%d", i, s.WindowCalls, s.WindowFailures, len(w), fails)
				}
			}
		}
	})
}
