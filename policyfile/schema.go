package policyfile

//go:generate go run ./internal/gen

import (
	"bytes"
	_ "embed"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/breakerbox/breakerbox/core"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

//go:embed schema.json
var schemaJSON []byte

// schemaURL names the schema to the validator.
const schemaURL = "https://github.com/breakerbox/breakerbox/policyfile/schema.json"

// Schema returns the JSON Schema (draft 2020-12) of a policy document, the
// same for YAML and JSON. It is generated from core's Go types and doc
// comments (go generate in policyfile/ writes schema.json, embedded here):
// unknown keys are refused (additionalProperties false), durations are
// strings with a pattern, known string values are enums, and numbers carry
// the bounds core validates. `breakerctl policy schema` prints it.
func Schema() []byte { return bytes.Clone(schemaJSON) }

var compiled = sync.OnceValues(func() (*compiledSchema, error) {
	raw, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(schemaURL, raw); err != nil {
		return nil, err
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		return nil, err
	}
	return &compiledSchema{schema: s, raw: raw}, nil
})

type compiledSchema struct {
	schema *jsonschema.Schema
	raw    any
}

// validateSchema validates a parsed document against Schema and returns a
// problem for every violation, at its place.
func validateSchema(root *node) []core.Problem {
	cs, err := compiled()
	if err != nil { // schema.json is generated and tested: cannot happen
		panic("policyfile: embedded schema.json: " + err.Error())
	}
	err = cs.schema.Validate(root.toAny())
	if err == nil {
		return nil
	}
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []core.Problem{{Line: root.line, Column: root.col, Message: err.Error()}}
	}
	var probs []core.Problem
	var walk func(*jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			probs = append(probs, cs.problems(root, e)...)
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return probs
}

var printer = message.NewPrinter(language.English)

// problems turns one validation error into problems.
func (cs *compiledSchema) problems(root *node, e *jsonschema.ValidationError) []core.Problem {
	// The instance location is strings; make array indexes ints.
	var toks []pathTok
	at := root
	for _, s := range e.InstanceLocation {
		if at != nil && at.kind == arrayNode {
			i, _ := strconv.Atoi(s)
			toks = append(toks, i)
			if i < len(at.vals) {
				at = at.vals[i]
			}
			continue
		}
		toks = append(toks, s)
		at, _ = at.child(s)
	}
	here := func(toks []pathTok, keyPos bool) core.Problem {
		n, depth, key := locate(root, toks)
		p := core.Problem{Path: formatPath(toks), Line: n.line, Column: n.col}
		if keyPos && depth == len(toks) && key[0] > 0 {
			p.Line, p.Column = key[0], key[1]
		}
		if depth == len(toks) && n.kind == scalarNode {
			p.Value = n.display()
		}
		return p
	}
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		known := cs.properties(e.SchemaURL)
		var out []core.Problem
		for _, name := range k.Properties {
			p := here(append(slices.Clone(toks), name), true)
			p.Value = strconv.Quote(name)
			p.Message = fmt.Sprintf("unknown field %q", name)
			if s := suggest(name, known); s != "" {
				p.Message += fmt.Sprintf("; did you mean %q?", s)
			} else if len(known) > 0 {
				p.Message += "; known fields: " + strings.Join(known, ", ")
			}
			out = append(out, p)
		}
		return out
	case *kind.Required:
		var out []core.Problem
		for _, name := range k.Missing {
			p := here(toks, false)
			p.Path = formatPath(append(slices.Clone(toks), name))
			p.Value = ""
			p.Message = fmt.Sprintf("missing required field %q", name)
			out = append(out, p)
		}
		return out
	}
	p := here(toks, false)
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		p.Message = "want " + strings.Join(article(k.Want), " or ") + ", got " + gotText(at)
	case *kind.Enum:
		var want []string
		for _, w := range k.Want {
			want = append(want, strconv.Quote(fmt.Sprint(w)))
		}
		p.Message = fmt.Sprintf("%s is not one of %s", p.Value, strings.Join(want, ", "))
	case *kind.Pattern:
		if strings.HasSuffix(e.SchemaURL, "/Duration") || strings.Contains(e.SchemaURL, "/Duration/") {
			p.Message = fmt.Sprintf(`%q is not a duration such as "30s" or "1m30s" (no sign; units ns, us, ms, s, m, h)`, k.Got)
		} else {
			p.Message = fmt.Sprintf("%q does not match the pattern %s", k.Got, k.Want)
		}
	case *kind.Minimum:
		p.Message = fmt.Sprintf("%s must be at least %s", p.Value, ratText(k.Want))
	case *kind.Maximum:
		p.Message = fmt.Sprintf("%s must be at most %s", p.Value, ratText(k.Want))
	case *kind.ExclusiveMinimum:
		p.Message = fmt.Sprintf("%s must be above %s", p.Value, ratText(k.Want))
	case *kind.ExclusiveMaximum:
		p.Message = fmt.Sprintf("%s must be below %s", p.Value, ratText(k.Want))
	default:
		p.Message = e.ErrorKind.LocalizedString(printer)
	}
	return []core.Problem{p}
}

func ratText(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func article(types []string) []string {
	out := make([]string, len(types))
	for i, t := range types {
		switch t {
		case "object", "array", "integer":
			out[i] = "an " + t
		case "boolean":
			out[i] = "true or false"
		default:
			out[i] = "a " + t
		}
	}
	return out
}

// gotText describes a value for a type error, as core does.
func gotText(n *node) string {
	if n == nil {
		return "nothing"
	}
	switch n.kind {
	case objectNode:
		return "an object"
	case arrayNode:
		return "an array"
	}
	switch v := n.value.(type) {
	case string:
		return "the string " + strconv.Quote(truncate(v, 40))
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	return "the number " + n.text
}

// properties returns the property names of the object schema at url (a
// schema location such as "...#/$defs/BreakerPolicy"), sorted.
func (cs *compiledSchema) properties(url string) []string {
	_, frag, _ := strings.Cut(url, "#")
	v := cs.raw
	for _, t := range strings.Split(strings.Trim(frag, "/"), "/") {
		if t == "" {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")]
	}
	m, _ := v.(map[string]any)
	props, _ := m["properties"].(map[string]any)
	var out []string
	for k := range props {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// suggest returns the known name closest to name (same letters ignoring
// case, or at most two edits away), or "".
func suggest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return k
		}
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
