package wire

import "time"

// OpMachineState moves a guard's custom state by hand
// (POST /v1/machines/{guard}/state).
const OpMachineState Op = "machine-state"

// MachineStatus is a guard's custom state (core.MachineStatus), in
// GuardStatus and in GuardMachine.
type MachineStatus struct {
	// State is the current custom state; Since when the guard entered it
	// (absent before its first call).
	State string     `json:"state"`
	Since *time.Time `json:"since,omitempty"`
	// Calls, Failures and Slow count the outcomes in the state's window;
	// ConsecutiveFailures and ConsecutiveSuccesses the latest run.
	Calls                int `json:"calls"`
	Failures             int `json:"failures"`
	Slow                 int `json:"slow"`
	ConsecutiveFailures  int `json:"consecutiveFailures"`
	ConsecutiveSuccesses int `json:"consecutiveSuccesses"`
	// Admitted, Rejected and Transitions are cumulative since the guard
	// was created.
	Admitted    uint64 `json:"admitted"`
	Rejected    uint64 `json:"rejected"`
	Transitions uint64 `json:"transitions"`
}

// MachineList answers GET /v1/machines: every guard that runs a custom
// state machine, sorted by name (with ?guard=NAME, that guard alone).
type MachineList struct {
	Machines []GuardMachine `json:"machines"`
}

// GuardMachine is one guard's machine: its definition, its current state
// and its diagram.
type GuardMachine struct {
	Guard  string `json:"guard"`
	Policy string `json:"policy"`
	// Status is the guard's current state and counts.
	Status MachineStatus `json:"status"`
	// Initial names the state guards start in.
	Initial string `json:"initial"`
	// Window is the number of outcomes rates are taken over.
	Window int `json:"window"`
	// States and Transitions are the machine, in the policy's order.
	States      []MachineStateInfo      `json:"states"`
	Transitions []MachineTransitionInfo `json:"transitions"`
	// Mermaid is the machine as a Mermaid stateDiagram-v2, the current
	// state highlighted; DOT the same in Graphviz DOT.
	Mermaid string `json:"mermaid"`
	DOT     string `json:"dot"`
}

// MachineStateInfo is one state of a machine.
type MachineStateInfo struct {
	Name string `json:"name"`
	// Admit is "all", "none", "percent" or "readOnly"; Percent goes with
	// "percent".
	Admit   string  `json:"admit"`
	Percent float64 `json:"percent,omitempty"`
	// Manual states are entered only by operators.
	Manual bool `json:"manual,omitempty"`
}

// MachineTransitionInfo is one transition of a machine; When is its
// conditions as text ("failureRate >= 0.2 and calls >= 10").
type MachineTransitionInfo struct {
	From string `json:"from"`
	To   string `json:"to"`
	When string `json:"when"`
}

// MachineStateRequest is the body of POST /v1/machines/{guard}/state.
type MachineStateRequest struct {
	// State names the custom state to move the guard to.
	State string `json:"state"`
	// Reason is required, for the audit log.
	Reason string `json:"reason"`
}

// MachineStateResult answers POST /v1/machines/{guard}/state.
type MachineStateResult struct {
	Guard string `json:"guard"`
	From  string `json:"from"`
	To    string `json:"to"`
	// AuditSeq is the sequence number of the audit record.
	AuditSeq uint64 `json:"auditSeq"`
}

// MachineEvent is sent on the event stream (event "machine") when a
// guard's custom state changes, by its conditions, by an operator or by a
// reload.
type MachineEvent struct {
	Guard  string    `json:"guard"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
	Actor  string    `json:"actor,omitempty"`
}
