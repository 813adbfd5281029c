package core

// presets are the built-in policies a policy may extend as
// "preset:<name>", by name without the prefix.
var presets = map[string]Policy{}

// PresetPrefix starts the Extends value that names a built-in preset, as in
// "preset:stripe".
const PresetPrefix = "preset:"

// Preset returns the built-in preset called name (without PresetPrefix).
func Preset(name string) (Policy, bool) {
	p, ok := presets[name]
	return p, ok
}
