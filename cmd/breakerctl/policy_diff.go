package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/breakerbox/breakerbox/core"
)

// docDiff is what changes from one policy document to another: its
// policies, variants and tenant overlays by name, each added, removed or
// changed field by field, and the document's other settings.
type docDiff struct {
	Entries []entryDiff `json:"entries"`
	// Unchanged counts the named entries present and equal in both.
	Unchanged int `json:"unchanged"`
}

// entryDiff is one policy, variant, tenant overlay or the document's other
// settings ("document"), and how it changed.
type entryDiff struct {
	Kind   string        `json:"kind"` // policy, variant, tenant, document
	Name   string        `json:"name,omitempty"`
	Change string        `json:"change"` // added, removed, changed
	Fields []fieldChange `json:"fields,omitempty"`
}

// fieldChange is one field that differs, its values as JSON ("" where the
// field is not set).
type fieldChange struct {
	Path string `json:"path"`
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

// diffDocuments compares a (the old) with b (the new).
func diffDocuments(a, b core.Document) (docDiff, error) {
	ta, err := toTree(a)
	if err != nil {
		return docDiff{}, err
	}
	tb, err := toTree(b)
	if err != nil {
		return docDiff{}, err
	}
	var d docDiff
	// The named sections, each keyed by its entries' names.
	d.named("policy", "name", list(ta["policies"]), list(tb["policies"]))
	d.named("variant", "name", list(ta["variants"]), list(tb["variants"]))
	d.named("tenant", "tenant", list(field(ta["tenants"], "overrides")), list(field(tb["tenants"], "overrides")))
	// Whatever else the documents say, flattened.
	rest := func(t map[string]any) map[string]string {
		out := map[string]string{}
		for k, v := range t {
			switch k {
			case "$schema", "policies", "variants":
				continue
			case "tenants":
				if m, ok := v.(map[string]any); ok {
					m = maps.Clone(m)
					delete(m, "overrides")
					v = m
				}
			}
			flatten(v, k, out)
		}
		return out
	}
	if fields := diffFlat(rest(ta), rest(tb)); len(fields) > 0 {
		d.Entries = append(d.Entries, entryDiff{Kind: "document", Change: "changed", Fields: fields})
	}
	return d, nil
}

// toTree is doc as decoded JSON.
func toTree(doc core.Document) (map[string]any, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var t map[string]any
	if err := dec.Decode(&t); err != nil {
		return nil, err
	}
	return t, nil
}

func list(v any) []any { l, _ := v.([]any); return l }

func field(v any, k string) any {
	m, _ := v.(map[string]any)
	return m[k]
}

// named diffs two lists of objects keyed by their key field: entries of b
// in b's order (added or changed), then entries only in a (removed).
func (d *docDiff) named(kind, key string, a, b []any) {
	index := func(l []any) ([]string, map[string]any) {
		var order []string
		m := map[string]any{}
		for i, v := range l {
			name, _ := field(v, key).(string)
			if name == "" {
				name = fmt.Sprintf("#%d", i+1)
			}
			if _, dup := m[name]; dup {
				continue // a duplicate: lint reports it
			}
			order = append(order, name)
			m[name] = v
		}
		return order, m
	}
	oa, ma := index(a)
	ob, mb := index(b)
	for _, n := range ob {
		old, ok := ma[n]
		if !ok {
			d.Entries = append(d.Entries, entryDiff{Kind: kind, Name: n, Change: "added"})
			continue
		}
		fa, fb := map[string]string{}, map[string]string{}
		flatten(old, "", fa)
		flatten(mb[n], "", fb)
		if fields := diffFlat(fa, fb); len(fields) > 0 {
			d.Entries = append(d.Entries, entryDiff{Kind: kind, Name: n, Change: "changed", Fields: fields})
		} else {
			d.Unchanged++
		}
	}
	for _, n := range oa {
		if _, ok := mb[n]; !ok {
			d.Entries = append(d.Entries, entryDiff{Kind: kind, Name: n, Change: "removed"})
		}
	}
}

// flatten puts every leaf of v in out under its path: "breaker.openDuration",
// "policies[payments].retry.maxAttempts" (a list of objects with names is
// keyed by name), "fallbacks[0].name" (other lists of objects by index); a
// list of plain values is one leaf.
func flatten(v any, path string, out map[string]string) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch v := v.(type) {
	case map[string]any:
		if len(v) == 0 {
			out[path] = "{}"
		}
		for k, e := range v {
			flatten(e, join(k), out)
		}
	case []any:
		if len(v) == 0 {
			out[path] = "[]"
			return
		}
		if !slices.ContainsFunc(v, isObject) {
			out[path] = literal(v)
			return
		}
		for i, e := range v {
			name, _ := field(e, "name").(string)
			if name == "" {
				name, _ = field(e, "tenant").(string)
			}
			if name == "" {
				name = strconv.Itoa(i)
			}
			flatten(e, path+"["+name+"]", out)
		}
	default:
		out[path] = literal(v)
	}
}

func isObject(v any) bool { _, ok := v.(map[string]any); return ok }

// literal is v as compact JSON.
func literal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// diffFlat lists the paths whose values differ, sorted.
func diffFlat(a, b map[string]string) []fieldChange {
	var out []fieldChange
	for p, va := range a {
		if vb, ok := b[p]; !ok || vb != va {
			out = append(out, fieldChange{Path: p, Old: va, New: b[p]})
		}
	}
	for p, vb := range b {
		if _, ok := a[p]; !ok {
			out = append(out, fieldChange{Path: p, New: vb})
		}
	}
	slices.SortFunc(out, func(x, y fieldChange) int { return strings.Compare(x.Path, y.Path) })
	return out
}

// empty reports whether the documents are the same.
func (d docDiff) empty() bool { return len(d.Entries) == 0 }

// write prints the diff: "+ policy NAME", "- policy NAME", "~ policy NAME"
// with a line per changed field, then a summary.
func (d docDiff) write(w io.Writer, color bool) {
	var added, removed, changed int
	for _, e := range d.Entries {
		switch e.Change {
		case "added":
			added++
		case "removed":
			removed++
		default:
			changed++
		}
		writeEntry(w, e, color)
	}
	if d.empty() {
		fmt.Fprintf(w, "no differences (%d unchanged)\n", d.Unchanged)
		return
	}
	fmt.Fprintf(w, "%d added, %d removed, %d changed, %d unchanged\n", added, removed, changed, d.Unchanged)
}

// writeEntry prints one entry of a diff and its changed fields.
func writeEntry(w io.Writer, e entryDiff, color bool) {
	title := e.Kind
	if e.Name != "" {
		title += " " + e.Name
	}
	mark, c := "~ ", yellow
	switch e.Change {
	case "added":
		mark, c = "+ ", green
	case "removed":
		mark, c = "- ", red
	}
	line := mark + title
	if color {
		line = "\x1b[" + c + "m" + line + "\x1b[0m"
	}
	fmt.Fprintln(w, line)
	for _, f := range e.Fields {
		fmt.Fprintf(w, "    %s: %s -> %s\n", f.Path, orUnset(f.Old), orUnset(f.New))
	}
}

func orUnset(v string) string {
	if v == "" {
		return "(unset)"
	}
	return v
}

// shortHash is a content hash cut to its first 12 hex digits.
func shortHash(h string) string {
	algo, hex, ok := strings.Cut(h, ":")
	if !ok {
		algo, hex = "", h
	}
	if len(hex) > 12 {
		hex = hex[:12]
	}
	if algo == "" {
		return hex
	}
	return algo + ":" + hex
}
