package core

import (
	"bytes"
	"cmp"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxDocumentBytes is the largest policy document ParseDocument accepts,
// 4 MiB: a document of ten thousand policies takes well under a tenth of
// it.
const MaxDocumentBytes = 4 << 20

// ParseDocument decodes a policy document from strict JSON and checks it
// on its own, without a registry (Registry.Check adds what needs one: the
// registered fallbacks). It refuses, listing every problem as a Problem
// with its line, column, field path and value:
//
//   - a document over MaxDocumentBytes, or that is not JSON, or that has
//     anything but white space after it;
//   - a key no field has (the nearest known key is suggested), a key given
//     twice in one object, a key that differs from its field's in case;
//   - a value of the wrong type (a number for a duration, a string for a
//     count) or out of its type's range;
//   - every invalid policy, each merged with its Extends chain (see
//     Policy), with every problem it has; duplicate names, unknown or
//     cyclic parents, unknown presets; tenant overlays and variants naming
//     policies the document does not have.
//
// The error is a *DocumentError. A document that parses may still be
// refused by Registry.Apply, for a fallback the registry does not have.
func ParseDocument(data []byte) (Document, error) {
	if len(data) > MaxDocumentBytes {
		return Document{}, &DocumentError{Problems: []Problem{{Line: 1, Column: 1, Value: strconv.Itoa(len(data)) + " bytes",
			Message: fmt.Sprintf("the document is %d bytes, over the limit of %d (MaxDocumentBytes)", len(data), MaxDocumentBytes)}}}
	}
	w := newWalker(data, true)
	w.walk(reflect.TypeFor[Document](), "")
	if !w.broken {
		w.end()
	}
	if len(w.probs) > 0 {
		return Document{}, &DocumentError{Problems: w.problems()}
	}
	var doc Document
	if err := json.Unmarshal(data, &doc); err != nil { // cannot fail once walked
		return Document{}, &DocumentError{Problems: []Problem{{Message: err.Error()}}}
	}
	_, probs := checkDocument(doc, nil)
	if len(probs) > 0 {
		for i := range probs {
			w.place(&probs[i])
		}
		slices.SortStableFunc(probs, func(a, b Problem) int {
			return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
		})
		return Document{}, &DocumentError{Problems: probs}
	}
	return doc, nil
}

// UnmarshalJSON decodes a document strictly, as Policy.UnmarshalJSON
// decodes a policy: an unknown or repeated key, or a value of the wrong
// type, is refused, naming the field by its path. ParseDocument does the
// same and lists every problem with its position.
func (d *Document) UnmarshalJSON(data []byte) error {
	type plain Document
	return decodeStrict(data, (*plain)(d))
}

// decodeStrict decodes data into v (a pointer to a struct without an
// UnmarshalJSON method of its own), refusing unknown and repeated keys and
// naming the field of the first value that does not fit.
func decodeStrict(data []byte, v any) error {
	w := newWalker(data, false)
	w.walk(reflect.TypeOf(v).Elem(), "")
	if len(w.probs) > 0 && !w.broken {
		return &w.probs[0]
	}
	if err := json.Unmarshal(data, v); err != nil {
		if len(w.probs) > 0 {
			return &w.probs[0]
		}
		return err
	}
	return nil
}

// fieldProblem is a JSON value that does not fit its field, at a byte
// offset of the input.
type fieldProblem struct {
	off     int
	path    string // such as "breaker.openDuration" or "fallbacks[1].name"
	value   string
	problem string
}

func (e *fieldProblem) Error() string {
	if e.path == "" {
		return e.problem
	}
	return e.path + ": " + e.problem
}

// walker reads JSON token by token and checks every value against the Go
// type it decodes into, as encoding/json would decode it but strictly:
// unknown keys, keys in the wrong case and repeated keys are problems too.
// It records where every field's value starts, for problems found later.
type walker struct {
	data   []byte
	dec    *json.Decoder
	probs  []fieldProblem
	broken bool // a syntax error: nothing more can be read
	// at maps a field path to the offset and text of its value; kept only
	// when locate is set.
	at     map[string]valueAt
	locate bool
}

type valueAt struct {
	off   int
	value string
}

func newWalker(data []byte, locate bool) *walker {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	w := &walker{data: data, dec: dec, locate: locate}
	if locate {
		w.at = map[string]valueAt{}
	}
	return w
}

// next returns the offset where the next token starts, and the token.
func (w *walker) next() (int, json.Token, bool) {
	off := w.skip(int(w.dec.InputOffset()))
	tok, err := w.dec.Token()
	if err != nil {
		w.syntax(off, err)
		return off, nil, false
	}
	return off, tok, true
}

// skip returns the offset of the first byte at or after off that is not
// white space or a separator the decoder has not reported.
func (w *walker) skip(off int) int {
	for off < len(w.data) {
		switch w.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

func (w *walker) syntax(off int, err error) {
	w.broken = true
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off = int(se.Offset)
		if off > 0 {
			off-- // the offset is after the byte at fault
		}
		w.probs = append(w.probs, fieldProblem{off: off, problem: "not JSON: " + strings.TrimPrefix(se.Error(), "json: ")})
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		w.probs = append(w.probs, fieldProblem{off: len(w.data), problem: "not JSON: the document ends too soon"})
	default:
		w.probs = append(w.probs, fieldProblem{off: off, problem: "not JSON: " + err.Error()})
	}
}

func (w *walker) add(off int, path, value, problem string) {
	w.probs = append(w.probs, fieldProblem{off: off, path: path, value: value, problem: problem})
}

// end checks that nothing but white space follows the document.
func (w *walker) end() {
	off := w.skip(int(w.dec.InputOffset()))
	if _, err := w.dec.Token(); err != io.EOF {
		w.add(off, "", "", "unexpected data after the document")
	}
}

// walk reads the next value and checks it against t.
func (w *walker) walk(t reflect.Type, path string) {
	off, tok, ok := w.next()
	if !ok {
		return
	}
	if w.locate {
		w.at[path] = valueAt{off, tokenText(tok)}
	}
	if tok == nil {
		return // null leaves any field as it is
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	bad := func() {
		if d, ok := tok.(json.Delim); ok {
			w.skipValue(d)
		}
		w.add(off, path, tokenText(tok), "want "+jsonWant(t)+", got "+jsonGot(tok))
	}
	if reflect.PointerTo(t).Implements(textUnmarshalerType) {
		s, ok := tok.(string)
		if !ok {
			bad()
			return
		}
		if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			w.add(off, path, strconv.Quote(s), err.Error())
		}
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if tok != json.Delim('{') {
			bad()
			return
		}
		seen := map[string]bool{}
		for !w.broken && w.dec.More() {
			koff, kt, ok := w.next()
			if !ok {
				return
			}
			key, _ := kt.(string)
			f, ok := jsonField(t, key)
			name, _ := jsonName(f)
			switch {
			case !ok || name != key:
				w.add(koff, joinJSONPath(path, key), strconv.Quote(key), unknownKey(t, key))
				w.walk(reflect.TypeFor[any](), "")
				continue
			case seen[name]:
				w.add(koff, joinJSONPath(path, key), strconv.Quote(key), fmt.Sprintf("key %q appears twice in one object", key))
			}
			seen[name] = true
			w.walk(f.Type, joinJSONPath(path, name))
		}
		if !w.broken {
			w.next()
		}
	case reflect.Slice:
		if tok != json.Delim('[') {
			bad()
			return
		}
		for i := 0; !w.broken && w.dec.More(); i++ {
			w.walk(t.Elem(), path+"["+strconv.Itoa(i)+"]")
		}
		if !w.broken {
			w.next()
		}
	case reflect.String:
		if _, ok := tok.(string); !ok {
			bad()
		}
	case reflect.Bool:
		if _, ok := tok.(bool); !ok {
			bad()
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			bad()
		} else if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			if _, ferr := strconv.ParseFloat(string(n), 64); ferr == nil && !strings.ContainsAny(string(n), ".eE") {
				w.add(off, path, string(n), string(n)+" is out of range")
			} else {
				bad()
			}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := tok.(json.Number)
		if !ok {
			bad()
		} else if _, err := strconv.ParseUint(string(n), 10, t.Bits()); err != nil {
			bad()
		}
	case reflect.Float32, reflect.Float64:
		n, ok := tok.(json.Number)
		if !ok {
			bad()
		} else if _, err := strconv.ParseFloat(string(n), t.Bits()); err != nil {
			w.add(off, path, string(n), string(n)+" is out of range")
		}
	default: // an interface: anything goes
		if d, ok := tok.(json.Delim); ok {
			w.skipValue(d)
		}
	}
}

// skipValue consumes the rest of the value opened by d.
func (w *walker) skipValue(d json.Delim) {
	if d != '{' && d != '[' {
		return
	}
	for depth := 1; depth > 0; {
		_, tok, ok := w.next()
		if !ok {
			return
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// problems returns the walker's problems as Problems with line and column.
func (w *walker) problems() []Problem {
	out := make([]Problem, len(w.probs))
	for i, fp := range w.probs {
		out[i] = Problem{Path: fp.path, Value: fp.value, Message: fp.problem}
		out[i].Line, out[i].Column = lineColumn(w.data, fp.off)
	}
	return out
}

// place gives a problem found after decoding the line, column and value
// of its field, or of the nearest enclosing field the walker saw.
func (w *walker) place(p *Problem) {
	for path := p.Path; ; {
		if v, ok := w.at[path]; ok {
			p.Line, p.Column = lineColumn(w.data, v.off)
			if p.Value == "" && path == p.Path {
				p.Value = v.value
			}
			return
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			if path == "" {
				return
			}
			path = ""
			continue
		}
		path = path[:i]
	}
}

// lineColumn returns the line and column (counting from 1; the column in
// characters) of the byte offset off in data.
func lineColumn(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[start:]) + 1
}

// tokenText is a scalar token as written in JSON; "" for a delimiter.
func tokenText(tok json.Token) string {
	switch v := tok.(type) {
	case string:
		if len(v) > 60 {
			v = v[:57] + "..."
		}
		return strconv.Quote(v)
	case json.Number:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	return ""
}

// unknownKey describes a key no field of t has (the problem's path names
// the key), suggesting the nearest known key.
func unknownKey(t reflect.Type, key string) string {
	msg := "unknown key"
	best, dist := "", -1
	for i := 0; i < t.NumField(); i++ {
		name, ok := jsonName(t.Field(i))
		if !ok {
			continue
		}
		if strings.EqualFold(name, key) {
			return msg + fmt.Sprintf(" (keys are case-sensitive: %q)", name)
		}
		d := editDistance(strings.ToLower(key), strings.ToLower(name))
		if len(key) >= 3 && strings.HasPrefix(strings.ToLower(name), strings.ToLower(key)) {
			d = 1 // a key cut short
		}
		if dist < 0 || d < dist {
			best, dist = name, d
		}
	}
	if best != "" && dist <= max(2, len(key)/2) {
		return msg + fmt.Sprintf(" (did you mean %q?)", best)
	}
	return msg
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
