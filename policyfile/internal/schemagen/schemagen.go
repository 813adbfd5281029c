// Package schemagen generates the JSON Schema of core.Document: the shape
// comes from core's Go types by reflection, the descriptions from the doc
// comments of core's source (read with go/parser and go/doc), and the
// constraints core checks at run time (enums, ranges, required fields) from
// the tables below, which the policyfile tests hold against core.
package schemagen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// DurationPattern is the pattern of a duration string: what
// time.ParseDuration accepts, without a sign (core refuses negative
// durations).
const DurationPattern = `^(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`

// Enums lists the known values of core's string fields, by "Type.field"
// (JSON name). The empty string means the default where core accepts it.
var Enums = map[string][]string{
	"BreakerPolicy.mode":        {"auto", "disabled", "metrics-only", "forced-open"},
	"BreakerPolicy.window":      {"count", "time"},
	"RateLimitPolicy.algorithm": {"token_bucket", "gcra", "sliding_window"},
	"RetryPolicy.jitter":        {"full", "decorrelated", "none"},
	"FallbackRef.on":            {"rejected", "failed", "timed_out"}, // the items
	"MaintenanceWindow.mode":    {"forced-open", "metrics-only"},
	"ChaosExperiment.fault":     {"error", "latency", "reject", "trip"},
}

// Range is a numeric field's bounds, as core validates them; nil means no
// bound.
type Range struct {
	Min, Max, ExclusiveMin, ExclusiveMax *float64
}

func f(v float64) *float64 { return &v }

// Ranges lists the bounds core checks on numeric fields, by "Type.field".
// Zero stays allowed where it means "not set".
var Ranges = map[string]Range{
	"BreakerPolicy.windowSize":          {Min: f(0), Max: f(1 << 20)},
	"BreakerPolicy.buckets":             {Min: f(0), Max: f(1 << 12)},
	"BreakerPolicy.minCalls":            {Min: f(0)},
	"BreakerPolicy.failureRate":         {Min: f(0), Max: f(100)},
	"BreakerPolicy.slowCallRate":        {Min: f(0), Max: f(100)},
	"BreakerPolicy.consecutiveFailures": {Min: f(0)},
	"BreakerPolicy.openBackoff":         {Min: f(0)},
	"BreakerPolicy.openJitter":          {Min: f(0), ExclusiveMax: f(1)},
	"BreakerPolicy.halfOpenProbes":      {Min: f(0), Max: f(1 << 12)},
	"BreakerPolicy.successThreshold":    {Min: f(0)},
	"BreakerPolicy.rampSteps":           {ExclusiveMin: f(0), ExclusiveMax: f(100)}, // the items
	"BreakerPolicy.rampMinCalls":        {Min: f(0)},
	"BreakerPolicy.graceCalls":          {Min: f(0)},
	"BulkheadPolicy.maxConcurrent":      {Min: f(0), Max: f(1<<31 - 1)},
	"BulkheadPolicy.maxQueue":           {Min: f(0), Max: f(1<<31 - 1)},
	"RateLimitPolicy.limit":             {Min: f(0)},
	"RateLimitPolicy.burst":             {Min: f(0)},
	"RetryPolicy.maxAttempts":           {Min: f(0)},
	"RetryPolicy.multiplier":            {Min: f(0)},
	"RetryBudgetPolicy.ratio":           {Max: f(1000)},
	"TenantPolicy.maxGuards":            {Min: f(0)},
	"ChaosExperiment.rate":              {Min: f(0), Max: f(1)},
	"ChaosExperiment.percent":           {Min: f(0), Max: f(100)},
	"ChaosExperiment.trips":             {Min: f(0)},
	"VariantPolicy.percent":             {Min: f(0), Max: f(100)},
	// Custom states (core/machine.go).
	"MachinePolicy.window":                  {Min: f(0), Max: f(10_000)},
	"MachineState.percent":                  {Min: f(0), Max: f(100)},
	"MachineCondition.failureRateAtLeast":   {Min: f(0), Max: f(1)},
	"MachineCondition.failureRateBelow":     {Min: f(0), Max: f(1)},
	"MachineCondition.slowRateAtLeast":      {Min: f(0), Max: f(1)},
	"MachineCondition.slowRateBelow":        {Min: f(0), Max: f(1)},
	"MachineCondition.minCalls":             {Min: f(0)},
	"MachineCondition.consecutiveFailures":  {Min: f(0)},
	"MachineCondition.consecutiveSuccesses": {Min: f(0)},
}

// Notes adds to a field's description, by "Type.field".
var Notes = map[string]string{
	"Policy.extends":               `The value is the name of another policy of the document, or "preset:<name>" for a built-in preset (see docs/presets.md), such as "preset:stripe".`,
	"BulkheadPolicy.maxConcurrent": inherited,
	"RateLimitPolicy.limit":        inherited,
	"MachinePolicy.initial":        inherited,
	"MachinePolicy.states":         inherited,
}

const inherited = "The schema does not require it: a policy may inherit it through extends, and a tenant overlay or a variant may leave it as it is; the policy as merged must have it (core checks that)."

// Optional lists fields without omitempty that the schema does not
// require, because a policy can inherit them (see inherited).
var Optional = map[string]bool{
	"BulkheadPolicy.maxConcurrent": true,
	"RateLimitPolicy.limit":        true,
	"MachinePolicy.initial":        true,
	"MachinePolicy.states":         true,
}

// overlay is a restricted form of Policy, used where core refuses some of
// its fields.
type overlay struct {
	def      string   // name in $defs
	omit     []string // JSON names left out
	required bool     // whether "name" stays required
	doc      string
}

// overlays maps "Type.field" of a Policy-typed field to its restricted form.
var overlays = map[string]overlay{
	"TenantOverride.policies": {def: "TenantPolicyOverlay", omit: []string{"extends", "match"}, required: true,
		doc: "A tenant's overlay on the policy of the same name: each field set here replaces the policy's. Extends and match are not allowed."},
	"VariantPolicy.override": {def: "VariantOverride", omit: []string{"name", "extends", "match"},
		doc: "The fields in which a variant differs from its control policy. Name, extends and match are not allowed."},
}

// Generate returns the schema, indented, reading doc comments from the
// source of package core in coreDir.
func Generate(coreDir string) ([]byte, error) {
	docs, err := readDocs(coreDir)
	if err != nil {
		return nil, err
	}
	g := &gen{docs: docs, defs: map[string]any{}}
	root := g.object(reflect.TypeFor[core.Document](), nil, true)
	out := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"title":       "breakerbox policy document",
		"description": root["description"],
		"type":        "object",
		"properties":  root["properties"],
		"required":    root["required"],
		"$defs":       g.defs,
	}
	out["additionalProperties"] = false
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

type gen struct {
	docs map[string]string // "Type" and "Type.GoField" -> doc comment
	defs map[string]any
}

var (
	durationType = reflect.TypeFor[core.Duration]()
	timeType     = reflect.TypeFor[time.Time]()
)

// object returns the schema of struct type t, omitting the JSON names in
// omit; required keeps the fields without omitempty required.
func (g *gen) object(t reflect.Type, omit []string, required bool) map[string]any {
	props := map[string]any{}
	var req []string
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, opts, ok := jsonName(sf)
		if !ok || contains(omit, name) {
			continue
		}
		key := t.Name() + "." + name
		s := g.field(sf.Type, key)
		desc := g.docs[t.Name()+"."+sf.Name]
		if n := Notes[key]; n != "" {
			desc = strings.TrimSpace(desc + "\n\n" + n)
		}
		if desc != "" {
			s["description"] = desc
		}
		props[name] = s
		if required && !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") && !Optional[key] {
			req = append(req, name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(req) > 0 {
		s["required"] = req
	}
	if d := g.docs[t.Name()]; d != "" {
		s["description"] = d
	}
	return s
}

// field returns the schema of a field of type t, "Type.field" being key.
func (g *gen) field(t reflect.Type, key string) map[string]any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		if _, ok := g.defs["Duration"]; !ok {
			g.defs["Duration"] = map[string]any{
				"type":        "string",
				"pattern":     DurationPattern,
				"description": g.docs["Duration"] + "\nA sequence of decimal numbers with a unit (ns, us, ms, s, m, h), such as \"300ms\", \"30s\" or \"1h30m\"; \"0\" means not set.",
				"examples":    []string{"30s", "1m30s", "250ms"},
			}
		}
		return map[string]any{"$ref": "#/$defs/Duration"}
	}
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time", "examples": []string{"2026-12-24T22:00:00Z"}}
	}
	switch t.Kind() {
	case reflect.Struct:
		if o, ok := overlays[key]; ok {
			return g.def(o.def, t, o)
		}
		return g.def(t.Name(), t, overlay{required: true})
	case reflect.Slice:
		items := g.field(t.Elem(), key)
		if o, ok := overlays[key]; ok && t.Elem().Kind() == reflect.Struct {
			items = g.def(o.def, t.Elem(), o)
		}
		return map[string]any{"type": "array", "items": items}
	case reflect.String:
		s := map[string]any{"type": "string"}
		if e, ok := Enums[key]; ok {
			s["enum"] = e
		}
		return s
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s := map[string]any{"type": "integer"}
		addRange(s, key)
		return s
	case reflect.Float32, reflect.Float64:
		s := map[string]any{"type": "number"}
		addRange(s, key)
		return s
	}
	panic(fmt.Sprintf("schemagen: no schema for %s (%s)", t, key))
}

// def puts the schema of struct t in $defs under name and returns a
// reference to it.
func (g *gen) def(name string, t reflect.Type, o overlay) map[string]any {
	if _, ok := g.defs[name]; !ok {
		g.defs[name] = true // placeholder against recursion
		s := g.object(t, o.omit, o.required)
		if o.doc != "" {
			s["description"] = o.doc
		}
		g.defs[name] = s
	}
	return map[string]any{"$ref": "#/$defs/" + name}
}

func addRange(s map[string]any, key string) {
	r, ok := Ranges[key]
	if !ok {
		return
	}
	if r.Min != nil {
		s["minimum"] = *r.Min
	}
	if r.Max != nil {
		s["maximum"] = *r.Max
	}
	if r.ExclusiveMin != nil {
		s["exclusiveMinimum"] = *r.ExclusiveMin
	}
	if r.ExclusiveMax != nil {
		s["exclusiveMaximum"] = *r.ExclusiveMax
	}
}

func jsonName(f reflect.StructField) (name, opts string, ok bool) {
	tag := f.Tag.Get("json")
	if tag == "-" || !f.IsExported() {
		return "", "", false
	}
	name, opts, _ = strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, opts, true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// readDocs reads the doc comments of the types of package core in dir and
// of their fields, keyed "Type" and "Type.Field".
func readDocs(dir string) (map[string]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("schemagen: reading core's source: %w", err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("schemagen: %w", err)
		}
		files = append(files, file)
	}
	pkg, err := doc.NewFromFiles(fset, files, "github.com/breakerbox/breakerbox/core")
	if err != nil {
		return nil, fmt.Errorf("schemagen: %w", err)
	}
	out := map[string]string{}
	for _, t := range pkg.Types {
		out[t.Name] = text(pkg, t.Doc)
		for _, spec := range t.Decl.Specs {
			ts, ok := spec.(*ast.TypeSpec)
			if !ok {
				continue
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, fld := range st.Fields.List {
				for _, n := range fld.Names {
					out[ts.Name.Name+"."+n.Name] = text(pkg, fld.Doc.Text())
				}
			}
		}
	}
	return out, nil
}

// text renders a doc comment as plain text (links and headings resolved),
// trimmed.
func text(pkg *doc.Package, s string) string {
	if s == "" {
		return ""
	}
	p := pkg.Printer()
	p.TextWidth = -1 // no wrapping: editors wrap
	return strings.TrimSpace(string(p.Text(pkg.Parser().Parse(s))))
}
