package wire_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

func TestTargetSelector(t *testing.T) {
	for _, c := range []struct {
		t    wire.Target
		want string // the selector's String, or a word of the error
	}{
		{wire.Target{Name: "a"}, core.Name("a").String()},
		{wire.Target{Tag: "b"}, core.Tag("b").String()},
		{wire.Target{All: true}, core.All().String()},
		{wire.Target{}, "one of name, tag or all"},
		{wire.Target{Name: "a", All: true}, "exclusive"},
	} {
		sel, err := c.t.Selector()
		got := sel.String()
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, c.want) {
			t.Errorf("%+v: %q, want %q", c.t, got, c.want)
		}
	}
	if s := (wire.Target{}).String(); s != "none" {
		t.Errorf("empty target: %q", s)
	}
}

func TestGuardPathEscapesOneSegment(t *testing.T) {
	for name, want := range map[string]string{
		"payments.charge": "/v1/guards/payments.charge",
		"/pkg.Svc/Method": "/v1/guards/%2Fpkg.Svc%2FMethod",
		"GET /users/{id}": "/v1/guards/GET%20%2Fusers%2F%7Bid%7D",
		".":               "/v1/guards/%2E",
		"..":              "/v1/guards/%2E%2E",
		"100% sure":       "/v1/guards/100%25%20sure",
	} {
		if got := wire.GuardPath(name); got != want {
			t.Errorf("GuardPath(%q) = %q, want %q", name, got, want)
		}
	}
}

// A problem decodes from the API's JSON and reads as an error.
func TestProblemFromJSON(t *testing.T) {
	var p wire.Problem
	body := `{"type":"urn:breakerbox:problem:unknown_guard","title":"Not Found","status":404,"detail":"no guard named \"x\"","code":"unknown_guard","guard":"x"}`
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != wire.ProblemTypePrefix+p.Code || p.Guard != "x" {
		t.Errorf("%+v", p)
	}
	if got, want := p.Error(), `Not Found: no guard named "x" (404)`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
