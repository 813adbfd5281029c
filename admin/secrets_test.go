package admin

// Regression tests for issue 16, "Hardening: the operator surface under
// hostile input".

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// leakedPart returns a piece (4 bytes or more) of secret found in text, or
// "".
func leakedPart(text, secret string) string {
	for i := 0; i+4 <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+4]) {
			return secret[i : i+4]
		}
	}
	return ""
}

// Issue 16, item 5: a misordered BREAKERBOX_ADMIN_TOKENS entry put the
// secret in an error message, which Handler sent to every client (the
// health endpoints included).
func TestMisorderedTokenEntryEchoesNoSecret(t *testing.T) {
	const secret = "Zq8XvK3pLw9TnR2mYb7c"
	for _, entry := range []string{
		"alice:" + secret + ":write", // name:secret:access
		secret + ":alice:write",      // secret:name:access
		secret + ":write:alice",      // secret:access:name: the secret in the name field
		"write:" + secret + ":alice", // access:secret:name
		"alice:Write:" + secret,      // a bad access, in the right place
		"alice:write:" + secret + ",alice:read:" + secret + "x",
		"alice:write:" + secret + ",bob:read:" + secret,
	} {
		t.Run(entry[:8], func(t *testing.T) {
			t.Setenv(TokensEnv, entry)
			_, err := New(testRegistry(t), WithTokensFromEnv())
			if err == nil {
				t.Fatalf("New accepted %q", entry)
			}
			if p := leakedPart(err.Error(), secret); p != "" {
				t.Errorf("the error shows %q of the secret: %v", p, err)
			}
			if !strings.Contains(err.Error(), TokensEnv) {
				t.Errorf("the error does not name %s: %v", TokensEnv, err)
			}
		})
	}

	t.Setenv(TokensEnv, "alice:"+secret+":write")
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	ts := newServer(t, Handler(testRegistry(t), WithTokensFromEnv()))
	a := &testAPI{t: t, ts: ts}
	for _, path := range []string{"/health", "/ready", "/live", "/v1/guards", "/debug"} {
		r := a.do(http.MethodGet, path, "", nil)
		p := r.problem(t, http.StatusInternalServerError, codeMisconfigured)
		if part := leakedPart(string(r.body), secret); part != "" {
			t.Errorf("%s answers %q, which shows %q of the secret", path, r.body, part)
		}
		if strings.Contains(p.Detail, "entry") || strings.Contains(p.Detail, "access") {
			t.Errorf("%s: the client is told the configuration's detail: %q", path, p.Detail)
		}
	}
	if !strings.Contains(logs.String(), "entry 1") || !strings.Contains(logs.String(), "access") {
		t.Errorf("the log does not say what is wrong: %s", logs.String())
	}
	if part := leakedPart(logs.String(), secret); part != "" {
		t.Errorf("the log shows %q of the secret: %s", part, logs.String())
	}
}

// A token given in code with its name and secret swapped must not print
// the secret either.
func TestSwappedWithTokenEchoesNoSecret(t *testing.T) {
	const secret = "Zq8XvK3pLw9TnR2mYb7c"
	for _, opts := range [][]Option{
		{WithToken(secret, "alice", Write)},
		{WithTokens(Token{Name: secret, Secret: "alice", Access: Write})},
		{WithToken("alice", secret, Write), WithToken("alice", secret+"x", Read)},
	} {
		_, err := New(testRegistry(t), opts...)
		if err == nil {
			t.Fatal("New accepted a swapped token")
		}
		if p := leakedPart(err.Error(), secret); p != "" {
			t.Errorf("the error shows %q of the secret: %v", p, err)
		}
	}
}
