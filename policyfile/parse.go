package policyfile

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/fallback"
	"github.com/breakerbox/breakerbox/maintenance/schedule"
)

// MaxBytes is the default size limit of one policy document (4 MiB); a
// larger one is refused before it is parsed. WithMaxBytes changes it.
const MaxBytes = 4 << 20

// Option configures Parse, Load and Watch.
type Option func(*config)

type config struct {
	maxBytes     int
	fallbacks    []string
	hasFallbacks bool
	debounce     time.Duration
	maxDelay     time.Duration
}

func newConfig(opts []Option) *config {
	c := &config{maxBytes: MaxBytes, debounce: DefaultDebounce}
	for _, o := range opts {
		o(c)
	}
	if c.maxDelay <= 0 {
		c.maxDelay = 10 * c.debounce
	}
	return c
}

// WithMaxBytes sets the size limit of one document (default MaxBytes).
func WithMaxBytes(n int) Option { return func(c *config) { c.maxBytes = n } }

// WithFallbacks names the fallbacks the registry that will apply the
// document has (core.WithFallback), so that a policy naming any other
// fallback is refused. Without it the document cannot know them and that
// one check is skipped: Registry.Apply still makes it.
func WithFallbacks(names ...string) Option {
	return func(c *config) { c.fallbacks, c.hasFallbacks = append([]string(nil), names...), true }
}

// Parse reads one policy document, YAML or JSON (by the extension of name:
// .json, .yaml or .yml, else by its first character: "{" is JSON), and
// returns it, or a *core.DocumentError listing every problem found. name is
// the document's file name, used in the problems.
//
// The document goes through four steps; problems of one step stop the ones
// after it, so that each problem is reported once and in its own terms:
//
//  1. the size limit (MaxBytes, WithMaxBytes);
//  2. syntax: YAML or JSON, one document, no duplicate keys;
//  3. the JSON Schema (Schema): unknown keys, wrong types, unknown enum
//     values, out-of-range numbers, malformed durations, missing required
//     fields;
//  4. core's semantic checks (core.Registry.Check on a throwaway registry):
//     each policy valid on its own and merged with its extends chain
//     (cycles, unknown parents and presets), duplicate policy names, tenant
//     overlays and variants; the maintenance windows (their cron
//     expressions parsed by package maintenance, their time zones loaded)
//     and the chaos experiments (rates, faults, end times). Fallback names
//     are checked only with WithFallbacks; a chaos experiment's limits
//     (MaxDuration, excluded guards) only by the registry that applies it.
//
// Every problem carries File, Line and Column (where the field, or the
// object it is missing from, is written), Path ("policies[3].breaker.openDuration")
// and Value (the value as written), when they apply.
func Parse(name string, data []byte, opts ...Option) (core.Document, error) {
	cfg := newConfig(opts)
	pf, probs := parseFile(name, data, len(data), cfg)
	if len(probs) > 0 {
		return core.Document{}, docError(probs)
	}
	return check([]*parsedFile{pf}, cfg)
}

// parsedFile is one file after steps 1-3.
type parsedFile struct {
	name string
	root *node
	doc  core.Document
}

// parseFile runs steps 1-3 on one file of size bytes (data may stop one
// byte past the limit).
func parseFile(name string, data []byte, size int, cfg *config) (*parsedFile, []core.Problem) {
	if size > cfg.maxBytes {
		line, col := lineCol(data, cfg.maxBytes)
		return nil, []core.Problem{{File: name, Line: line, Column: col, Value: strconv.Itoa(size) + " bytes",
			Message: fmt.Sprintf("the document is %d bytes, over the limit of %d bytes (%s), which it passes here", size, cfg.maxBytes, sizeText(cfg.maxBytes))}}
	}
	var root *node
	var probs []core.Problem
	if isJSON(name, data) {
		root, probs = parseJSON(data)
	} else {
		root, probs = parseYAML(data)
	}
	if len(probs) == 0 && root == nil {
		probs = []core.Problem{{Line: 1, Column: 1, Message: `the document is empty; it needs at least "policies" (an empty list is allowed)`}}
	}
	if len(probs) == 0 {
		probs = validateSchema(root)
	}
	for i := range probs {
		probs[i].File = name
	}
	if len(probs) > 0 {
		return nil, probs
	}
	pf := &parsedFile{name: name, root: root}
	b, err := json.Marshal(root.toAny())
	if err == nil {
		err = json.Unmarshal(b, &pf.doc)
	}
	if err != nil { // the schema should have caught it
		return nil, []core.Problem{{File: name, Line: root.line, Column: root.col, Message: strings.TrimPrefix(err.Error(), "core: ")}}
	}
	return pf, nil
}

func sizeText(n int) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	if n%(1<<10) == 0 {
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// origin says where an element of the merged document comes from.
type origin struct {
	file  int
	index int
}

// check merges the files' documents in order and runs step 4, reporting
// every problem at its place in its file.
func check(files []*parsedFile, cfg *config) (core.Document, error) {
	var doc core.Document
	var probs []core.Problem
	origins := map[string][]origin{} // "policies", "variants", "tenants.overrides"
	maxGuardsFrom := -1
	for fi, pf := range files {
		d := pf.doc
		if doc.Schema == "" {
			doc.Schema = d.Schema
		}
		for i := range d.Policies {
			origins["policies"] = append(origins["policies"], origin{fi, i})
		}
		doc.Policies = append(doc.Policies, d.Policies...)
		for i := range d.Variants {
			origins["variants"] = append(origins["variants"], origin{fi, i})
		}
		doc.Variants = append(doc.Variants, d.Variants...)
		for i := range d.Maintenance {
			origins["maintenance"] = append(origins["maintenance"], origin{fi, i})
		}
		doc.Maintenance = append(doc.Maintenance, d.Maintenance...)
		for i := range d.Chaos {
			origins["chaos"] = append(origins["chaos"], origin{fi, i})
		}
		doc.Chaos = append(doc.Chaos, d.Chaos...)
		if t := d.Tenants; t != nil {
			if doc.Tenants == nil {
				doc.Tenants = &core.TenantPolicy{}
			}
			if t.MaxGuards != 0 {
				if maxGuardsFrom >= 0 {
					first := position(files[maxGuardsFrom], []pathTok{"tenants", "maxGuards"})
					p := problemAt(pf, []pathTok{"tenants", "maxGuards"})
					p.Message = fmt.Sprintf("also set in %s; set it in one file", first)
					probs = append(probs, p)
				} else {
					doc.Tenants.MaxGuards, maxGuardsFrom = t.MaxGuards, fi
				}
			}
			for i := range t.Overrides {
				origins["tenants.overrides"] = append(origins["tenants.overrides"], origin{fi, i})
			}
			doc.Tenants.Overrides = append(doc.Tenants.Overrides, t.Overrides...)
		}
	}
	reg, err := throwaway(doc, cfg)
	if err != nil {
		return core.Document{}, err
	}
	if err := reg.Check(doc); err != nil {
		de, ok := err.(*core.DocumentError)
		if !ok {
			return core.Document{}, err
		}
		for _, p := range de.Problems {
			probs = append(probs, place(p, doc, files, origins))
		}
	}
	if len(probs) > 0 {
		return core.Document{}, docError(probs)
	}
	return doc, nil
}

// throwaway returns the registry that checks doc: the fallbacks of
// fallbackOptions, chaos with limits that refuse nothing a registry could
// allow (the registry that applies the document checks its own), and
// package maintenance's linter following it, which parses the windows' cron
// expressions (without the scheduler, so without the admin server).
func throwaway(doc core.Document, cfg *config) (*core.Registry, error) {
	opts := fallbackOptions(doc, cfg)
	if len(doc.Chaos) > 0 {
		inj, err := chaos.New(chaos.Config{MaxGuards: math.MaxInt, MaxDuration: math.MaxInt64})
		if err != nil {
			return nil, err
		}
		opts = append(opts, core.WithChaos(inj))
	}
	reg, err := core.NewRegistry(opts...)
	if err != nil {
		return nil, err
	}
	if len(doc.Maintenance) > 0 {
		if _, err := reg.Follow(schedule.Linter{}); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// fallbackOptions registers, on the throwaway registry, the fallbacks
// WithFallbacks named, or else every fallback the document names (so that
// check is skipped).
func fallbackOptions(doc core.Document, cfg *config) []core.Option {
	names := cfg.fallbacks
	if !cfg.hasFallbacks {
		add := func(ps ...core.Policy) {
			for _, p := range ps {
				for _, f := range p.Fallbacks {
					names = append(names, f.Name)
				}
			}
		}
		add(doc.Policies...)
		if doc.Tenants != nil {
			for _, o := range doc.Tenants.Overrides {
				add(o.Policies...)
			}
		}
		for _, v := range doc.Variants {
			add(v.Override)
		}
	}
	var opts []core.Option
	for _, n := range names {
		if n != "" {
			opts = append(opts, core.WithFallback(n, noFallback))
		}
	}
	return opts
}

func noFallback(context.Context, fallback.Cause) (any, error) { return nil, nil }

var mergedIndexNote = regexp.MustCompile(` \(policies\[\d+\][^)]*\)`)

var msgFieldRE = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9]*)(\[(\d+)\])?: (.*)$`)

// place turns a problem core found in the merged document into one at its
// place in its file: file, local path, line, column and value.
func place(p core.Problem, doc core.Document, files []*parsedFile, origins map[string][]origin) core.Problem {
	toks := parsePath(p.Path)
	fi := 0
	for _, prefix := range []string{"policies", "variants", "tenants.overrides", "maintenance", "chaos"} {
		n := len(parsePath(prefix))
		if len(toks) > n && formatPath(toks[:n]) == prefix {
			if i, ok := toks[n].(int); ok && i < len(origins[prefix]) {
				o := origins[prefix][i]
				fi = o.file
				toks = slices.Clone(toks)
				toks[n] = o.index
			}
			break
		}
	}
	if len(toks) > 0 && toks[0] == "tenants" && len(toks) > 1 && toks[1] == "maxGuards" {
		for i, f := range files {
			if _, d, _ := locate(f.root, toks); d == len(toks) {
				fi = i
				break
			}
		}
	}
	pf := files[fi]
	// Core names a section's field in the message ("failureRate: 150 must
	// be ..."); move it into the path when the document has it.
	for {
		m := msgFieldRE.FindStringSubmatch(p.Message)
		if m == nil {
			break
		}
		next := append(slices.Clone(toks), pathTok(m[1]))
		if m[3] != "" {
			i, _ := strconv.Atoi(m[3])
			next = append(next, i)
		}
		// The field is in the file, or is missing from an object that is
		// (a required field left out): the path names it either way.
		at, d, _ := locate(pf.root, next)
		if d != len(next) && (d != len(toks) || at.kind != objectNode || m[3] != "") {
			break
		}
		toks, p.Message = next, m[4]
	}
	q := problemAt(pf, toks)
	q.Message = p.Message
	if q.Value == "" { // the value as written in the file wins
		q.Value = p.Value
	}
	if strings.HasPrefix(p.Message, "duplicate policy name ") && len(toks) > 1 && toks[0] == "policies" {
		// Core may name the first by its index in the merged document,
		// which says nothing about files: name its place instead.
		q.Message = mergedIndexNote.ReplaceAllString(q.Message, "")
		if i, ok := toks[1].(int); ok && i < len(files[fi].doc.Policies) {
			name := files[fi].doc.Policies[i].Name
			for j, o := range origins["policies"] {
				if doc.Policies[j].Name == name {
					q.Message += " (first defined at " + position(files[o.file], []pathTok{"policies", o.index, "name"}) + ")"
					break
				}
			}
		}
	}
	return q
}

// problemAt returns a problem at the path toks of file pf: its file, path,
// position (the deepest node of the path the file has) and value (when the
// whole path is there and holds a scalar).
func problemAt(pf *parsedFile, toks []pathTok) core.Problem {
	at, depth, _ := locate(pf.root, toks)
	p := core.Problem{File: pf.name, Path: formatPath(toks), Line: at.line, Column: at.col}
	if depth == len(toks) && at.kind == scalarNode {
		p.Value = at.display()
	}
	return p
}

// position returns "file:line:column" of a path in pf.
func position(pf *parsedFile, toks []pathTok) string {
	at, _, _ := locate(pf.root, toks)
	return fmt.Sprintf("%s:%d:%d", pf.name, at.line, at.col)
}

// docError sorts problems by place and wraps them.
func docError(probs []core.Problem) *core.DocumentError {
	slices.SortStableFunc(probs, func(a, b core.Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column), cmp.Compare(a.Path, b.Path))
	})
	return &core.DocumentError{Problems: probs}
}
