package core

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
)

// PresetPrefix starts the Extends value that names a built-in preset, as in
// "preset:stripe".
const PresetPrefix = "preset:"

// presetFiles holds the built-in presets, one JSON policy a file, named
// after the preset: presets/stripe.json is "preset:stripe". The values and
// the provider documentation behind them are in docs/presets.md.
//
//go:embed presets/*.json
var presetFiles embed.FS

// presets decodes the embedded table on first use, so that a program that
// never extends a preset pays nothing for it. A preset that does not decode
// or validate is a bug in this package, not bad user input: loading panics
// with the file and the problem, and the package's tests (which load every
// preset) fail on it before a release can carry it.
var presets = sync.OnceValue(func() map[string]Policy {
	table, err := loadPresets(presetFiles)
	if err != nil {
		panic(err)
	}
	return table
})

// loadPresets decodes and validates every presets/*.json file of fsys.
func loadPresets(fsys fs.FS) (map[string]Policy, error) {
	entries, err := fs.ReadDir(fsys, "presets")
	if err != nil {
		return nil, fmt.Errorf("core: presets: %w", err)
	}
	table := make(map[string]Policy, len(entries))
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		file := path.Join("presets", e.Name())
		data, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("core: preset %s: %w", file, err)
		}
		p, err := decodePreset(name, data)
		if err != nil {
			return nil, fmt.Errorf("core: preset %s: %w", file, err)
		}
		table[name] = p
	}
	return table, nil
}

// decodePreset decodes one preset file and checks it: its name must be
// PresetPrefix+name, it may not extend or match anything (a preset is only
// ever a parent), and it must validate. Errors name the field, not the
// policy: the caller names the file.
func decodePreset(name string, data []byte) (Policy, error) {
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return Policy{}, unwrapPolicyError(err)
	}
	if dec.More() {
		return Policy{}, fmt.Errorf("more than one JSON value")
	}
	if want := PresetPrefix + name; p.Name != want {
		return Policy{}, fmt.Errorf("name: %q is not %q", p.Name, want)
	}
	if p.Extends != "" || len(p.Match) > 0 {
		return Policy{}, fmt.Errorf("a preset may not set extends or match")
	}
	if err := p.Validate(); err != nil {
		return Policy{}, unwrapPolicyError(err)
	}
	return p, nil
}

// unwrapPolicyError drops a *PolicyError's "core: policy <name>:" prefix.
func unwrapPolicyError(err error) error {
	var pe *PolicyError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Preset returns the built-in preset called name (without PresetPrefix):
// "stripe" returns the policy named "preset:stripe". The policy is a copy
// the caller may change. PresetNames lists the presets; docs/presets.md
// gives each one's values and the provider documentation they come from.
func Preset(name string) (Policy, bool) {
	p, ok := presets()[name]
	if !ok {
		return Policy{}, false
	}
	return clonePolicy(p), true
}

// PresetNames returns the names of the built-in presets, sorted, without
// PresetPrefix.
func PresetNames() []string {
	table := presets()
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// clonePolicy returns a deep copy of p: no slice or section is shared with
// p.
func clonePolicy(p Policy) Policy {
	p.Match = slices.Clone(p.Match)
	p.Tags = slices.Clone(p.Tags)
	if p.Breaker != nil {
		b := *p.Breaker
		b.RampSteps = slices.Clone(b.RampSteps)
		p.Breaker = &b
	}
	if p.Bulkhead != nil {
		b := *p.Bulkhead
		p.Bulkhead = &b
	}
	if p.RateLimit != nil {
		r := *p.RateLimit
		p.RateLimit = &r
	}
	if p.Retry != nil {
		r := *p.Retry
		if r.Budget != nil {
			b := *r.Budget
			r.Budget = &b
		}
		p.Retry = &r
	}
	if p.Fallbacks != nil {
		fs := make([]FallbackRef, len(p.Fallbacks))
		for i, f := range p.Fallbacks {
			fs[i] = FallbackRef{Name: f.Name, On: slices.Clone(f.On)}
		}
		p.Fallbacks = fs
	}
	return p
}
