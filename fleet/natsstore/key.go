package natsstore

import (
	"fmt"
	"strings"

	"github.com/breakerbox/breakerbox/fleet"
)

// escChar starts an escape in a key token: "=XX", XX the byte in upper-case
// hex. A lone "=" is the empty string.
const escChar = '='

// versionKey is the key of the fleet-wide version counter. It is a single
// token, and every entry key is two (kind and key), so no entry can take it.
const versionKey = "_version"

// plain reports whether b may stand for itself in a key token. NATS KV keys
// allow [-/_=.a-zA-Z0-9]; dots separate tokens, "=" is the escape character
// and "/" is escaped too so that keys read the same in every NATS tool.
func plain(b byte) bool {
	return b == '-' || b == '_' ||
		('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') || ('0' <= b && b <= '9')
}

// escape turns s (any string: guard names may hold dots, slashes, spaces,
// wildcards or any Unicode) into one NATS subject token. It is injective:
// unescape(escape(s)) == s for every s.
func escape(s string) string {
	if s == "" {
		return string(escChar)
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !plain(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plain(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte(escChar)
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0xF])
	}
	return b.String()
}

// unescape reverses escape. It refuses a token escape could not have made,
// such as one written into the bucket by another program.
func unescape(tok string) (string, error) {
	if tok == string(escChar) {
		return "", nil
	}
	if tok == "" {
		return "", fmt.Errorf("natsstore: empty key token")
	}
	if strings.IndexByte(tok, escChar) < 0 {
		for i := 0; i < len(tok); i++ {
			if !plain(tok[i]) {
				return "", fmt.Errorf("natsstore: key token %q holds %q unescaped", tok, tok[i])
			}
		}
		return tok, nil
	}
	b := make([]byte, 0, len(tok))
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if plain(c) {
			b = append(b, c)
			continue
		}
		if c != escChar || i+2 >= len(tok) {
			return "", fmt.Errorf("natsstore: key token %q is not escaped as natsstore escapes", tok)
		}
		hi, ok1 := unhex(tok[i+1])
		lo, ok2 := unhex(tok[i+2])
		v := hi<<4 | lo
		if !ok1 || !ok2 || plain(v) {
			return "", fmt.Errorf("natsstore: key token %q is not escaped as natsstore escapes", tok)
		}
		b = append(b, v)
		i += 2
	}
	return string(b), nil
}

// unhex reads one upper-case hex digit.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// kvKey is the bucket key of (kind, key): "<kind>.<key>", both escaped.
func kvKey(kind fleet.Kind, key string) string {
	return escape(string(kind)) + "." + escape(key)
}

// kindFilter is the bucket key filter that matches every key of kind.
func kindFilter(kind fleet.Kind) string {
	return escape(string(kind)) + ".*"
}

// splitKey reverses kvKey. ok is false for a key natsstore did not write
// (the version counter, a foreign key).
func splitKey(k string) (kind fleet.Kind, key string, ok bool) {
	i := strings.IndexByte(k, '.')
	if i < 0 || strings.IndexByte(k[i+1:], '.') >= 0 {
		return "", "", false
	}
	kd, err := unescape(k[:i])
	if err != nil {
		return "", "", false
	}
	key, err = unescape(k[i+1:])
	if err != nil {
		return "", "", false
	}
	return fleet.Kind(kd), key, true
}
