package mesh

import (
	"encoding/json"
	"fmt"
	"github.com/breakerbox/breakerbox/core/adaptive"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// The documented defaults of core's policy sections (see core.BreakerPolicy,
// core.RetryPolicy and core.RetryBudgetPolicy): a field left at zero means
// these values, and the export must say what the guard would really do.
const (
	defaultWindowSize       = 100
	defaultWindowDuration   = 60 * time.Second
	defaultMinCalls         = 20
	defaultFailureRate      = 50.0
	defaultSlowCallRate     = 100.0
	defaultOpenDuration     = 30 * time.Second
	defaultOpenBackoff      = 2.0
	defaultMaxOpenFactor    = 10
	defaultMaxAttempts      = 3
	defaultInitialDelay     = 100 * time.Millisecond
	defaultMaxDelay         = 10 * time.Second
	defaultMultiplier       = 2.0
	defaultBudgetRatio      = 0.2
	defaultBudgetMinPerSec  = 10
	defaultHalfOpenProbes   = 1
	defaultSuccessThreshold = 1
)

// resolved is one policy with its extends chain applied and the defaults
// that matter to a mesh filled in.
type resolved struct {
	core.Policy
	// Index is the policy's position in the document.
	Index int
	// Host is the destination host the mesh configuration targets.
	Host string
	// HostGuessed is set when Host is the policy name, for want of a host
	// in its match patterns.
	HostGuessed bool

	// Breaker: the effective values.
	Mode                string
	Window              string
	WindowSize          int
	WindowDuration      time.Duration
	MinCalls            int
	FailureRate         float64 // 0 when the rule is off
	ConsecutiveFailures int
	OpenDuration        time.Duration
	OpenBackoff         float64
	MaxOpenDuration     time.Duration

	// Retry: the effective values; Attempts is 1 without a retry section.
	Attempts     int
	InitialDelay time.Duration
	MaxDelay     time.Duration
	Multiplier   float64
	BudgetRatio  float64 // 0 without a budget or with the ratio off
	BudgetMin    int     // 0 without a budget or with the floor off
}

// resolvePolicies applies each policy's extends chain (parents in the
// document, or built-in presets named "preset:<name>") and the defaults.
func resolvePolicies(doc core.Document) ([]resolved, error) {
	byName := make(map[string]core.Policy, len(doc.Policies))
	for i, p := range doc.Policies {
		if p.Name == "" {
			return nil, fmt.Errorf("mesh: policies[%d].name: must not be empty", i)
		}
		if _, dup := byName[p.Name]; dup {
			return nil, fmt.Errorf("mesh: policies[%d].name: duplicate policy name %q", i, p.Name)
		}
		byName[p.Name] = p
	}
	out := make([]resolved, 0, len(doc.Policies))
	for i, p := range doc.Policies {
		merged, err := resolveChain(byName, p)
		if err != nil {
			return nil, fmt.Errorf("mesh: policies[%d] (%q): %w", i, p.Name, err)
		}
		if err := merged.Validate(); err != nil {
			return nil, fmt.Errorf("mesh: policies[%d]: %w", i, err)
		}
		r := withDefaults(merged)
		r.Index = i
		out = append(out, r)
	}
	return out, nil
}

// resolveChain returns p with every zero field taken from its parents, the
// nearest first. Name, Extends and Match stay p's own.
func resolveChain(byName map[string]core.Policy, p core.Policy) (core.Policy, error) {
	out := p
	seen := []string{p.Name}
	for parent := p.Extends; parent != ""; {
		if slices.Contains(seen, parent) {
			return core.Policy{}, fmt.Errorf("extends: cycle %s -> %s", strings.Join(seen, " -> "), parent)
		}
		var pp core.Policy
		var ok bool
		if name, isPreset := strings.CutPrefix(parent, core.PresetPrefix); isPreset {
			pp, ok = core.Preset(name)
		} else {
			pp, ok = byName[parent]
		}
		if !ok {
			return core.Policy{}, fmt.Errorf("extends: unknown policy %q", parent)
		}
		var err error
		if out, err = overlay(out, pp); err != nil {
			return core.Policy{}, err
		}
		seen = append(seen, parent)
		parent = pp.Extends
	}
	out.Name, out.Extends, out.Match = p.Name, p.Extends, p.Match
	return out, nil
}

// overlay fills the fields child leaves unset (zero: absent from its JSON
// form, every optional field being omitempty) from parent, section by
// section, by merging the two JSON objects.
func overlay(child, parent core.Policy) (core.Policy, error) {
	c, err := toMap(child)
	if err != nil {
		return core.Policy{}, err
	}
	p, err := toMap(parent)
	if err != nil {
		return core.Policy{}, err
	}
	merged, err := json.Marshal(mergeMaps(c, p))
	if err != nil {
		return core.Policy{}, err
	}
	var out core.Policy
	if err := json.Unmarshal(merged, &out); err != nil {
		return core.Policy{}, err
	}
	return out, nil
}

func toMap(p core.Policy) (map[string]any, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	err = json.Unmarshal(b, &m)
	return m, err
}

// mergeMaps returns child with the keys it lacks (or holds a zero number
// in) taken from parent, recursing into objects present in both.
func mergeMaps(child, parent map[string]any) map[string]any {
	for k, pv := range parent {
		cv, ok := child[k]
		switch {
		case !ok || cv == nil || cv == float64(0):
			child[k] = pv
		default:
			cm, cIsMap := cv.(map[string]any)
			pm, pIsMap := pv.(map[string]any)
			if cIsMap && pIsMap {
				child[k] = mergeMaps(cm, pm)
			}
		}
	}
	return child
}

// withDefaults fills the effective values of a merged policy.
func withDefaults(p core.Policy) resolved {
	if bh := p.Bulkhead; bh != nil && bh.Adaptive != nil {
		// An adaptive limit is written as where it starts: the initial
		// limit, else maxConcurrent, else the algorithms' default.
		c := *bh
		switch {
		case bh.Adaptive.InitialLimit > 0:
			c.MaxConcurrent = bh.Adaptive.InitialLimit
		case c.MaxConcurrent == 0:
			c.MaxConcurrent = adaptive.DefaultInitial
		}
		p.Bulkhead = &c
	}
	r := resolved{Policy: p}
	b := p.Breaker
	if b == nil {
		b = &core.BreakerPolicy{}
	}
	r.Mode = cmp(b.Mode, "auto")
	r.Window = cmp(b.Window, "count")
	r.WindowSize = cmpInt(b.WindowSize, defaultWindowSize)
	r.WindowDuration = cmpDur(time.Duration(b.WindowDuration), defaultWindowDuration)
	r.MinCalls = b.MinCalls
	if r.MinCalls == 0 {
		r.MinCalls = defaultMinCalls
		if r.Window == "count" && r.WindowSize < r.MinCalls {
			r.MinCalls = r.WindowSize
		}
	}
	if !b.DisableFailureRate {
		r.FailureRate = b.FailureRate
		if r.FailureRate == 0 {
			r.FailureRate = defaultFailureRate
		}
	}
	r.ConsecutiveFailures = b.ConsecutiveFailures
	r.OpenDuration = cmpDur(time.Duration(b.OpenDuration), defaultOpenDuration)
	r.OpenBackoff = b.OpenBackoff
	if r.OpenBackoff == 0 {
		r.OpenBackoff = defaultOpenBackoff
	}
	r.MaxOpenDuration = time.Duration(b.MaxOpenDuration)
	if r.MaxOpenDuration == 0 {
		r.MaxOpenDuration = core.MaxDuration
		if r.OpenDuration <= core.MaxDuration/defaultMaxOpenFactor {
			r.MaxOpenDuration = defaultMaxOpenFactor * r.OpenDuration
		}
	}

	r.Attempts = 1
	if rt := p.Retry; rt != nil {
		r.Attempts = cmpInt(rt.MaxAttempts, defaultMaxAttempts)
		r.InitialDelay = cmpDur(time.Duration(rt.InitialDelay), defaultInitialDelay)
		r.MaxDelay = cmpDur(time.Duration(rt.MaxDelay), defaultMaxDelay)
		r.Multiplier = rt.Multiplier
		if r.Multiplier == 0 {
			r.Multiplier = defaultMultiplier
		}
		if bg := rt.Budget; bg != nil {
			switch {
			case bg.Ratio == 0:
				r.BudgetRatio = defaultBudgetRatio
			case bg.Ratio > 0:
				r.BudgetRatio = bg.Ratio
			}
			switch {
			case bg.MinRetriesPerSec == 0:
				r.BudgetMin = defaultBudgetMinPerSec
			case bg.MinRetriesPerSec > 0:
				r.BudgetMin = bg.MinRetriesPerSec
			}
		}
	}
	return r
}

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func cmpInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func cmpDur(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// percent rounds a rate (a percentage) to the whole percent a mesh takes,
// within 0-100.
func percent(rate float64) int {
	return int(math.Max(0, math.Min(100, math.Round(rate))))
}
