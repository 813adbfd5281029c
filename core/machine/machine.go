// Package machine runs user-defined state machines for guards: custom
// states beyond closed, open and half-open (a "degraded" state that admits
// a share of calls, a "readOnly" state that admits only calls marked read)
// and the transitions between them, taken on conditions over the outcomes
// seen in the current state and the time spent in it.
//
// A Spec is plain data. Compile checks it (unknown states, unreachable
// states, states with no way out, bad rates, counts and durations, every
// problem naming its field and value) and returns a Graph, immutable and
// shared; Graph.Start returns a running Machine. A Machine reads no clock:
// every method takes the time, so that tests, replays and simulations drive
// it on their own clock.
//
// # The model
//
// A machine is in one state at a time, which decides admission:
//
//	all       every call (the default)
//	none      no call
//	percent   a share of calls, spread evenly and deterministically: with
//	          percent 50, every second call (the first call is admitted)
//	readOnly  only calls whose context is marked with MarkRead
//
// Every outcome recorded in a state goes into the state's window: the last
// Spec.Window outcomes (default 100), emptied when the machine enters a
// state. A transition leaves its From state for its To state when every
// condition of its When holds (AND); zero conditions are not set:
//
//	minCalls               at least n outcomes in the window
//	failureRateAtLeast     failures / outcomes >= x (needs one outcome)
//	failureRateBelow       failures / outcomes <  x (needs one outcome)
//	slowRateAtLeast        slow outcomes / outcomes >= x (needs one outcome)
//	slowRateBelow          slow outcomes / outcomes <  x (needs one outcome)
//	consecutiveFailures    the last n outcomes failed
//	consecutiveSuccesses   the last n outcomes succeeded
//	after                  at least d spent in the state
//
// Transitions are evaluated in the order the spec lists them, after each
// recorded outcome and at each Allow and Advance; the first whose
// conditions hold is taken. A machine sets no timer: a caller on the real
// clock that wants time-based transitions taken without traffic calls
// Advance when Graph.NextAfter says one may be due (package core does). Entering a state empties its window, so no
// condition holds at the instant of entry (each needs an outcome or a
// positive time): one evaluation takes at most one transition.
//
// A Machine is safe for concurrent use (a mutex: only guards that have a
// machine pay for it).
package machine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Admission rules of a State.
const (
	AdmitAll      = "all"
	AdmitNone     = "none"
	AdmitPercent  = "percent"
	AdmitReadOnly = "readOnly"
)

// Limits on a Spec.
const (
	// DefaultWindow is the window of a Spec that sets none.
	DefaultWindow = 100
	// MaxWindow is the largest window a Spec may set.
	MaxWindow = 10_000
	// MaxStates is the most states a Spec may have.
	MaxStates = 32
	// MaxTransitions is the most transitions a Spec may have.
	MaxTransitions = 256
	// MaxDuration is the longest duration a Spec may hold (2^62ns, about
	// 146 years, as core.MaxDuration).
	MaxDuration = time.Duration(1 << 62)
	// maxName is the longest state name.
	maxName = 32
)

// Spec describes a machine. Compile checks it.
type Spec struct {
	// Initial names the state a machine starts in; required.
	Initial string
	// States lists the states, at least one; names are unique.
	States []State
	// Transitions lists the ways from state to state, evaluated in order.
	Transitions []Transition
	// Window is the number of recent outcomes rates and counts are taken
	// over (0 means DefaultWindow).
	Window int
	// SlowCall is the latency from which an outcome counts as slow; the
	// slow-rate conditions need it.
	SlowCall time.Duration
}

// State is one state of a Spec.
type State struct {
	// Name is a letter followed by letters, digits or "_", at most 32.
	Name string
	// Admit is the admission rule: AdmitAll (also ""), AdmitNone,
	// AdmitPercent or AdmitReadOnly.
	Admit string
	// Percent is the share of calls AdmitPercent admits, in (0, 100];
	// at most three decimals count.
	Percent float64
	// Manual marks a state entered only by an operator (Machine.Set): it
	// may have no transition leading to it or leaving it.
	Manual bool
}

// Transition leaves From for To when every condition of When holds.
type Transition struct {
	From, To string
	When     Condition
}

// Condition is what a transition waits for: every field set (non-zero)
// must hold; at least one must be set.
type Condition struct {
	FailureRateAtLeast   float64
	FailureRateBelow     float64
	SlowRateAtLeast      float64
	SlowRateBelow        float64
	MinCalls             int
	ConsecutiveFailures  int
	ConsecutiveSuccesses int
	After                time.Duration
}

// String describes c as a diagram labels it: "failureRate >= 0.5 and
// calls >= 20".
func (c Condition) String() string {
	var parts []string
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	if c.FailureRateAtLeast > 0 {
		parts = append(parts, "failureRate >= "+f(c.FailureRateAtLeast))
	}
	if c.FailureRateBelow > 0 {
		parts = append(parts, "failureRate < "+f(c.FailureRateBelow))
	}
	if c.SlowRateAtLeast > 0 {
		parts = append(parts, "slowRate >= "+f(c.SlowRateAtLeast))
	}
	if c.SlowRateBelow > 0 {
		parts = append(parts, "slowRate < "+f(c.SlowRateBelow))
	}
	if c.MinCalls > 0 {
		parts = append(parts, "calls >= "+strconv.Itoa(c.MinCalls))
	}
	if c.ConsecutiveFailures > 0 {
		parts = append(parts, "consecutiveFailures >= "+strconv.Itoa(c.ConsecutiveFailures))
	}
	if c.ConsecutiveSuccesses > 0 {
		parts = append(parts, "consecutiveSuccesses >= "+strconv.Itoa(c.ConsecutiveSuccesses))
	}
	if c.After > 0 {
		parts = append(parts, "after "+c.After.String())
	}
	return strings.Join(parts, " and ")
}

func (c Condition) isZero() bool { return c == Condition{} }

// Problem is one thing wrong with a Spec: the field by its path
// ("states[2].name"), its value as written, and what is wrong.
type Problem struct {
	Path    string
	Value   string
	Message string
}

// Error returns "path: value: message" ("states[2].name: \"degraded\": no
// transition leaves this state").
func (p Problem) Error() string {
	if p.Value == "" {
		return p.Path + ": " + p.Message
	}
	return p.Path + ": " + p.Value + " " + p.Message
}

// SpecError lists every problem Compile found, in field order.
type SpecError struct {
	Problems []Problem
}

// Error joins the problems, one a line.
func (e *SpecError) Error() string {
	s := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		s[i] = p.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap returns each problem as an error.
func (e *SpecError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// Graph is a compiled Spec: immutable, shared by the machines it starts.
type Graph struct {
	spec     Spec
	states   []state
	out      [][]edge // by state index, in spec order
	index    map[string]int
	initial  int
	window   int
	readOnly bool // some state admits read calls only
}

type state struct {
	name   string
	admit  uint8
	share  int64 // admitted share in thousandths of a percent (1..100_000)
	manual bool
}

const (
	admitAll uint8 = iota
	admitNone
	admitPercent
	admitRead
)

type edge struct {
	to   int
	when Condition
}

// Compile checks spec and returns its Graph, or a *SpecError listing
// every problem, each naming its field and value.
func Compile(spec Spec) (*Graph, error) {
	var probs []Problem
	bad := func(path, value, msg string) { probs = append(probs, Problem{path, value, msg}) }
	g := &Graph{index: map[string]int{}, initial: -1}
	switch {
	case spec.Window < 0 || spec.Window > MaxWindow:
		bad("window", strconv.Itoa(spec.Window), fmt.Sprintf("must be from 1 to %d outcomes (0 means %d)", MaxWindow, DefaultWindow))
	case spec.Window == 0:
		g.window = DefaultWindow
	default:
		g.window = spec.Window
	}
	if spec.SlowCall < 0 || spec.SlowCall > MaxDuration {
		bad("slowCall", spec.SlowCall.String(), "must be a positive duration of at most 2^62ns (0 means not set)")
	}
	if len(spec.States) == 0 {
		bad("states", "[]", "a machine needs at least one state")
	}
	if len(spec.States) > MaxStates {
		bad("states", strconv.Itoa(len(spec.States))+" states", fmt.Sprintf("are more than %d", MaxStates))
	}
	for i, s := range spec.States {
		path := fmt.Sprintf("states[%d]", i)
		st := state{name: s.Name, manual: s.Manual, share: 100_000}
		if err := checkName(s.Name); err != nil {
			bad(path+".name", strconv.Quote(s.Name), err.Error())
		} else if j, dup := g.index[s.Name]; dup {
			bad(path+".name", strconv.Quote(s.Name), fmt.Sprintf("is already the name of states[%d]", j))
		} else {
			g.index[s.Name] = i
		}
		switch s.Admit {
		case "", AdmitAll:
		case AdmitNone:
			st.admit = admitNone
		case AdmitReadOnly:
			st.admit = admitRead
			g.readOnly = true
		case AdmitPercent:
			st.admit = admitPercent
			if !(s.Percent > 0 && s.Percent <= 100) {
				bad(path+".percent", fmtFloat(s.Percent), "must be above 0 and at most 100 with admit \"percent\"")
			} else if st.share = int64(s.Percent*1000 + 0.5); st.share < 1 {
				bad(path+".percent", fmtFloat(s.Percent), "is below 0.001, the smallest share")
			}
		default:
			bad(path+".admit", strconv.Quote(s.Admit), `is not an admission rule: want "all", "none", "percent" or "readOnly"`)
		}
		if s.Admit != AdmitPercent && s.Percent != 0 {
			bad(path+".percent", fmtFloat(s.Percent), `is set, but admit is not "percent"`)
		}
		g.states = append(g.states, st)
	}
	if spec.Initial == "" {
		bad("initial", `""`, "is required: name the state machines start in")
	} else if i, ok := g.index[spec.Initial]; !ok {
		bad("initial", strconv.Quote(spec.Initial), "is not a state of this machine"+g.known())
	} else {
		g.initial = i
	}
	if len(spec.Transitions) > MaxTransitions {
		bad("transitions", strconv.Itoa(len(spec.Transitions))+" transitions", fmt.Sprintf("are more than %d", MaxTransitions))
	}
	g.out = make([][]edge, len(g.states))
	for i, t := range spec.Transitions {
		path := fmt.Sprintf("transitions[%d]", i)
		from, okFrom := g.index[t.From]
		to, okTo := g.index[t.To]
		if !okFrom {
			bad(path+".from", strconv.Quote(t.From), "is not a state of this machine"+g.known())
		}
		if !okTo {
			bad(path+".to", strconv.Quote(t.To), "is not a state of this machine"+g.known())
		}
		if okFrom && okTo && from == to {
			bad(path+".to", strconv.Quote(t.To), "is the state the transition leaves (from): a transition must go to another state")
		}
		n := len(probs)
		checkCondition(t.When, path+".when", spec.SlowCall > 0, bad)
		if okFrom && okTo && from != to && len(probs) == n {
			g.out[from] = append(g.out[from], edge{to: to, when: t.When})
		}
	}
	if len(probs) == 0 {
		probs = g.checkGraph(probs)
	}
	if len(probs) > 0 {
		return nil, &SpecError{Problems: probs}
	}
	g.spec = cloneSpec(spec)
	return g, nil
}

// checkGraph refuses unreachable states, states with no way out, and
// states from which the initial state can never be reached again.
func (g *Graph) checkGraph(probs []Problem) []Problem {
	n := len(g.states)
	fwd := reach(g.initial, n, func(i int, f func(int)) {
		for _, e := range g.out[i] {
			f(e.to)
		}
	})
	in := make([][]int, n)
	for from, es := range g.out {
		for _, e := range es {
			in[e.to] = append(in[e.to], from)
		}
	}
	back := reach(g.initial, n, func(i int, f func(int)) {
		for _, from := range in[i] {
			f(from)
		}
	})
	for i, s := range g.states {
		if s.manual {
			continue
		}
		path := fmt.Sprintf("states[%d].name", i)
		switch {
		case !fwd[i]:
			probs = append(probs, Problem{path, strconv.Quote(s.name), "is unreachable: no transition leads to it from the initial state " + strconv.Quote(g.states[g.initial].name) + ` (mark it "manual" if only operators enter it)`})
		case len(g.out[i]) == 0 && n > 1:
			probs = append(probs, Problem{path, strconv.Quote(s.name), `has no way out: no transition leaves this state (mark it "manual" if only operators move it on)`})
		case !back[i]:
			probs = append(probs, Problem{path, strconv.Quote(s.name), "has no way back: no path of transitions leads from it to the initial state " + strconv.Quote(g.states[g.initial].name)})
		}
	}
	return probs
}

// reach marks the states reachable from start through next.
func reach(start, n int, next func(int, func(int))) []bool {
	seen := make([]bool, n)
	seen[start] = true
	stack := []int{start}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		next(i, func(j int) {
			if !seen[j] {
				seen[j] = true
				stack = append(stack, j)
			}
		})
	}
	return seen
}

func checkCondition(c Condition, path string, slowSet bool, bad func(path, value, msg string)) {
	if c.isZero() {
		bad(path, "{}", "has no condition: set at least one (minCalls, failureRateAtLeast, after, ...)")
		return
	}
	rate := func(name string, v float64) {
		if !(v >= 0 && v <= 1) {
			bad(path+"."+name, fmtFloat(v), "must be a rate from 0 to 1")
		}
	}
	rate("failureRateAtLeast", c.FailureRateAtLeast)
	rate("failureRateBelow", c.FailureRateBelow)
	rate("slowRateAtLeast", c.SlowRateAtLeast)
	rate("slowRateBelow", c.SlowRateBelow)
	if (c.SlowRateAtLeast != 0 || c.SlowRateBelow != 0) && !slowSet {
		bad(path+".slowRate", fmtFloat(max(c.SlowRateAtLeast, c.SlowRateBelow)), "needs slowCall, the latency from which a call is slow")
	}
	count := func(name string, v int) {
		if v < 0 {
			bad(path+"."+name, strconv.Itoa(v), "must not be negative")
		}
	}
	count("minCalls", c.MinCalls)
	count("consecutiveFailures", c.ConsecutiveFailures)
	count("consecutiveSuccesses", c.ConsecutiveSuccesses)
	if c.After < 0 || c.After > MaxDuration {
		bad(path+".after", c.After.String(), "must be a positive duration of at most 2^62ns")
	}
}

func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("must not be empty")
	case len(s) > maxName:
		return fmt.Errorf("is longer than %d characters", maxName)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if !(letter || i > 0 && ('0' <= c && c <= '9' || c == '_')) {
			return errors.New("is not a name: a letter, then letters, digits or \"_\"")
		}
	}
	return nil
}

func (g *Graph) known() string {
	if len(g.index) == 0 {
		return ""
	}
	names := make([]string, 0, len(g.states))
	for _, s := range g.states {
		if _, ok := g.index[s.name]; ok {
			names = append(names, s.name)
		}
	}
	return " (states: " + strings.Join(names, ", ") + ")"
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func cloneSpec(s Spec) Spec {
	s.States = slices.Clone(s.States)
	s.Transitions = slices.Clone(s.Transitions)
	return s
}

// Spec returns the spec g was compiled from (a copy).
func (g *Graph) Spec() Spec { return cloneSpec(g.spec) }

// Window returns the number of outcomes rates are taken over.
func (g *Graph) Window() int { return g.window }

// States returns the state names, in spec order.
func (g *Graph) States() []string {
	out := make([]string, len(g.states))
	for i, s := range g.states {
		out[i] = s.name
	}
	return out
}

// Index returns the index of the state called name in States, or -1.
func (g *Graph) Index(name string) int {
	if i, ok := g.index[name]; ok {
		return i
	}
	return -1
}

// Initial returns the name of the initial state.
func (g *Graph) Initial() string { return g.states[g.initial].name }

// ReadOnly reports whether some state admits only calls marked read, so
// that a caller asks IsRead only then.
func (g *Graph) ReadOnly() bool { return g.readOnly }

// NextAfter returns the shortest After among the transitions out of the
// state called name: the time in that state after which Advance may take
// one of them without any outcome; false when none waits on time.
func (g *Graph) NextAfter(name string) (time.Duration, bool) {
	i, ok := g.index[name]
	if !ok {
		return 0, false
	}
	var d time.Duration
	for _, e := range g.out[i] {
		if a := e.when.After; a > 0 && (d == 0 || a < d) {
			d = a
		}
	}
	return d, d > 0
}

// SlowCall returns the spec's slow-call latency; zero when not set.
func (g *Graph) SlowCall() time.Duration { return g.spec.SlowCall }

// Change is one change of a machine's state.
type Change struct {
	From, To string
	// At is the time given to the method that made the change.
	At time.Time
	// Reason says why: the conditions that held ("failureRate >= 0.5 and
	// calls >= 20"), or an operator's reason.
	Reason string
	// Actor is who moved the machine by hand (Set); empty for a
	// transition of the spec.
	Actor string
}

// Status is a copy of a machine's state and counters.
type Status struct {
	// State is the current state's name, Since when the machine entered it.
	State string
	Since time.Time
	// Calls, Failures and Slow count the outcomes in the window.
	Calls, Failures, Slow int
	// ConsecutiveFailures and ConsecutiveSuccesses count the latest run of
	// like outcomes in the state.
	ConsecutiveFailures, ConsecutiveSuccesses int
	// Admitted and Rejected count admission decisions, cumulative.
	Admitted, Rejected uint64
	// Transitions counts state changes, cumulative.
	Transitions uint64
}

// Machine is a running instance of a Graph.
type Machine struct {
	g      *Graph
	notify func(Change)

	// Guarded by mu.
	mu          sync.Mutex
	cur         int
	since       time.Time
	ring        []uint8 // outcome bits: 1 failed, 2 slow
	head, n     int
	failures    int
	slow        int
	consecF     int
	consecS     int
	credit      int64 // percent admission: admit when it reaches 100_000
	admitted    uint64
	rejected    uint64
	transitions uint64
}

const (
	bitFailed = 1
	bitSlow   = 2
	fullShare = 100_000
)

// Start returns a machine in the initial state at time at. With the zero
// at, the machine counts its time in state from the time of the first
// event it is given. notify, if not nil, is called after every
// transition, outside the machine's lock, in the goroutine of the method
// that made it.
func (g *Graph) Start(at time.Time, notify func(Change)) *Machine {
	return g.StartIn(at, "", notify)
}

// StartIn is Start in the state called name, or in the initial state when
// g has no such state.
func (g *Graph) StartIn(at time.Time, name string, notify func(Change)) *Machine {
	m := &Machine{g: g, notify: notify, ring: make([]uint8, g.window)}
	m.cur = g.initial
	if i, ok := g.index[name]; ok {
		m.cur = i
	}
	m.enterLocked(m.cur, at)
	return m
}

// Graph returns the machine's graph.
func (m *Machine) Graph() *Graph { return m.g }

// Allow evaluates the transitions at time at, then decides whether the
// current state admits a call; read says the call is marked read (see
// MarkRead). It returns the decision and the index of the state that made
// it (see Graph.States).
func (m *Machine) Allow(at time.Time, read bool) (ok bool, state int) {
	m.mu.Lock()
	t, moved := m.evaluateLocked(at)
	st := &m.g.states[m.cur]
	switch st.admit {
	case admitAll:
		ok = true
	case admitRead:
		ok = read
	case admitPercent:
		m.credit += st.share
		if m.credit >= fullShare {
			m.credit -= fullShare
			ok = true
		}
	}
	if ok {
		m.admitted++
	} else {
		m.rejected++
	}
	state = m.cur
	m.mu.Unlock()
	if moved && m.notify != nil {
		m.notify(t)
	}
	return ok, state
}

// Record records an outcome at time at (failed, slow), then evaluates the
// transitions.
func (m *Machine) Record(at time.Time, failed, slow bool) {
	m.mu.Lock()
	var b uint8
	if failed {
		b |= bitFailed
		m.consecF++
		m.consecS = 0
	} else {
		m.consecS++
		m.consecF = 0
	}
	if slow {
		b |= bitSlow
	}
	if m.n == len(m.ring) {
		old := m.ring[m.head]
		m.failures -= int(old & bitFailed)
		m.slow -= int(old&bitSlow) >> 1
	} else {
		m.n++
	}
	m.ring[m.head] = b
	m.head = (m.head + 1) % len(m.ring)
	m.failures += int(b & bitFailed)
	m.slow += int(b&bitSlow) >> 1
	t, moved := m.evaluateLocked(at)
	m.mu.Unlock()
	if moved && m.notify != nil {
		m.notify(t)
	}
}

// Advance evaluates the transitions at time at (those waiting on time in
// the state).
func (m *Machine) Advance(at time.Time) {
	m.mu.Lock()
	t, moved := m.evaluateLocked(at)
	m.mu.Unlock()
	if moved && m.notify != nil {
		m.notify(t)
	}
}

// ErrUnknownState is returned (wrapped, naming the state) by Set for a
// state the machine does not have.
var ErrUnknownState = errors.New("machine: unknown state")

// Set moves the machine to the state called name at time at, by hand,
// whatever the conditions say; actor and reason go on the transition. Set
// to the current state starts it afresh (empty window, time from at).
func (m *Machine) Set(at time.Time, name, actor, reason string) (Change, error) {
	i, ok := m.g.index[name]
	if !ok {
		return Change{}, fmt.Errorf("%w %q%s", ErrUnknownState, name, m.g.known())
	}
	m.mu.Lock()
	t := Change{From: m.g.states[m.cur].name, To: name, At: at, Reason: reason, Actor: actor}
	m.enterLocked(i, at)
	m.transitions++
	m.mu.Unlock()
	if m.notify != nil {
		m.notify(t)
	}
	return t, nil
}

// Status returns a copy of the machine's state and counters.
func (m *Machine) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Status{
		State: m.g.states[m.cur].name, Since: m.since,
		Calls: m.n, Failures: m.failures, Slow: m.slow,
		ConsecutiveFailures: m.consecF, ConsecutiveSuccesses: m.consecS,
		Admitted: m.admitted, Rejected: m.rejected, Transitions: m.transitions,
	}
}

// State returns the current state's name.
func (m *Machine) State() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.g.states[m.cur].name
}

func (m *Machine) enterLocked(i int, at time.Time) {
	m.cur, m.since = i, at
	m.head, m.n, m.failures, m.slow, m.consecF, m.consecS = 0, 0, 0, 0, 0, 0
	// The first call in a percent state is admitted.
	m.credit = fullShare - m.g.states[i].share
}

// evaluateLocked takes the first transition out of the current state
// whose conditions hold at time at.
func (m *Machine) evaluateLocked(at time.Time) (Change, bool) {
	if m.since.IsZero() {
		m.since = at // started at the zero time: see Start
	}
	for _, e := range m.g.out[m.cur] {
		if m.holdsLocked(&e.when, at) {
			t := Change{From: m.g.states[m.cur].name, To: m.g.states[e.to].name, At: at, Reason: e.when.String()}
			m.enterLocked(e.to, at)
			m.transitions++
			return t, true
		}
	}
	return Change{}, false
}

func (m *Machine) holdsLocked(c *Condition, at time.Time) bool {
	calls := float64(m.n)
	switch {
	case c.MinCalls > 0 && m.n < c.MinCalls,
		c.ConsecutiveFailures > 0 && m.consecF < c.ConsecutiveFailures,
		c.ConsecutiveSuccesses > 0 && m.consecS < c.ConsecutiveSuccesses,
		c.After > 0 && at.Sub(m.since) < c.After:
		return false
	}
	if c.FailureRateAtLeast > 0 || c.FailureRateBelow > 0 || c.SlowRateAtLeast > 0 || c.SlowRateBelow > 0 {
		if m.n == 0 {
			return false
		}
		fr, sr := float64(m.failures)/calls, float64(m.slow)/calls
		switch {
		case c.FailureRateAtLeast > 0 && fr < c.FailureRateAtLeast,
			c.FailureRateBelow > 0 && fr >= c.FailureRateBelow,
			c.SlowRateAtLeast > 0 && sr < c.SlowRateAtLeast,
			c.SlowRateBelow > 0 && sr >= c.SlowRateBelow:
			return false
		}
	}
	return true
}

type readKey struct{}

// MarkRead returns a context whose calls are marked read: a state with
// admit "readOnly" admits them.
func MarkRead(ctx context.Context) context.Context {
	return context.WithValue(ctx, readKey{}, true)
}

// IsRead reports whether ctx was marked with MarkRead.
func IsRead(ctx context.Context) bool {
	v, _ := ctx.Value(readKey{}).(bool)
	return v
}
