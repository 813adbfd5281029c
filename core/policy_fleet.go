package core

import (
	"fmt"
	"math"
)

// FleetPolicy says how a guard takes part in fleet mode (package fleet):
// when the replicas of a service share a store, each replica's guard
// decides every call by itself, and adopts the fleet's verdict by this
// rule. Zero fields mean the defaults; a nil FleetPolicy is the defaults
// (quorum of 2).
type FleetPolicy struct {
	// Adopt is the adoption rule: "quorum" (default) opens the guard when
	// at least Min distinct replicas (and, with Fraction, that share of the
	// live replicas) hold an open vote; "any" opens it on one replica's
	// vote (for dependencies that are down for everyone); "local" ignores
	// the fleet's votes (the guard still votes, and probes alone).
	Adopt string `json:"adopt,omitempty"`
	// Min is the number of distinct replicas whose open votes make a
	// quorum; default 2.
	Min int `json:"min,omitempty"`
	// Fraction, between 0 and 1, also requires that share of the live
	// replicas to vote open (0.5: half of them); 0 means no share.
	Fraction float64 `json:"fraction,omitempty"`
	// SharedWindow sums the window counts of every replica and opens the
	// guard when the sums meet the breaker's trip rule (MinCalls and the
	// failure-rate threshold), for low-traffic fleets where no replica
	// reaches MinCalls alone. It costs one store write per guard and
	// replica per heartbeat.
	SharedWindow bool `json:"sharedWindow,omitempty"`
	// Scope is "regional" (default): the guard's verdicts stay in its
	// region; or "global": the guard also opens in every region when at
	// least Regions regions report it open in their summaries (package
	// fleet/region), never because one region alone did, and that global
	// open is released when fewer than Regions regions report it open.
	Scope string `json:"scope,omitempty"`
	// Regions is, for a global guard, how many regions must report the
	// guard open for every region to open it; default 2, never less than
	// 2. Only read when Scope is "global".
	Regions int `json:"regions,omitempty"`
}

// The scopes of FleetPolicy.Scope.
const (
	FleetScopeRegional = "regional"
	FleetScopeGlobal   = "global"
)

// DefaultFleetRegions is FleetPolicy.Regions's default.
const DefaultFleetRegions = 2

// maxFleetRegions bounds FleetPolicy.Regions.
const maxFleetRegions = 256

// GlobalRule returns the guard's scope with defaults filled in: whether it
// is global, and how many regions must report it open. A nil FleetPolicy
// is regional.
func (p *FleetPolicy) GlobalRule() (global bool, regions int) {
	if p == nil || p.Scope != FleetScopeGlobal {
		return false, 0
	}
	if p.Regions > 0 {
		return true, p.Regions
	}
	return true, DefaultFleetRegions
}

// The adoption rules of FleetPolicy.Adopt.
const (
	FleetAdoptQuorum = "quorum"
	FleetAdoptAny    = "any"
	FleetAdoptLocal  = "local"
)

// DefaultFleetMin is FleetPolicy.Min's default.
const DefaultFleetMin = 2

// maxFleetMin bounds FleetPolicy.Min.
const maxFleetMin = 1 << 16

// UnmarshalJSON decodes the section strictly (see Policy.UnmarshalJSON).
func (p *FleetPolicy) UnmarshalJSON(data []byte) error {
	type plain FleetPolicy
	return decodeSection(data, (*plain)(p))
}

// Rule returns the adoption rule with defaults filled in: the rule, the
// minimum number of votes and the fraction of live replicas. A nil
// FleetPolicy gives the defaults.
func (p *FleetPolicy) Rule() (adopt string, min int, fraction float64) {
	adopt, min = FleetAdoptQuorum, DefaultFleetMin
	if p == nil {
		return adopt, min, 0
	}
	if p.Adopt != "" {
		adopt = p.Adopt
	}
	if p.Min > 0 {
		min = p.Min
	}
	return adopt, min, p.Fraction
}

// validate names the first bad field of p.
func (p *FleetPolicy) validate() error {
	switch p.Adopt {
	case "", FleetAdoptQuorum, FleetAdoptAny, FleetAdoptLocal:
	default:
		return fmt.Errorf("fleet.adopt: %q is not an adoption rule (quorum, any or local)", p.Adopt)
	}
	if p.Min < 0 || p.Min > maxFleetMin {
		return fmt.Errorf("fleet.min: %d must be between 1 and %d (0 means %d)", p.Min, maxFleetMin, DefaultFleetMin)
	}
	if math.IsNaN(p.Fraction) || p.Fraction < 0 || p.Fraction > 1 {
		return fmt.Errorf("fleet.fraction: %g must be between 0 and 1", p.Fraction)
	}
	switch p.Scope {
	case "", FleetScopeRegional, FleetScopeGlobal:
	default:
		return fmt.Errorf("fleet.scope: %q is not a scope (regional or global)", p.Scope)
	}
	if p.Regions != 0 && (p.Regions < 2 || p.Regions > maxFleetRegions) {
		return fmt.Errorf("fleet.regions: %d must be between 2 and %d (0 means %d): a global guard never opens because one region alone did", p.Regions, maxFleetRegions, DefaultFleetRegions)
	}
	if p.Regions != 0 && p.Scope != FleetScopeGlobal {
		return fmt.Errorf("fleet.regions: %d is only read with scope %q (scope is %q)", p.Regions, FleetScopeGlobal, p.Scope)
	}
	return nil
}
