package main

import (
	"fmt"
	"go/token"
	"slices"
	"strings"
	"time"
)

// directive is the comment prefix breakergen reads.
const directive = "//breakerbox:guard"

// Keys a method annotation accepts, and keys an interface (type-level)
// annotation accepts.
var (
	methodKeys = []string{"name", "policy", "fallback", "timeout", "ctx", "skip"}
	typeKeys   = []string{"prefix", "policy", "fallback", "timeout", "ctx"}
)

// posError is an error at a position of the user's source: its message
// starts with file:line:column.
type posError struct {
	pos token.Position
	msg string
}

func (e *posError) Error() string { return e.pos.String() + ": " + e.msg }

func errorAt(pos token.Position, format string, args ...any) error {
	return &posError{pos: pos, msg: fmt.Sprintf(format, args...)}
}

// value is one key=value of an annotation, with the position of its key.
type value struct {
	text string
	pos  token.Position
}

// annotation is one parsed //breakerbox:guard comment.
type annotation struct {
	pos  token.Position // of the comment
	vals map[string]value
}

func (a *annotation) get(key string) (value, bool) {
	if a == nil {
		return value{}, false
	}
	v, ok := a.vals[key]
	return v, ok
}

// isDirective reports whether a comment's text is a //breakerbox:guard
// directive (and not, say, //breakerbox:guarded).
func isDirective(text string) bool {
	rest, ok := strings.CutPrefix(text, directive)
	return ok && (rest == "" || rest[0] == ' ' || rest[0] == '\t')
}

// parseAnnotation parses the comment text (which isDirective accepts) found
// at pos, accepting the keys in allowed; where says what it annotates
// ("method Charge", "interface PaymentClient") for error messages.
func parseAnnotation(text string, pos token.Position, allowed []string, where string) (*annotation, error) {
	a := &annotation{pos: pos, vals: map[string]value{}}
	rest := text[len(directive):]
	off := len(directive)
	for rest != "" {
		trimmed := strings.TrimLeft(rest, " \t")
		off += len(rest) - len(trimmed)
		rest = trimmed
		if rest == "" {
			break
		}
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		field := rest[:end]
		kpos := pos
		kpos.Column += off
		kpos.Offset += off
		key, val, hasVal := strings.Cut(field, "=")
		if err := checkKey(key, val, hasVal, kpos, allowed, where); err != nil {
			return nil, err
		}
		if prev, dup := a.vals[key]; dup {
			return nil, errorAt(kpos, "breakerbox:guard: key %q given twice on %s (first at column %d)", key, where, prev.pos.Column)
		}
		a.vals[key] = value{text: val, pos: kpos}
		rest = rest[end:]
		off += end
	}
	if _, ok := a.vals["prefix"]; !ok && slices.Contains(allowed, "prefix") {
		return nil, errorAt(pos, "breakerbox:guard on %s: an interface annotation needs prefix= (the guard names of its methods)", where)
	}
	return a, nil
}

// checkKey validates one key and its value.
func checkKey(key, val string, hasVal bool, pos token.Position, allowed []string, where string) error {
	if !slices.Contains(allowed, key) {
		switch {
		case key == "name" && slices.Contains(allowed, "prefix"):
			return errorAt(pos, "breakerbox:guard: key \"name\" belongs on a method, not on %s (use prefix= there)", where)
		case key == "prefix" && slices.Contains(allowed, "name"):
			return errorAt(pos, "breakerbox:guard: key \"prefix\" belongs on the interface, not on %s (use name= there)", where)
		case key == "skip" && slices.Contains(allowed, "prefix"):
			return errorAt(pos, "breakerbox:guard: key \"skip\" belongs on a method, not on %s", where)
		}
		return errorAt(pos, "breakerbox:guard: unknown key %q on %s (want %s)", key, where, strings.Join(allowed, ", "))
	}
	if key == "skip" {
		if hasVal {
			return errorAt(pos, "breakerbox:guard: skip takes no value, got %q", val)
		}
		return nil
	}
	if !hasVal || val == "" {
		return errorAt(pos, "breakerbox:guard: %s needs a value (%s=...)", key, key)
	}
	switch key {
	case "timeout":
		d, err := time.ParseDuration(val)
		if err != nil {
			return errorAt(pos, "breakerbox:guard: timeout: %q is not a duration (such as 2s or 500ms)", val)
		}
		if d < 0 {
			return errorAt(pos, "breakerbox:guard: timeout: %q is negative", val)
		}
	case "ctx":
		if val != "background" {
			return errorAt(pos, "breakerbox:guard: ctx: %q is not allowed (the only value is background)", val)
		}
	case "fallback":
		names := strings.Split(val, ",")
		for i, n := range names {
			if n == "" {
				return errorAt(pos, "breakerbox:guard: fallback: %q has an empty name (a comma-separated list of names given to core.WithFallback)", val)
			}
			if slices.Contains(names[:i], n) {
				return errorAt(pos, "breakerbox:guard: fallback: %q names %q twice", val, n)
			}
		}
	}
	return nil
}
