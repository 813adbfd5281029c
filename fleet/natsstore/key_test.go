package natsstore

import (
	"regexp"
	"testing"

	"github.com/breakerbox/breakerbox/fleet"
)

// tokenRe is what a NATS KV key token may hold once escaped: no dot (the
// token separator), no wildcard, no space, no slash.
var tokenRe = regexp.MustCompile(`^[-_=a-zA-Z0-9]+$`)

func TestEscapeRoundTrip(t *testing.T) {
	for _, s := range []string{
		"", "payments", "a.b", "a/b/c", "*", ">", "a b", "=", "==", "=41",
		"http://inventory:8080/v1/items?x=1", "zahlungsdienst/überweisung", "支付.服务", "emoji 🔥",
		"\x00\xff", "-_", "..", ".", "/",
	} {
		tok := escape(s)
		if !tokenRe.MatchString(tok) {
			t.Errorf("escape(%q) = %q: not a plain NATS token", s, tok)
		}
		got, err := unescape(tok)
		if err != nil || got != s {
			t.Errorf("unescape(escape(%q)) = %q, %v", s, got, err)
		}
	}
}

func TestUnescapeRefusesForeignTokens(t *testing.T) {
	for _, tok := range []string{"", "a=", "a=4", "=zz", "=41" /* 'A' is plain: escape never writes it */, "a.b", "a/b", "=4g", "= "} {
		if got, err := unescape(tok); err == nil {
			t.Errorf("unescape(%q) = %q, want an error", tok, got)
		}
	}
}

func TestSplitKey(t *testing.T) {
	k := kvKey(fleet.KindVerdict, "a.b/c")
	kind, key, ok := splitKey(k)
	if !ok || kind != fleet.KindVerdict || key != "a.b/c" {
		t.Fatalf("splitKey(%q) = %q, %q, %v", k, kind, key, ok)
	}
	for _, k := range []string{versionKey, "verdict.a.b", "verdict.a=", ""} {
		if kind, key, ok := splitKey(k); ok {
			t.Errorf("splitKey(%q) = %q, %q, true; want not ok", k, kind, key)
		}
	}
}

// FuzzEscape holds escape against its contract: one plain token, and
// unescape gives the input back.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", "a.b", "=", "ü", "a b/c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := escape(s)
		if !tokenRe.MatchString(tok) {
			t.Fatalf("escape(%q) = %q", s, tok)
		}
		got, err := unescape(tok)
		if err != nil || got != s {
			t.Fatalf("round trip of %q: %q, %v", s, got, err)
		}
	})
}
