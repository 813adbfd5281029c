package wire

import (
	"errors"
	"strings"

	"github.com/breakerbox/breakerbox/fleet"
)

// OpFleetAction is a fleet-wide operator action (POST /v1/fleet/actions),
// as its audit record names it: the action, the target and the version the
// store gave it are in the record's params.
const OpFleetAction Op = "fleet-action"

// FleetActions lists the actions of POST /v1/fleet/actions, in the order
// errors list them.
var FleetActions = []fleet.Action{fleet.ActionForceOpen, fleet.ActionClose, fleet.ActionDisable, fleet.ActionMetricsOnly, fleet.ActionRelease}

// FleetReport is the answer to GET /v1/fleet: what this replica knows of
// its fleet (fleet.Snapshot), with every list present (empty, not null).
type FleetReport = fleet.Snapshot

// FleetActionRequest is the body of POST /v1/fleet/actions: an operator
// action for every replica of the fleet. Target selects the guards (see
// ParseFleetTarget); the reason is required, for the audit log. The actor is
// the token's name.
type FleetActionRequest struct {
	Target string       `json:"target"`
	Action fleet.Action `json:"action"`
	Reason string       `json:"reason"`
}

// FleetActionResult answers POST /v1/fleet/actions: the action as the
// store holds it (its version orders it across the fleet; every replica,
// those that join later included, applies it), and the sequence number of
// its audit record on this replica.
type FleetActionResult struct {
	Override fleet.Override `json:"override"`
	AuditSeq uint64         `json:"auditSeq"`
}

// ParseFleetTarget reads the target of a fleet action:
//
//   - "all": every guard;
//   - "tag:TAG": every guard carrying TAG;
//   - "name:NAME": the guard called NAME;
//   - "NAME": the same, for a name that is not "all" and does not start
//     with "tag:" or "name:".
//
// A fleet action names guards by selector rather than by instance: a guard
// a replica creates later is covered when it matches. Errors say what is
// wrong with the value, for the caller to prefix with the field.
func ParseFleetTarget(s string) (Target, error) {
	switch {
	case s == "":
		return Target{}, errors.New("is empty: want all, tag:TAG, name:NAME or a guard's name")
	case s == "all":
		return Target{All: true}, nil
	case strings.HasPrefix(s, "tag:"):
		if s == "tag:" {
			return Target{}, errors.New(`"tag:" names no tag: want tag:TAG`)
		}
		return Target{Tag: s[len("tag:"):]}, nil
	case strings.HasPrefix(s, "name:"):
		if s == "name:" {
			return Target{}, errors.New(`"name:" names no guard: want name:NAME`)
		}
		return Target{Name: s[len("name:"):]}, nil
	}
	return Target{Name: s}, nil
}

// FleetTarget writes t as ParseFleetTarget reads it, naming a guard
// without a prefix unless its name needs one. It returns "" for a target
// that is not exactly one of name, tag and all.
func FleetTarget(t Target) string {
	if _, err := t.Selector(); err != nil {
		return ""
	}
	switch {
	case t.All:
		return "all"
	case t.Tag != "":
		return "tag:" + t.Tag
	case t.Name == "all" || strings.HasPrefix(t.Name, "tag:") || strings.HasPrefix(t.Name, "name:"):
		return "name:" + t.Name
	}
	return t.Name
}
