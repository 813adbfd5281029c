package wire

import (
	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
)

// The audit operations of the chaos endpoints.
const (
	// OpChaosStart starts a chaos experiment (POST /v1/chaos/experiments).
	OpChaosStart Op = "chaos-start"
	// OpChaosStop stops one (POST /v1/chaos/stop).
	OpChaosStop Op = "chaos-stop"
	// OpChaosKill stops them all, the kill switch (POST /v1/chaos/kill).
	OpChaosKill Op = "chaos-kill"
)

// ChaosReport is the answer to GET /v1/chaos.
type ChaosReport struct {
	// Enabled reports whether the registry was built with chaos
	// (core.WithChaos); without it nothing below is set and no experiment
	// can start.
	Enabled bool `json:"enabled"`
	// The injector's safety limits (chaos.Config).
	MaxGuards   int           `json:"maxGuards,omitempty"`
	MaxDuration core.Duration `json:"maxDuration,omitempty"`
	Exclude     []string      `json:"exclude,omitempty"`
	ExcludeTags []string      `json:"excludeTags,omitempty"`
	// Experiments lists the running experiments, then the ended ones,
	// newest first.
	Experiments []chaos.Status `json:"experiments"`
}

// ChaosStartRequest is the body of POST /v1/chaos/experiments: an
// experiment, whose end is given by ends (a time) or for (a duration from
// now), and the reason for the audit log (required). The actor is the
// token's name, whatever the body says.
type ChaosStartRequest struct {
	chaos.Experiment
	For core.Duration `json:"for,omitempty"`
}

// ChaosStopRequest is the body of POST /v1/chaos/stop.
type ChaosStopRequest struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

// ChaosKillRequest is the body of POST /v1/chaos/kill.
type ChaosKillRequest struct {
	Reason string `json:"reason"`
}

// ChaosResult answers a start, a stop or a kill: the experiments it
// started or stopped, and the audit record's sequence number.
type ChaosResult struct {
	Experiments []chaos.Status `json:"experiments"`
	AuditSeq    uint64         `json:"auditSeq"`
}
