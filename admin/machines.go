package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/core/machine"
)

// Custom states (issue #23): GET /v1/machines lists the guards that run a
// custom state machine, with each machine's states, transitions, current
// state and diagram; POST /v1/machines/{guard}/state moves one by hand
// (write access, audited); a change of custom state goes to the event
// stream as event "machine".

// Wire types of the custom-state endpoints.
type (
	MachineStatus         = wire.MachineStatus         // wire.MachineStatus
	MachineList           = wire.MachineList           // wire.MachineList
	GuardMachine          = wire.GuardMachine          // wire.GuardMachine
	MachineStateRequest   = wire.MachineStateRequest   // wire.MachineStateRequest
	MachineStateResult    = wire.MachineStateResult    // wire.MachineStateResult
	MachineEvent          = wire.MachineEvent          // wire.MachineEvent
	MachineStateInfo      = wire.MachineStateInfo      // wire.MachineStateInfo
	MachineTransitionInfo = wire.MachineTransitionInfo // wire.MachineTransitionInfo
)

// OpMachineState is wire.OpMachineState.
const OpMachineState = wire.OpMachineState

const (
	codeNoMachine    = "no_machine"
	codeUnknownState = "unknown_state"
)

func (s *Server) machineRoutes(v string) {
	s.handle(v+"/machines", methods{http.MethodGet: s.machines})
	s.handle(v+"/machines/{guard}/state", methods{http.MethodPost: s.setMachineState})
}

// machines serves GET /v1/machines (read access): every guard with a
// machine, or with ?guard=NAME that guard alone (404 when it has none).
func (s *Server) machines(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	out := MachineList{Machines: []GuardMachine{}}
	if name := r.URL.Query().Get("guard"); name != "" {
		g, p := s.machineGuard(name)
		if p != nil {
			writeProblem(w, r, p)
			return
		}
		out.Machines = append(out.Machines, guardMachineOf(g))
		writeJSON(w, r, http.StatusOK, out)
		return
	}
	gs, _ := s.reg.Guards(core.All()) // sorted by name
	for _, g := range gs {
		if g.Machine() != nil {
			out.Machines = append(out.Machines, guardMachineOf(g))
		}
	}
	writeJSON(w, r, http.StatusOK, out)
}

// machineGuard finds the guard called name that runs a machine, or the
// problem to answer.
func (s *Server) machineGuard(name string) (*core.Guard, *Problem) {
	g, ok := s.reg.Lookup(name)
	if !ok {
		p := problem(http.StatusNotFound, codeUnknownGuard, "guard: no guard is called "+quote(name))
		p.Guard = name
		return nil, p
	}
	if g.Machine() == nil {
		p := problem(http.StatusNotFound, codeNoMachine, "guard: "+quote(name)+" has no custom states: its policy "+quote(g.Policy().Name)+" has no machine section")
		p.Guard = name
		return nil, p
	}
	return g, nil
}

// setMachineState serves POST /v1/machines/{guard}/state (write access):
// it moves the guard's machine to the named state and audits it; an
// unknown state is refused with 400 naming it. If the audit record cannot
// be written, the guard goes back to the state it was in.
func (s *Server) setMachineState(w http.ResponseWriter, r *http.Request) {
	who, ok := s.authorize(w, r, Write)
	if !ok {
		return
	}
	var req MachineStateRequest
	if p := decodeRequest(w, r, s.cfg.maxBody, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	if p := checkReason(req.Reason); p != nil {
		writeProblem(w, r, p)
		return
	}
	if p := textProblem("state", req.State); p != nil {
		writeProblem(w, r, p)
		return
	}
	name := r.PathValue("guard")
	s.opMu.Lock()
	defer s.opMu.Unlock()
	g, p := s.machineGuard(name)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	m := g.Machine()
	if m.Graph().Index(req.State) < 0 {
		p := problem(http.StatusBadRequest, codeUnknownState, "state: "+quote(req.State)+" is not a state of guard "+quote(name)+"'s machine (states: "+strings.Join(m.Graph().States(), ", ")+")")
		p.Guard = name
		writeProblem(w, r, p)
		return
	}
	c, err := g.SetMachineState(req.State, breaker.Manual{Actor: who.name, Reason: req.Reason})
	if err != nil { // a reload replaced the machine in between
		code := http.StatusConflict
		if errors.Is(err, machine.ErrUnknownState) {
			code = http.StatusBadRequest
		}
		writeProblem(w, r, problem(code, codeInvalid, strings.TrimPrefix(err.Error(), "machine: ")))
		return
	}
	rec := AuditRecord{Actor: who.name, Op: OpMachineState, Target: Target{Name: name}, Reason: req.Reason,
		Params: map[string]string{"from": c.From, "to": c.To}}
	if err := s.record(r.Context(), &rec); err != nil {
		var notUndone []string
		if _, uerr := g.SetMachineState(c.From, breaker.Manual{Actor: "breakerbox-admin", Reason: "rollback of " + string(OpMachineState) + " by " + who.name + ": its audit record could not be written"}); uerr != nil {
			notUndone = []string{"guard " + name + " (custom state " + c.To + ")"}
		}
		writeProblem(w, r, s.auditFailed(&rec, err, notUndone))
		return
	}
	writeJSON(w, r, http.StatusOK, MachineStateResult{Guard: name, From: c.From, To: c.To, AuditSeq: rec.Seq})
}

// onMachineChange is the server's hook for custom-state changes: they go
// to the event stream.
func (s *Server) onMachineChange(_ context.Context, e core.MachineChange) {
	s.sampler.queue(pendingEvent{guard: e.Guard, machine: &MachineEvent{Guard: e.Guard, From: e.From, To: e.To, At: e.At.UTC(), Reason: e.Reason, Actor: e.Actor}})
}

func machineStatusOf(m *core.MachineStatus) *MachineStatus {
	if m == nil {
		return nil
	}
	st := &MachineStatus{State: m.State, Calls: m.Calls, Failures: m.Failures, Slow: m.Slow,
		ConsecutiveFailures: m.ConsecutiveFailures, ConsecutiveSuccesses: m.ConsecutiveSuccesses,
		Admitted: m.Admitted, Rejected: m.Rejected, Transitions: m.Transitions}
	if !m.Since.IsZero() {
		since := m.Since.UTC()
		st.Since = &since
	}
	return st
}

// guardMachineOf describes g's machine, which it must have.
func guardMachineOf(g *core.Guard) GuardMachine {
	s := g.Snapshot()
	gr := g.Machine().Graph()
	spec := gr.Spec()
	out := GuardMachine{Guard: g.Name(), Policy: s.Policy, Initial: spec.Initial, Window: gr.Window(),
		States: []MachineStateInfo{}, Transitions: []MachineTransitionInfo{}}
	if st := machineStatusOf(s.Machine); st != nil {
		out.Status = *st
	}
	for _, st := range spec.States {
		admit := st.Admit
		if admit == "" {
			admit = machine.AdmitAll
		}
		out.States = append(out.States, MachineStateInfo{Name: st.Name, Admit: admit, Percent: st.Percent, Manual: st.Manual})
	}
	for _, t := range spec.Transitions {
		out.Transitions = append(out.Transitions, MachineTransitionInfo{From: t.From, To: t.To, When: t.When.String()})
	}
	out.Mermaid, out.DOT = gr.Mermaid(out.Status.State), gr.DOT(out.Status.State)
	return out
}
