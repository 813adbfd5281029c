package admin

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Request bodies are decoded strictly: the JSON must be one value of the
// expected shape, with every object key spelled exactly as a field's JSON
// name (encoding/json alone would accept "NAME" for "name"), no key twice,
// no unknown key, and nothing after the value.

// decodeRequest reads r's body, at most max bytes, and decodes it into v
// strictly. It returns the problem to answer with when the body is refused.
func decodeRequest(w http.ResponseWriter, r *http.Request, max int64, v any) *Problem {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return problem(http.StatusUnsupportedMediaType, codeMediaType, "the request body must be JSON, sent with Content-Type: application/json")
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return problem(http.StatusRequestEntityTooLarge, codeTooLarge, fmt.Sprintf("the request body is larger than the limit of %d bytes", mbe.Limit))
		}
		return problem(http.StatusBadRequest, codeInvalid, "reading the request body: "+err.Error())
	}
	if err := decodeStrict(data, v); err != nil {
		code := codeInvalid
		var de *decodeError
		if errors.As(err, &de) && de.unknown {
			code = codeUnknownField
		}
		return problem(http.StatusBadRequest, code, err.Error())
	}
	return nil
}

// decodeError is a problem with a request body.
type decodeError struct {
	msg     string
	unknown bool // an unknown (or misspelt) field
}

// Error returns the message, which starts with "request body: ".
func (e *decodeError) Error() string { return e.msg }

func decodeErrorf(format string, args ...any) error {
	return &decodeError{msg: "request body: " + fmt.Sprintf(format, args...)}
}

// decodeStrict decodes data into v (a pointer) under the rules above. The
// body must be valid UTF-8: encoding/json would replace invalid bytes with
// U+FFFD without a word, so they are refused first.
func decodeStrict(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return decodeErrorf("empty; want a JSON object")
	}
	if i := invalidUTF8(data); i >= 0 {
		return decodeErrorf("invalid UTF-8 at byte %d; the body must be JSON encoded as UTF-8", i)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := checkValue(dec, reflect.TypeOf(v).Elem(), ""); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return decodeErrorf("unexpected data after the JSON value")
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return jsonError(err)
	}
	return nil
}

// jsonError turns an encoding/json error into a decodeError with a message
// a person can act on.
func jsonError(err error) error {
	var de *decodeError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &de):
		return de
	case errors.As(err, &se):
		return decodeErrorf("invalid JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return decodeErrorf("want a JSON %s, got %s", kindName(te.Type), te.Value)
		}
		return decodeErrorf("%s: want %s, got %s", field, kindName(te.Type), te.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return decodeErrorf("truncated JSON")
	}
	return decodeErrorf("%s", strings.TrimPrefix(err.Error(), "json: "))
}

func kindName(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

var (
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkValue reads the next value from dec and checks its object keys
// against t.
func checkValue(dec *json.Decoder, t reflect.Type, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	return checkToken(dec, tok, t, path)
}

func checkToken(dec *json.Decoder, tok json.Token, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pt := reflect.PointerTo(t)
	d, isDelim := tok.(json.Delim)
	if !isDelim {
		// A scalar: its type is checked by the decoding proper, except that
		// text values (durations, times, states) are parsed here so that
		// the error names the field.
		if s, ok := tok.(string); ok && pt.Implements(textUnmarshaler) {
			if err := reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
				return decodeErrorf("%s: %v", path, err)
			}
		}
		return nil
	}
	if pt.Implements(jsonUnmarshaler) || pt.Implements(textUnmarshaler) {
		return skip(dec, d)
	}
	switch {
	case d == '{' && t.Kind() == reflect.Struct:
		fields := fieldsOf(t)
		seen := map[string]bool{}
		for dec.More() {
			key, err := objectKey(dec)
			if err != nil {
				return err
			}
			p := joinPath(path, key)
			ft, ok := fields.types[key]
			if !ok {
				return unknownField(p, key, fields)
			}
			if seen[key] {
				return decodeErrorf("field %s appears twice", quote(p))
			}
			seen[key] = true
			if err := checkValue(dec, ft, p); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	case d == '{' && t.Kind() == reflect.Map:
		seen := map[string]bool{}
		for dec.More() {
			key, err := objectKey(dec)
			if err != nil {
				return err
			}
			p := joinPath(path, key)
			if seen[key] {
				return decodeErrorf("key %s appears twice", quote(p))
			}
			seen[key] = true
			if err := checkValue(dec, t.Elem(), p); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	case d == '[' && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array):
		for i := 0; dec.More(); i++ {
			if err := checkValue(dec, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err := dec.Token()
		return err
	}
	// A shape that does not fit t (or an interface): the decoding proper
	// reports the type mismatch; just consume the value.
	return skip(dec, d)
}

func objectKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	key, ok := tok.(string)
	if !ok { // cannot happen: the decoder only returns strings as keys
		return "", decodeErrorf("object key is not a string")
	}
	return key, nil
}

// skip consumes the rest of the value that started with the delimiter d.
func skip(dec *json.Decoder, d json.Delim) error {
	if d != '{' && d != '[' {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := tok.(json.Delim); ok {
			if d == '{' || d == '[' {
				depth++
			} else {
				depth--
			}
		}
	}
	return nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func unknownField(path, key string, f *structFields) error {
	msg := "unknown field " + quote(path)
	for _, n := range f.names {
		if strings.EqualFold(n, key) {
			msg += " (did you mean " + quote(n) + "?)"
			break
		}
	}
	msg += "; known fields: " + strings.Join(f.names, ", ")
	return &decodeError{msg: "request body: " + msg, unknown: true}
}

type structFields struct {
	types map[string]reflect.Type
	names []string // sorted
}

var fieldCache sync.Map // reflect.Type -> *structFields

// fieldsOf returns the JSON field names of the struct type t, as
// encoding/json sees them (tags, "-", embedded structs flattened).
func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{types: map[string]reflect.Type{}}
	collectFields(t, f)
	for n := range f.types {
		f.names = append(f.names, n)
	}
	sort.Strings(f.names)
	fieldCache.Store(t, f)
	return f
}

func collectFields(t reflect.Type, f *structFields) {
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if sf.Anonymous && name == "" {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				collectFields(et, f)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, dup := f.types[name]; !dup {
			f.types[name] = sf.Type
		}
	}
}

// invalidUTF8 returns the offset of the first byte of data that is not
// valid UTF-8, or -1.
func invalidUTF8(data []byte) int {
	if utf8.Valid(data) {
		return -1
	}
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return -1 // cannot happen: utf8.Valid said otherwise
}

// checkText returns why s cannot be a name, a tag or a reason, or "": it
// must be valid UTF-8 without control characters (C0, DEL, C1: newlines
// and tabs included), Unicode line or paragraph separators, or
// bidirectional-formatting characters, any of which could forge or
// disguise a line of the audit log or of a terminal.
func checkText(s string) string {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				return fmt.Sprintf("invalid UTF-8 at byte %d", i)
			}
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
			return fmt.Sprintf("control character %U at byte %d is not allowed", r, i)
		case unicode.Is(unicode.Bidi_Control, r):
			return fmt.Sprintf("bidirectional-formatting character %U at byte %d is not allowed", r, i)
		}
	}
	return ""
}

// textProblem is the 400 for a field that fails checkText, or nil.
func textProblem(field, s string) *Problem {
	if why := checkText(s); why != "" {
		return problem(http.StatusBadRequest, codeInvalid, field+": "+why+"; names, tags and reasons must be printable text on one line")
	}
	return nil
}
