package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/machine"
	"github.com/breakerbox/breakerbox/internal/reject"
)

// This file gives guards custom states (issue #23): a policy's machine
// section (MachinePolicy) compiles to a machine.Graph, and each guard of
// the policy runs a machine.Machine of it alongside its breaker. A call
// must be admitted by both: the machine is asked after the throttle and
// the rate limit, before the bulkhead and the breaker; every reported
// outcome the breaker's classifier does not ignore is recorded by both.
// A guard without a machine pays one nil check when it admits a call and
// nothing more when it reports one (the report path tests one flag for the
// adaptive limit, the throttle and the machine together).

// MachinePolicy defines custom states for a policy's guards (see package
// core/machine, docs/custom-states.md and examples/policies/custom-states.yaml):
// named states, each with an admission rule, and transitions between them
// on conditions over the calls seen in the current state and the time
// spent in it. A guard with a machine runs it alongside its breaker; a
// call must be admitted by both.
//
// The machine is checked when the document is: unknown states, states no
// transition reaches from the initial state, states no transition leaves
// and states with no path back to the initial state are refused (a state
// marked manual, entered only by operators, is exempt), as are rates
// outside [0, 1], negative counts and durations, and percentages outside
// (0, 100], each problem naming its field and value.
//
// Across a reload, a guard whose policy keeps the same machine section
// keeps its machine (state, window, time in state). A changed section
// starts a new machine in the state of the same name when the new section
// has one (else in its initial state), with an empty window and its time
// in state counted from the reload.
type MachinePolicy struct {
	// Initial names the state guards start in; required.
	Initial string `json:"initial"`
	// Window is the number of recent outcomes in a state that rates and
	// counts are taken over; zero means 100, at most 10000.
	Window int `json:"window,omitempty"`
	// SlowCall is the latency from which a call counts as slow, for the
	// slowRate conditions; zero means not set.
	SlowCall Duration `json:"slowCall,omitempty"`
	// States lists the states; names are a letter followed by letters,
	// digits or "_", at most 32.
	States []MachineState `json:"states"`
	// Transitions lists the ways from state to state, evaluated in order:
	// the first whose conditions all hold is taken.
	Transitions []MachineTransition `json:"transitions,omitempty"`
}

// MachineState is one custom state.
type MachineState struct {
	// Name names the state: a letter, then letters, digits or "_".
	Name string `json:"name"`
	// Admit says which calls the state admits: "all" (default), "none",
	// "percent" (Percent of them, spread evenly: with 50, every second
	// call) or "readOnly" (only calls whose context is marked with
	// WithReadOnly).
	Admit string `json:"admit,omitempty"`
	// Percent is the share of calls admit "percent" admits, above 0 and at
	// most 100.
	Percent float64 `json:"percent,omitempty"`
	// Manual marks a state only operators enter (POST
	// /v1/machines/{guard}/state): it may be unreachable by transitions and
	// have none leaving it.
	Manual bool `json:"manual,omitempty"`
}

// MachineTransition leaves From for To when every condition of When holds.
type MachineTransition struct {
	// From names the state the transition leaves.
	From string `json:"from"`
	// To names the state it enters.
	To string `json:"to"`
	// When lists the conditions, all of which must hold; at least one.
	When MachineCondition `json:"when"`
}

// MachineCondition is what a transition waits for. Zero fields are not
// set; rates are taken over the window of the current state and need at
// least one outcome in it.
type MachineCondition struct {
	// FailureRateAtLeast holds when failures / calls >= the value (0 to 1).
	FailureRateAtLeast float64 `json:"failureRateAtLeast,omitempty"`
	// FailureRateBelow holds when failures / calls < the value (0 to 1).
	FailureRateBelow float64 `json:"failureRateBelow,omitempty"`
	// SlowRateAtLeast holds when slow calls / calls >= the value (needs
	// slowCall).
	SlowRateAtLeast float64 `json:"slowRateAtLeast,omitempty"`
	// SlowRateBelow holds when slow calls / calls < the value (needs
	// slowCall).
	SlowRateBelow float64 `json:"slowRateBelow,omitempty"`
	// MinCalls holds when the window holds at least this many calls.
	MinCalls int `json:"minCalls,omitempty"`
	// ConsecutiveFailures holds when the latest calls in the state, at
	// least this many, all failed.
	ConsecutiveFailures int `json:"consecutiveFailures,omitempty"`
	// ConsecutiveSuccesses holds when the latest calls in the state, at
	// least this many, all succeeded.
	ConsecutiveSuccesses int `json:"consecutiveSuccesses,omitempty"`
	// After holds once the guard has been in the state this long.
	After Duration `json:"after,omitempty"`
}

// UnmarshalJSON decodes the section strictly (see Policy.UnmarshalJSON).
func (p *MachinePolicy) UnmarshalJSON(data []byte) error {
	type plain MachinePolicy
	return decodeSection(data, (*plain)(p))
}

// Spec returns the section as a machine.Spec.
func (p *MachinePolicy) Spec() machine.Spec {
	s := machine.Spec{Initial: p.Initial, Window: p.Window, SlowCall: time.Duration(p.SlowCall)}
	for _, st := range p.States {
		s.States = append(s.States, machine.State{Name: st.Name, Admit: st.Admit, Percent: st.Percent, Manual: st.Manual})
	}
	for _, t := range p.Transitions {
		w := t.When
		s.Transitions = append(s.Transitions, machine.Transition{From: t.From, To: t.To, When: machine.Condition{
			FailureRateAtLeast: w.FailureRateAtLeast, FailureRateBelow: w.FailureRateBelow,
			SlowRateAtLeast: w.SlowRateAtLeast, SlowRateBelow: w.SlowRateBelow,
			MinCalls: w.MinCalls, ConsecutiveFailures: w.ConsecutiveFailures, ConsecutiveSuccesses: w.ConsecutiveSuccesses,
			After: time.Duration(w.After),
		}})
	}
	return s
}

// Compile checks the section and compiles it; the error lists every
// problem, each named by its path from the policy ("machine.states[2].name").
func (p *MachinePolicy) Compile() (*machine.Graph, error) {
	g, err := machine.Compile(p.Spec())
	if err == nil {
		return g, nil
	}
	var se *machine.SpecError
	if !errors.As(err, &se) {
		return nil, fmt.Errorf("machine: %w", err)
	}
	errs := make([]error, len(se.Problems))
	for i, pr := range se.Problems {
		errs[i] = errors.New("machine." + pr.Error())
	}
	return nil, errors.Join(errs...)
}

// problems returns the section's problems, one error each.
func (p *MachinePolicy) problems() []error {
	_, err := p.Compile()
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// ErrMachineState is matched, through errors.Is, by every rejection by a
// guard's custom state (as is ErrRejected); errors.As with *StateRejection
// gives the state.
var ErrMachineState = reject.New("machine: rejected by the custom state", "state_rejected")

// StateRejection is the Reason of a RejectedError when a guard's custom
// state refused the call. One is made per state when the machine is, so a
// rejection allocates nothing.
type StateRejection struct {
	// State names the custom state.
	State string
	msg   string
}

// Error returns "state:NAME", the rejection's reason.
func (e *StateRejection) Error() string { return e.msg }

// ErrorType returns "state_rejected", for the OTel error.type attribute.
func (e *StateRejection) ErrorType() string { return "state_rejected" }

// Is matches ErrMachineState and ErrRejected.
func (e *StateRejection) Is(target error) bool {
	return target == ErrMachineState || target == ErrRejected
}

// WithReadOnly marks ctx's calls read: a custom state with admit
// "readOnly" admits them (see MachinePolicy).
func WithReadOnly(ctx context.Context) context.Context { return machine.MarkRead(ctx) }

// guardMachine is a guard's running machine and what its gate needs.
type guardMachine struct {
	m    *machine.Machine
	errs []*RejectedError // by state index
	read bool             // some state admits read calls only: look at ctx
	slow time.Duration
	// realClock is set once the machine is driven on the real clock (Allow,
	// Done, SetMachineState; not AllowAt): from then on, a state left by a
	// transition that waits on time arms a timer, so that the transition
	// is taken on time without traffic. Explicit-time drivers call
	// AdvanceAt instead.
	realClock atomic.Bool
	tmu       sync.Mutex
	timer     *time.Timer // guarded by tmu; one per machine, reset on each entry
}

// onReal marks the machine as driven on the real clock; the first time,
// it arms the timer of the current state.
func (gm *guardMachine) onReal() {
	if !gm.realClock.Load() && gm.realClock.CompareAndSwap(false, true) {
		gm.arm(gm.m.State())
	}
}

// arm sets the machine's timer to advance it when the shortest time a
// transition out of state waits on has passed. Each entry into a state
// resets the one timer (a guard that flaps holds no pile of timers); a
// timer that fires after the machine moved on only evaluates the state it
// is in, which is harmless.
func (gm *guardMachine) arm(state string) {
	d, ok := gm.m.Graph().NextAfter(state)
	if !ok {
		return
	}
	gm.tmu.Lock()
	defer gm.tmu.Unlock()
	if gm.timer == nil {
		gm.timer = time.AfterFunc(d, func() { gm.m.Advance(time.Now()) })
		return
	}
	gm.timer.Reset(d)
}

// newGuardMachine starts a machine of g for state (the initial state when
// "" or unknown), in parts of guard g.
func (g *Guard) newGuardMachine(gr *machine.Graph, state string, at time.Time) *guardMachine {
	gm := &guardMachine{read: gr.ReadOnly(), slow: gr.SlowCall()}
	for _, name := range gr.States() {
		gm.errs = append(gm.errs, newRejectedError(g.name, &StateRejection{State: name, msg: "state:" + name}, nil))
	}
	// A new guard's machine starts at the zero time: it takes the time of
	// its first event as its start, so that explicit-time drivers
	// (AllowAt) and the real clock alike measure time in state from there.
	gm.m = gr.StartIn(at, state, func(c machine.Change) {
		g.machineChanged(c)
		if gm.realClock.Load() {
			gm.arm(c.To)
		}
	})
	return gm
}

// initMachine gives pt the machine of p: the old parts' machine when the
// section is unchanged, else a new one in the state of the same name.
func (g *Guard) initMachine(pt *parts, p Policy, old *parts) error {
	if p.Machine == nil {
		return nil
	}
	if old != nil && old.mach != nil && sameValue(old.policy.Machine, p.Machine) {
		pt.mach = old.mach
		return nil
	}
	gr, err := p.Machine.Compile()
	if err != nil {
		return err
	}
	var state string
	var at time.Time
	if old != nil && old.mach != nil {
		// A changed machine starts at the reload, in the state it was in
		// if it still has it.
		state, at = old.mach.m.State(), time.Now()
	}
	pt.mach = g.newGuardMachine(gr, state, at)
	return nil
}

// admitMachine asks the machine of pt at the real clock; it returns the
// rejection, or nil with p.start set when the machine times calls.
func (pt *parts) admitMachine(ctx context.Context, p *Permit) *RejectedError {
	now := time.Now()
	if !pt.mach.realClock.Load() {
		pt.mach.onReal()
	}
	return pt.admitMachineAt(ctx, p, now)
}

func (pt *parts) admitMachineAt(ctx context.Context, p *Permit, at time.Time) *RejectedError {
	gm := pt.mach
	read := gm.read && machine.IsRead(ctx)
	ok, st := gm.m.Allow(at, read)
	if !ok {
		return gm.errs[st]
	}
	if gm.slow > 0 {
		p.start = guardClock(at)
	}
	return nil
}

// postDone runs what a report does besides the breaker and the bulkhead:
// the adaptive limit, the throttle, the machine. end is the explicit time
// on the guard clock, or 0 for the real clock.
func (g *Guard) postDone(p *Permit, o breaker.Outcome, r breaker.Result, classified bool, end int64) {
	pt := p.pt
	if pt.adapt != nil || pt.thr != nil {
		g.adaptiveDone(p, o, r, classified, end)
	}
	if pt.mach == nil {
		return
	}
	if !classified {
		r = g.br.Classify(o)
	}
	if r == breaker.Ignore {
		return
	}
	var at time.Time
	if end == 0 {
		at = time.Now()
		end = guardClock(at)
	} else {
		at = clockEpoch.Add(time.Duration(end - 1))
	}
	slow := pt.mach.slow > 0 && p.start != 0 && time.Duration(end-p.start) >= pt.mach.slow
	pt.mach.m.Record(at, r == breaker.Failure, slow)
}

// MachineChange is a transition of a guard's custom state machine.
type MachineChange struct {
	Guard string
	machine.Change
}

func (g *Guard) machineChanged(c machine.Change) {
	if h := g.hooks.Load(); h != nil && h.OnMachineChange != nil {
		h.OnMachineChange(context.Background(), MachineChange{Guard: g.name, Change: c})
	}
}

// ErrNoMachine is returned (wrapped, with the guard's name) by
// Guard.SetMachineState for a guard whose policy has no machine section.
var ErrNoMachine = errors.New("core: the guard has no custom state machine")

// Machine returns the guard's custom state machine, or nil when its policy
// has none. The machine may be replaced by a reload that changes the
// policy's machine section.
func (g *Guard) Machine() *machine.Machine {
	if gm := g.cur.Load().mach; gm != nil {
		return gm.m
	}
	return nil
}

// SetMachineState moves the guard's custom state machine to the state
// called state, whatever its conditions say; m names who and why. It
// returns the change, a machine.ErrUnknownState error naming the state, or
// ErrNoMachine.
func (g *Guard) SetMachineState(state string, m breaker.Manual) (machine.Change, error) {
	gm := g.cur.Load().mach
	if gm == nil {
		return machine.Change{}, fmt.Errorf("%w: guard %q", ErrNoMachine, g.name)
	}
	gm.onReal()
	return gm.m.Set(time.Now(), state, m.Actor, m.Reason)
}

// AdvanceMachineAt evaluates the guard's machine at the explicit time t (its
// transitions that wait on time in the state); it does nothing without one.
func (g *Guard) AdvanceMachineAt(t time.Time) {
	if gm := g.cur.Load().mach; gm != nil {
		gm.m.Advance(t)
	}
}

// MachineStatus is a guard's custom state, in its snapshot.
type MachineStatus struct {
	// State is the current state; Since when the guard entered it (zero
	// before its first call).
	State string
	Since time.Time
	// States lists every state, in the order of the policy.
	States []string
	// Calls, Failures and Slow count the outcomes in the state's window.
	Calls, Failures, Slow int
	// ConsecutiveFailures and ConsecutiveSuccesses count the latest run of
	// like outcomes in the state.
	ConsecutiveFailures, ConsecutiveSuccesses int
	// Admitted and Rejected count the machine's admission decisions, and
	// Transitions its state changes, since the guard was created (across
	// reloads that replace its machine).
	Admitted, Rejected, Transitions uint64
}

// machineCounts are the cumulative counts of machines a guard no longer
// runs.
type machineCounts struct {
	admitted, rejected, transitions uint64
}

func (c *machineCounts) add(s machine.Status) {
	c.admitted += s.Admitted
	c.rejected += s.Rejected
	c.transitions += s.Transitions
}

func (pt *parts) machineSnapshot() *MachineStatus {
	if pt.mach == nil {
		return nil
	}
	st := pt.mach.m.Status()
	return &MachineStatus{
		State: st.State, Since: st.Since, States: pt.mach.m.Graph().States(),
		Calls: st.Calls, Failures: st.Failures, Slow: st.Slow,
		ConsecutiveFailures: st.ConsecutiveFailures, ConsecutiveSuccesses: st.ConsecutiveSuccesses,
		Admitted:    pt.formerMach.admitted + st.Admitted,
		Rejected:    pt.formerMach.rejected + st.Rejected,
		Transitions: pt.formerMach.transitions + st.Transitions,
	}
}

// machineReloaded tells the hooks when a reload changed the guard's
// machine and, with it, its state (the new machine has no state of the
// old one's name and starts in its initial state).
func (pl *reloadPlan) machineReloaded() {
	old, pt := pl.old.mach, pl.pt.mach
	if pt == nil || pt == old {
		return
	}
	from := ""
	if old != nil {
		from = old.m.State()
	}
	to := pt.m.State()
	if from != to {
		pl.g.machineChanged(machine.Change{From: from, To: to, At: time.Now(), Reason: "policy " + quote(pl.pt.policy.Name) + " changed the machine", Actor: "policy"})
	}
	if old != nil && old.realClock.Load() {
		pt.realClock.Store(true)
		pt.arm(to)
	}
}
