package admin

import (
	"net/http"
	"strings"
	"testing"
)

func TestStrictBodies(t *testing.T) {
	a := newTestAPI(t, WithMaxBodyBytes(256))
	cases := []struct {
		name, body string
		status     int
		code       string
		detail     string // a substring of the problem's detail
	}{
		{"unknown field", `{"name":"search","reason":"x","force":true}`, 400, codeUnknownField, `unknown field "force"`},
		{"misspelt case", `{"Name":"search","reason":"x"}`, 400, codeUnknownField, `did you mean "name"?`},
		{"duplicate key", `{"name":"search","name":"payments.charge","reason":"x"}`, 400, codeInvalid, `"name" appears twice`},
		{"trailing data", `{"name":"search","reason":"x"} {}`, 400, codeInvalid, "after the JSON value"},
		{"syntax", `{"name":"search",`, 400, codeInvalid, "request body"},
		{"wrong type", `{"name":"search","reason":7}`, 400, codeInvalid, "reason: want a string, got number"},
		{"bad duration", `{"name":"search","reason":"x","duration":"soon"}`, 400, codeInvalid, `duration: "soon" is not a duration`},
		{"bad time", `{"name":"search","reason":"x","until":"tomorrow"}`, 400, codeInvalid, "until:"},
		{"not an object", `["search"]`, 400, codeInvalid, "request body"},
		{"empty", ``, 400, codeInvalid, "empty"},
		{"null", `null`, 400, codeInvalid, "select guards"},
		{"oversize", `{"name":"search","reason":"` + strings.Repeat("x", 300) + `"}`, 413, codeTooLarge, "256 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := a.do(http.MethodPost, "/v1/operations/open", aliceSecret, c.body).problem(t, c.status, c.code)
			if !strings.Contains(p.Detail, c.detail) {
				t.Errorf("detail %q, want it to contain %q", p.Detail, c.detail)
			}
		})
	}
	if a.state("search") != "closed" {
		t.Fatal("a refused body changed state")
	}

	// Content-Type must be JSON.
	for _, ct := range []string{"", "text/plain", "application/x-www-form-urlencoded"} {
		req, _ := http.NewRequest(http.MethodPost, a.ts.URL+"/v1/operations/open", strings.NewReader(`{"name":"search","reason":"x"}`))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("Authorization", "Bearer "+aliceSecret)
		a.send(req).problem(t, 415, codeMediaType)
	}
	req, _ := http.NewRequest(http.MethodPost, a.ts.URL+"/v1/operations/open", strings.NewReader(`{"name":"search","reason":"x"}`))
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Authorization", "Bearer "+aliceSecret)
	if r := a.send(req); r.status != 200 {
		t.Fatalf("charset parameter: %d %s", r.status, r.body)
	}
}

func TestStrictNestedBodies(t *testing.T) {
	a := newTestAPI(t)
	cases := []struct{ name, body, detail string }{
		{"unknown nested field", `{"reason":"x","snapshot":{"version":1,"guards":[{"name":"a","stat":"closed"}]}}`, `unknown field "snapshot.guards[0].stat"`},
		{"unknown override field", `{"reason":"x","snapshot":{"version":1,"guards":[{"name":"a","state":"closed","override":{"state":"disabled","why":"x"}}]}}`, `"snapshot.guards[0].override.why"`},
		{"bad state", `{"reason":"x","snapshot":{"version":1,"guards":[{"name":"a","state":"ajar"}]}}`, `snapshot.guards[0].state: breaker: unknown state "ajar"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.do(http.MethodPost, "/v1/snapshot/restore", aliceSecret, c.body)
			if r.status != 400 {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			p := r.problem(t, 400, problemCode(r))
			if !strings.Contains(p.Detail, c.detail) {
				t.Errorf("detail %q, want %q", p.Detail, c.detail)
			}
		})
	}
}

func problemCode(r response) string {
	if strings.Contains(string(r.body), codeUnknownField) {
		return codeUnknownField
	}
	return codeInvalid
}

func TestDecodeStrictMatchesEncodingJSON(t *testing.T) {
	// Keys of embedded structs and "-" fields follow encoding/json.
	type Inner struct {
		A string `json:"a"`
	}
	type T struct {
		Inner
		B      int    `json:"b,omitempty"`
		Hidden string `json:"-"`
		Plain  string
		M      map[string]int `json:"m"`
	}
	var v T
	if err := decodeStrict([]byte(`{"a":"x","b":1,"Plain":"p","m":{"k":1}}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != "x" || v.B != 1 || v.Plain != "p" || v.M["k"] != 1 {
		t.Fatalf("%+v", v)
	}
	for _, bad := range []string{`{"Hidden":"x"}`, `{"-":"x"}`, `{"m":{"k":1,"k":2}}`, `{"plain":"p"}`} {
		if err := decodeStrict([]byte(bad), &v); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
