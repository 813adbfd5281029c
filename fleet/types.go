package fleet

import (
	"encoding/json"
	"fmt"
	"time"
)

// Protocol is the version of the values Join writes. A value of another
// version is skipped and counted, never trusted.
const Protocol = 1

// Member is one replica of the fleet, as its heartbeat records it.
type Member struct {
	// ID names the replica; unique in the fleet (a pod name, a host:port).
	ID string `json:"id"`
	// Region is the replica's region label, for display and, later,
	// regional scopes.
	Region string `json:"region,omitempty"`
	// Version is the replica's build or policy version, for display.
	Version string `json:"version,omitempty"`
	// Policy is the policy version the replica runs (core's PolicyVersion).
	Policy uint64 `json:"policy,omitempty"`
}

// Verdict is one replica's verdict on one guard.
type Verdict struct {
	Guard   string `json:"guard"`
	Replica string `json:"replica"`
	// Open is true when the replica's guard opened on its own evidence
	// (never because it adopted the fleet's verdict: adopted opens do not
	// vote, or the fleet would hold itself open).
	Open   bool   `json:"open"`
	Reason string `json:"reason,omitempty"`
	// Calls, Failures and Slow are the replica's window counts, for the
	// shared-window mode.
	Calls    int `json:"calls,omitempty"`
	Failures int `json:"failures,omitempty"`
	Slow     int `json:"slow,omitempty"`
}

// ProbeOutcome is what became of a fleet's half-open probe.
type ProbeOutcome string

// The outcomes a Lease records.
const (
	ProbeRunning   ProbeOutcome = "running"
	ProbeSucceeded ProbeOutcome = "succeeded"
	ProbeFailed    ProbeOutcome = "failed"
)

// Lease is a guard's half-open probe lease: the replica that holds it
// probes, the others stay open until its outcome arrives or it expires.
type Lease struct {
	Guard   string       `json:"guard"`
	Holder  string       `json:"holder"`
	Token   string       `json:"token"`
	Outcome ProbeOutcome `json:"outcome"`
	// OpenForMS is, for a failed probe, how long the holder opened its
	// guard again, in milliseconds: the other replicas open theirs for as
	// long, so that the fleet half-opens together. A duration, never a
	// wall-clock time.
	OpenForMS int64 `json:"openForMs,omitempty"`
}

// Action is a fleet-wide operator action.
type Action string

// The actions an operator can take for the whole fleet.
const (
	ActionForceOpen   Action = "force-open"
	ActionClose       Action = "close"
	ActionDisable     Action = "disable"
	ActionMetricsOnly Action = "metrics-only"
	ActionRelease     Action = "release"
)

// Override is a fleet-wide operator action on the guards a selector
// names, as stored: versioned, so that every replica applies each action
// once and in order, those that join later included.
type Override struct {
	// Version orders actions across the fleet (Store.NextVersion).
	Version uint64 `json:"version"`
	// Target selects the guards, as ParseTarget reads it: "all",
	// "tag:<tag>", or a guard's name ("name:<name>" when the name itself
	// starts with "tag:" or is "all").
	Target string `json:"target"`
	Action Action `json:"action"`
	Actor  string `json:"actor"`
	Reason string `json:"reason,omitempty"`
	// By is the replica that took the action.
	By string `json:"by,omitempty"`
}

// envelope carries every value with the protocol version.
type envelope struct {
	V    int             `json:"v"`
	Kind Kind            `json:"kind"`
	Data json.RawMessage `json:"data"`
}

// encode wraps v in an envelope of the current protocol.
func encode(kind Kind, v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return json.Marshal(envelope{V: Protocol, Kind: kind, Data: data})
}

// decode reads a value written by encode, refusing other protocols and
// kinds.
func decode(kind Kind, b []byte, v any) error {
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return fmt.Errorf("fleet: malformed %s value: %w", kind, err)
	}
	if e.V != Protocol {
		return fmt.Errorf("fleet: %s value of protocol %d (want %d)", kind, e.V, Protocol)
	}
	if e.Kind != kind {
		return fmt.Errorf("fleet: %s value holds a %q", kind, e.Kind)
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("fleet: malformed %s value: %w", kind, err)
	}
	return nil
}

// Snapshot is what a replica knows of its fleet, for the admin API,
// breakerctl and the dashboard.
type Snapshot struct {
	// Self is this replica.
	Self Member `json:"self"`
	// Members are the live replicas, this one included, by ID.
	Members []Member `json:"members"`
	// Guards are the fleet's view of each guard with a vote, a lease or an
	// override, by name.
	Guards []GuardView `json:"guards"`
	// Overrides are the operator actions in force, by version.
	Overrides []Override `json:"overrides"`
	// Store is the health of the store as this replica sees it.
	Store StoreHealth `json:"store"`
}

// GuardView is the fleet's view of one guard.
type GuardView struct {
	Guard string `json:"guard"`
	// Rule is the guard's adoption rule (local, quorum, any).
	Rule string `json:"rule"`
	// OpenVotes are the replicas holding an unexpired open vote.
	OpenVotes []string `json:"openVotes"`
	// Adopted is true when this replica holds the guard open because of the
	// fleet's verdict.
	Adopted bool `json:"adopted"`
	// Lease is the probe lease, if any.
	Lease *Lease `json:"lease,omitempty"`
}

// StoreHealth is the store's health as one replica sees it. The store
// being down degrades fleet mode; it never fails a guard.
type StoreHealth struct {
	// Up is false while store calls fail or the store's breaker is open.
	Up bool `json:"up"`
	// LastError is the last store error, empty when none.
	LastError string `json:"lastError,omitempty"`
	// Since is when Up last changed.
	Since time.Time `json:"since"`
	// Dropped counts publications dropped because the queue was full.
	Dropped uint64 `json:"dropped"`
	// Malformed counts values in the store that could not be read
	// (malformed, foreign, another protocol version).
	Malformed uint64 `json:"malformed"`
	// AllowedByFailureMode counts calls a global limit admitted at its
	// local share while the store was unreachable.
	AllowedByFailureMode uint64 `json:"allowedByFailureMode"`
	// Errors counts store calls that failed, Timeouts among them those
	// that ran out of their timeout.
	Errors   uint64 `json:"errors"`
	Timeouts uint64 `json:"timeouts"`
	// Skipped counts store calls not made because the store's own breaker
	// was open.
	Skipped uint64 `json:"skipped"`
}
