package machine_test

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core/machine"
)

// model is a naive reference machine: it keeps every outcome of the state
// in a slice and recomputes everything from it on each question.
type model struct {
	spec     machine.Spec
	window   int
	cur      string
	since    time.Time
	outcomes []uint8 // 1 failed, 2 slow
	calls    int     // Allow calls in the state
	admitted int     // of which admitted, for percent states
}

func (m *model) state(name string) machine.State {
	for _, s := range m.spec.States {
		if s.Name == name {
			return s
		}
	}
	panic("no state " + name)
}

func (m *model) enter(name string, at time.Time) {
	m.cur, m.since, m.outcomes, m.calls, m.admitted = name, at, nil, 0, 0
}

func (m *model) holds(c machine.Condition, at time.Time) bool {
	w := m.outcomes
	if len(w) > m.window {
		w = w[len(w)-m.window:]
	}
	var f, s int
	for _, o := range w {
		f += int(o & 1)
		s += int(o>>1) & 1
	}
	// Runs count every outcome of the state, not only the window's.
	var cf, cs int
	for i := len(m.outcomes) - 1; i >= 0 && m.outcomes[i]&1 == 1; i-- {
		cf++
	}
	for i := len(m.outcomes) - 1; i >= 0 && m.outcomes[i]&1 == 0; i-- {
		cs++
	}
	n := len(w)
	rate := func(k int) float64 { return float64(k) / float64(n) }
	if c.MinCalls > 0 && n < c.MinCalls {
		return false
	}
	if c.ConsecutiveFailures > 0 && cf < c.ConsecutiveFailures {
		return false
	}
	if c.ConsecutiveSuccesses > 0 && cs < c.ConsecutiveSuccesses {
		return false
	}
	if c.After > 0 && at.Sub(m.since) < c.After {
		return false
	}
	rated := c.FailureRateAtLeast > 0 || c.FailureRateBelow > 0 || c.SlowRateAtLeast > 0 || c.SlowRateBelow > 0
	if rated && n == 0 {
		return false
	}
	if c.FailureRateAtLeast > 0 && !(rate(f) >= c.FailureRateAtLeast) {
		return false
	}
	if c.FailureRateBelow > 0 && !(rate(f) < c.FailureRateBelow) {
		return false
	}
	if c.SlowRateAtLeast > 0 && !(rate(s) >= c.SlowRateAtLeast) {
		return false
	}
	if c.SlowRateBelow > 0 && !(rate(s) < c.SlowRateBelow) {
		return false
	}
	return true
}

func (m *model) evaluate(at time.Time) {
	for _, t := range m.spec.Transitions {
		if t.From == m.cur && m.holds(t.When, at) {
			m.enter(t.To, at)
			return
		}
	}
}

func (m *model) allow(at time.Time, read bool) bool {
	m.evaluate(at)
	st := m.state(m.cur)
	switch st.Admit {
	case machine.AdmitNone:
		return false
	case machine.AdmitReadOnly:
		return read
	case machine.AdmitPercent:
		// Call k (from 1) is admitted when 1 + floor((k-1)·share/100000)
		// admissions are due after it and fewer were made.
		share := int(st.Percent*1000 + 0.5)
		m.calls++
		due := 1 + (m.calls-1)*share/100_000
		if due > m.admitted {
			m.admitted = due
			return true
		}
		return false
	}
	return true
}

func (m *model) record(at time.Time, failed, slow bool) {
	var o uint8
	if failed {
		o |= 1
	}
	if slow {
		o |= 2
	}
	m.outcomes = append(m.outcomes, o)
	m.evaluate(at)
}

// reader hands out fuzz bytes, zero once they run out.
type reader struct {
	b []byte
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) n(k int) int { return int(r.byte()) % k }

var stateNames = []string{"s0", "s1", "s2", "s3", "s4"}

// specFrom builds a machine from fuzz bytes: a ring of states (so every
// state is reachable and has a way back) with extra transitions, each with
// a random set of conditions.
func specFrom(r *reader) machine.Spec {
	n := 2 + r.n(4)
	spec := machine.Spec{Initial: "s0", Window: 1 + r.n(12), SlowCall: time.Second}
	admits := []string{machine.AdmitAll, machine.AdmitNone, machine.AdmitPercent, machine.AdmitReadOnly}
	for i := range n {
		s := machine.State{Name: stateNames[i], Admit: admits[r.n(4)]}
		if s.Admit == machine.AdmitPercent {
			s.Percent = []float64{1, 12.5, 33.333, 50, 66.6, 99.999, 100}[r.n(7)]
		}
		spec.States = append(spec.States, s)
	}
	cond := func() machine.Condition {
		var c machine.Condition
		for more := true; more || c == (machine.Condition{}); more = r.n(3) == 1 {
			switch r.n(8) {
			case 0:
				c.FailureRateAtLeast = float64(1+r.n(10)) / 10
			case 1:
				c.FailureRateBelow = float64(1+r.n(10)) / 10
			case 2:
				c.SlowRateAtLeast = float64(1+r.n(10)) / 10
			case 3:
				c.SlowRateBelow = float64(1+r.n(10)) / 10
			case 4:
				c.MinCalls = 1 + r.n(15)
			case 5:
				c.ConsecutiveFailures = 1 + r.n(6)
			case 6:
				c.ConsecutiveSuccesses = 1 + r.n(6)
			case 7:
				c.After = time.Duration(1+r.n(30)) * time.Second
			}
		}
		return c
	}
	extra := r.n(5)
	var ts []machine.Transition
	for i := range n {
		ts = append(ts, machine.Transition{From: stateNames[i], To: stateNames[(i+1)%n], When: cond()})
	}
	for range extra {
		from, to := r.n(n), r.n(n)
		if from != to {
			ts = append(ts, machine.Transition{From: stateNames[from], To: stateNames[to], When: cond()})
		}
	}
	// Shuffle the order a little: evaluation order matters.
	for i := range ts {
		j := r.n(len(ts))
		ts[i], ts[j] = ts[j], ts[i]
	}
	spec.Transitions = ts
	return spec
}

// FuzzMachineAgainstModel holds the machine against the naive model on
// random machines and random sequences of calls, outcomes and time.
func FuzzMachineAgainstModel(f *testing.F) {
	seedCorpus(f)
	f.Fuzz(checkAgainstModel)
}

// TestMachineAgainstModel runs the fuzz test's check on a thousand inputs
// from a seeded generator, so that plain go test covers more than the
// seed corpus.
func TestMachineAgainstModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 42))
	for i := range 1000 {
		data := make([]byte, 16+rng.IntN(600))
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		t.Run(strconv.Itoa(i), func(t *testing.T) { checkAgainstModel(t, data) })
	}
}

func seedCorpus(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte("a degraded machine with percentages and read-only states"))
	f.Add([]byte{3, 9, 2, 2, 2, 3, 3, 3, 0, 0, 0, 1, 4, 4, 4, 4, 4, 7, 7, 7, 250, 251, 252, 253, 1, 1, 1, 1, 1, 1, 1, 1})
}

// checkAgainstModel builds a machine and a sequence of events from data
// and holds the machine to the model at every step.
func checkAgainstModel(t *testing.T, data []byte) {
	r := &reader{b: data}
	spec := specFrom(r)
	g, err := machine.Compile(spec)
	if err != nil {
		t.Fatalf("a ring machine is refused: %v", err)
	}
	var notified []machine.Change
	m := g.Start(t0, func(c machine.Change) { notified = append(notified, c) })
	ref := &model{spec: spec, window: spec.Window}
	ref.enter(spec.Initial, t0)
	at := t0
	transitions := 0
	for step := 0; len(r.b) > 0 && step < 2000; step++ {
		at = at.Add(time.Duration(r.n(4)) * 700 * time.Millisecond)
		before := ref.cur
		switch op := r.n(5); op {
		case 0, 1:
			read := r.n(2) == 0
			got, st := m.Allow(at, read)
			want := ref.allow(at, read)
			if got != want || g.States()[st] != ref.cur {
				t.Fatalf("step %d Allow(read=%v) in %s: got %v in %s, model %v in %s", step, read, before, got, g.States()[st], want, ref.cur)
			}
		case 2, 3:
			failed, slow := r.n(2) == 0, r.n(3) == 0
			m.Record(at, failed, slow)
			ref.record(at, failed, slow)
		case 4:
			m.Advance(at)
			ref.evaluate(at)
		}
		if ref.cur != before {
			transitions++
		}
		if s := m.Status(); s.State != ref.cur {
			t.Fatalf("step %d: machine in %s, model in %s", step, s.State, ref.cur)
		}
	}
	if len(notified) != transitions || m.Status().Transitions != uint64(transitions) {
		t.Fatalf("%d notifications, %d counted, model made %d transitions", len(notified), m.Status().Transitions, transitions)
	}
}
