package wire

import "time"

// DependencyGraph answers GET /v1/dependencies: the guards that depend on
// others or are depended on, and the edges between them (a policy's
// dependsOn, issue #23). With ?guard=NAME it holds that guard alone (and
// no edges), to read its cause chain.
type DependencyGraph struct {
	Guards []DependencyNode `json:"guards"`
	Edges  []DependencyEdge `json:"edges"`
}

// DependencyNode is one guard of the dependency graph.
type DependencyNode struct {
	Name  string `json:"name"`
	State string `json:"state"`
	// Causes is the chain of guards whose being open opened this one, from
	// its dependency to the root cause ("orders", "postgres"); empty when
	// no dependency opened it.
	Causes []string `json:"causes,omitempty"`
}

// DependencyEdge says that guard Guard depends on guard On.
type DependencyEdge struct {
	Guard string `json:"guard"`
	On    string `json:"on"`
}

// Maintenance window actions (MaintenanceWindow.Action).
const (
	// MaintenanceOpen forces the guards open for the window.
	MaintenanceOpen = "open"
	// MaintenanceMetricsOnly puts the guards in metrics-only mode for the
	// window.
	MaintenanceMetricsOnly = "metrics-only"
)

// MaintenanceWindow is a scheduled maintenance window: a one-off range
// (Start, End) or a recurring one (Schedule, Duration, TimeZone), acting on
// one guard (Guard) or every guard with a tag (Tag). It is the body of POST
// /v1/maintenance (the status fields are ignored there) and an element of
// MaintenanceList.
type MaintenanceWindow struct {
	// Name identifies the window: letters, digits, '.', '_' and '-'.
	Name string `json:"name"`
	// Guard or Tag selects the guards; exactly one is set.
	Guard string `json:"guard,omitempty"`
	Tag   string `json:"tag,omitempty"`
	// Action is "open" or "metrics-only".
	Action string `json:"action"`
	// Start and End bound a one-off window.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Schedule is a five-field cron expression or a descriptor such as
	// "@daily" at which a recurring window starts; it lasts Duration (such
	// as "2h"), in the IANA time zone TimeZone (default "UTC").
	Schedule string `json:"schedule,omitempty"`
	Duration string `json:"duration,omitempty"`
	TimeZone string `json:"timeZone,omitempty"`
	// Reason says why, for the audit log and the guards' transitions.
	Reason string `json:"reason,omitempty"`

	// Set in answers for a window of the policy document (the maintenance
	// section of core.Document; POST refuses them).

	// Source is "policy" for a window of the live policy document, which
	// another document changes or removes (DELETE refuses it); empty for
	// a window created through the API or the CLI.
	Source string `json:"source,omitempty"`
	// PolicyVersion is the version of the document the window comes from.
	PolicyVersion uint64 `json:"policyVersion,omitempty"`
	// Guards and Tags list the guards and tags a policy window selects
	// (Guard and Tag are empty for it).
	Guards []string `json:"guards,omitempty"`
	Tags   []string `json:"tags,omitempty"`

	// Status, set in answers.

	// CreatedBy is the actor that created the window.
	CreatedBy string `json:"createdBy,omitempty"`
	// Active says whether the window is in force now.
	Active bool `json:"active"`
	// From and Until bound the current occurrence when Active, else the
	// next one (both zero when there is none: a one-off window that ended).
	From  time.Time `json:"from,omitzero"`
	Until time.Time `json:"until,omitzero"`
}

// MaintenanceList answers GET /v1/maintenance: every window, active ones
// first, then by the start of their next occurrence.
type MaintenanceList struct {
	Windows []MaintenanceWindow `json:"windows"`
}

// The audit operations of the maintenance endpoints; Params["window"]
// names the window.
const (
	OpMaintenanceAdd    Op = "maintenance-add"
	OpMaintenanceDelete Op = "maintenance-delete"
)
