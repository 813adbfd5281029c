package policyfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/breakerbox/breakerbox/core"
	"gopkg.in/yaml.v3"
)

// A node is one value of a parsed document with its position, whatever the
// source format: an object (keys in order), an array or a scalar.
type node struct {
	kind      nodeKind
	line, col int
	keys      []string // object
	keyPos    [][2]int // object: line, column of each key
	vals      []*node  // object: values, as keys; array: items
	value     any      // scalar: string, json.Number, bool or nil
	text      string   // scalar as written
}

type nodeKind uint8

const (
	scalarNode nodeKind = iota
	objectNode
	arrayNode
)

// child returns the value of key in an object node.
func (n *node) child(key string) (*node, int) {
	if n == nil || n.kind != objectNode {
		return nil, -1
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i], i
		}
	}
	return nil, -1
}

// toAny returns the node as encoding/json would decode it (numbers as
// json.Number).
func (n *node) toAny() any {
	switch n.kind {
	case objectNode:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			m[k] = n.vals[i].toAny()
		}
		return m
	case arrayNode:
		a := make([]any, len(n.vals))
		for i, v := range n.vals {
			a[i] = v.toAny()
		}
		return a
	}
	return n.value
}

// display returns the value as written, for Problem.Value: a scalar's text
// (strings quoted), or "{...}" and "[...]".
func (n *node) display() string {
	switch n.kind {
	case objectNode:
		return "{...}"
	case arrayNode:
		return "[...]"
	}
	if s, ok := n.value.(string); ok {
		return strconv.Quote(truncate(s, 80))
	}
	if n.value == nil {
		return "null"
	}
	return truncate(n.text, 80)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// A token of a field path: a key (string) or an index (int).
type pathTok = any

// formatPath writes a path as Problem.Path does:
// "policies[3].breaker.openDuration".
func formatPath(toks []pathTok) string {
	var b strings.Builder
	for _, t := range toks {
		switch t := t.(type) {
		case int:
			fmt.Fprintf(&b, "[%d]", t)
		case string:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(t)
		}
	}
	return b.String()
}

var pathTokRE = regexp.MustCompile(`\[(\d+)\]|\.?([^.\[\]]+)`)

// parsePath reads a path written by formatPath (or by core).
func parsePath(p string) []pathTok {
	var toks []pathTok
	for _, m := range pathTokRE.FindAllStringSubmatch(p, -1) {
		if m[1] != "" {
			i, _ := strconv.Atoi(m[1])
			toks = append(toks, i)
		} else {
			toks = append(toks, m[2])
		}
	}
	return toks
}

// locate follows toks from n, returning the deepest node reached, how many
// tokens it took, and, when the last token taken is an object key, the key's
// position.
func locate(n *node, toks []pathTok) (at *node, depth int, key [2]int) {
	at = n
	for i, t := range toks {
		switch t := t.(type) {
		case string:
			c, j := at.child(t)
			if c == nil {
				return at, i, key
			}
			key = at.keyPos[j]
			at = c
		case int:
			if at.kind != arrayNode || t < 0 || t >= len(at.vals) {
				return at, i, key
			}
			at, key = at.vals[t], [2]int{}
		}
	}
	return at, len(toks), key
}

// lineCol turns a byte offset of data into a line and a column (in runes),
// both from 1.
func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	before := data[:off]
	line := bytes.Count(before, []byte{'\n'}) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[start:]) + 1
}

// isJSON decides the format: by the name's extension, else by the first
// character (an object or array opener is JSON).
func isJSON(name string, data []byte) bool {
	switch ext := strings.ToLower(extOf(name)); ext {
	case ".json":
		return true
	case ".yaml", ".yml":
		return false
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), " \t\r\n")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

func extOf(name string) string {
	i := strings.LastIndexAny(name, "./\\")
	if i < 0 || name[i] != '.' {
		return ""
	}
	return name[i:]
}

// parseJSON reads data as one JSON value with positions. Problems are
// syntax errors and duplicate keys.
func parseJSON(data []byte) (*node, []core.Problem) {
	p := &jsonParser{data: data, dec: json.NewDecoder(bytes.NewReader(data))}
	p.dec.UseNumber()
	n, err := p.value()
	if err == nil {
		if _, err2 := p.dec.Token(); err2 != io.EOF {
			line, col := lineCol(data, p.start())
			return nil, append(p.probs, core.Problem{Line: line, Column: col, Message: "unexpected content after the document"})
		}
	}
	if err != nil {
		off := int(p.dec.InputOffset())
		var se *json.SyntaxError
		msg := err.Error()
		if errors.As(err, &se) {
			off = int(se.Offset)
			msg = strings.TrimPrefix(se.Error(), "json: ")
		}
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			off, msg = len(data), "the document ends early (unexpected end of JSON)"
		}
		line, col := lineCol(data, off)
		return nil, append(p.probs, core.Problem{Line: line, Column: col, Message: "invalid JSON: " + msg})
	}
	return n, p.probs
}

type jsonParser struct {
	data  []byte
	dec   *json.Decoder
	probs []core.Problem
}

// start returns the offset where the next token starts.
func (p *jsonParser) start() int {
	off := int(p.dec.InputOffset())
	for off < len(p.data) && strings.IndexByte(" \t\r\n,:", p.data[off]) >= 0 {
		off++
	}
	return off
}

func (p *jsonParser) value() (*node, error) {
	off := p.start()
	tok, err := p.dec.Token()
	if err != nil {
		return nil, err
	}
	line, col := lineCol(p.data, off)
	n := &node{line: line, col: col}
	switch tok {
	case json.Delim('{'):
		n.kind = objectNode
		seen := map[string][2]int{}
		for p.dec.More() {
			koff := p.start()
			kt, err := p.dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			kl, kc := lineCol(p.data, koff)
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			if first, dup := seen[k]; dup {
				p.probs = append(p.probs, core.Problem{Line: kl, Column: kc, Value: strconv.Quote(k), Message: fmt.Sprintf("duplicate key %q (first at line %d, column %d)", k, first[0], first[1])})
				continue
			}
			seen[k] = [2]int{kl, kc}
			n.keys = append(n.keys, k)
			n.keyPos = append(n.keyPos, [2]int{kl, kc})
			n.vals = append(n.vals, v)
		}
		_, err := p.dec.Token()
		return n, err
	case json.Delim('['):
		n.kind = arrayNode
		for p.dec.More() {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
		_, err := p.dec.Token()
		return n, err
	}
	n.value = tok
	end := int(p.dec.InputOffset())
	n.text = string(p.data[off:end])
	return n, nil
}

// maxAliasNodes bounds the nodes YAML aliases may expand to, against
// documents that expand exponentially ("billion laughs").
const maxAliasNodes = 100_000

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML reads data as one YAML document with positions.
func parseYAML(data []byte) (*node, []core.Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if err == io.EOF {
			return nil, nil // empty
		}
		return nil, []core.Problem{yamlProblem(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		if err != nil {
			return nil, []core.Problem{yamlProblem(err)}
		}
		return nil, []core.Problem{{Line: extra.Line, Column: extra.Column, Message: "more than one YAML document (---) in the file; a policy file holds one"}}
	}
	y := &yamlConv{}
	root := &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, nil
		}
		root = root.Content[0]
	}
	n := y.convert(root)
	return n, y.probs
}

func yamlProblem(err error) core.Problem {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return core.Problem{Line: line, Message: "invalid YAML: " + m[2]}
	}
	return core.Problem{Message: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

type yamlConv struct {
	probs   []core.Problem
	aliased int
	inAlias int
}

func (y *yamlConv) problem(n *yaml.Node, value, msg string) {
	y.probs = append(y.probs, core.Problem{Line: n.Line, Column: n.Column, Value: value, Message: msg})
}

func (y *yamlConv) convert(yn *yaml.Node) *node {
	if y.inAlias > 0 {
		y.aliased++
		if y.aliased > maxAliasNodes {
			if y.aliased == maxAliasNodes+1 {
				y.problem(yn, "", fmt.Sprintf("aliases expand to more than %d values", maxAliasNodes))
			}
			return &node{line: yn.Line, col: yn.Column}
		}
	}
	n := &node{line: yn.Line, col: yn.Column}
	switch yn.Kind {
	case yaml.AliasNode:
		if yn.Alias == nil {
			return n
		}
		y.inAlias++
		c := y.convert(yn.Alias)
		y.inAlias--
		c2 := *c
		c2.line, c2.col = yn.Line, yn.Column
		return &c2
	case yaml.MappingNode:
		n.kind = objectNode
		seen := map[string][2]int{}
		var merges []*yaml.Node
		for i := 0; i+1 < len(yn.Content); i += 2 {
			kn, vn := yn.Content[i], yn.Content[i+1]
			if kn.Kind == yaml.ScalarNode && kn.Tag == "!!merge" {
				merges = append(merges, vn)
				continue
			}
			if kn.Kind != yaml.ScalarNode {
				y.problem(kn, "", "a key must be a plain string")
				continue
			}
			k := kn.Value
			if first, dup := seen[k]; dup {
				y.problem(kn, strconv.Quote(k), fmt.Sprintf("duplicate key %q (first at line %d, column %d)", k, first[0], first[1]))
				continue
			}
			seen[k] = [2]int{kn.Line, kn.Column}
			n.keys = append(n.keys, k)
			n.keyPos = append(n.keyPos, [2]int{kn.Line, kn.Column})
			n.vals = append(n.vals, y.convert(vn))
		}
		// Merge keys (<<: *base): the keys not set here come from the
		// merged mappings, the first mapping winning.
		for _, m := range merges {
			srcs := []*yaml.Node{m}
			if m.Kind == yaml.SequenceNode {
				srcs = m.Content
			}
			for _, s := range srcs {
				c := y.convert(s)
				if c.kind != objectNode {
					y.problem(s, "", "a merge key (<<) takes a mapping or a list of mappings")
					continue
				}
				for j, k := range c.keys {
					if _, dup := seen[k]; dup {
						continue
					}
					seen[k] = c.keyPos[j]
					n.keys = append(n.keys, k)
					n.keyPos = append(n.keyPos, c.keyPos[j])
					n.vals = append(n.vals, c.vals[j])
				}
			}
		}
	case yaml.SequenceNode:
		n.kind = arrayNode
		for _, c := range yn.Content {
			n.vals = append(n.vals, y.convert(c))
		}
	case yaml.ScalarNode:
		n.text = yn.Value
		n.value = y.scalar(yn)
	}
	return n
}

// scalar returns a YAML scalar as JSON would hold it.
func (y *yamlConv) scalar(yn *yaml.Node) any {
	switch yn.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if err := yn.Decode(&b); err == nil {
			return b
		}
	case "!!int":
		var v any
		if err := yn.Decode(&v); err == nil {
			switch v := v.(type) {
			case int:
				return json.Number(strconv.Itoa(v))
			case int64:
				return json.Number(strconv.FormatInt(v, 10))
			case uint64:
				return json.Number(strconv.FormatUint(v, 10))
			case float64:
				return json.Number(strconv.FormatFloat(v, 'g', -1, 64))
			}
		}
		y.problem(yn, yn.Value, fmt.Sprintf("%s is not an integer this document can hold", yn.Value))
		return json.Number("0")
	case "!!float":
		var v float64
		if err := yn.Decode(&v); err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) {
			return json.Number(strconv.FormatFloat(v, 'g', -1, 64))
		}
		y.problem(yn, yn.Value, fmt.Sprintf("%s is not a finite number", yn.Value))
		return json.Number("0")
	}
	return yn.Value // strings, and timestamps or binary as written
}
