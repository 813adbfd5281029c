package admin

// Regression tests for issue 16, "Hardening: the operator surface under
// hostile input".

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// Issue 16, item 11: control characters in reasons and names reached the
// audit log and the terminals and pages that show it.
func TestControlCharactersRefused(t *testing.T) {
	a := newTestAPI(t)
	soon := time.Now().Add(time.Hour)
	cases := []struct {
		path  string
		body  any
		field string
	}{
		{"/v1/operations/open", OperationRequest{Name: "search", Reason: "fine\nforged: audit line"}, "reason"},
		{"/v1/operations/open", OperationRequest{Name: "search", Reason: "tab\there"}, "reason"},
		{"/v1/operations/open", OperationRequest{Name: "search", Reason: "\u202egnirts desrever"}, "reason"},
		{"/v1/operations/open", OperationRequest{Name: "search", Reason: "c1\u009b31m"}, "reason"},
		{"/v1/operations/open", OperationRequest{Name: "search\x00", Reason: "x"}, "name"},
		{"/v1/operations/open", OperationRequest{Tag: "\x1b[31mred", Reason: "x"}, "tag"},
		{"/v1/prune", PruneRequest{Idle: core.Duration(time.Hour), Reason: "a\rb"}, "reason"},
		{"/v1/snapshot/restore", RestoreRequest{Reason: "x\x07", Snapshot: Snapshot{Version: 1}}, "reason"},
		{"/v1/snapshot/restore", RestoreRequest{Reason: "x", Snapshot: Snapshot{Version: 1, Guards: []SnapshotGuard{
			{Name: "a\nb", Override: &Override{State: breaker.Open, Until: &soon}}}}}, "guards[0].name"},
		{"/v1/snapshot/restore", RestoreRequest{Reason: "x", Snapshot: Snapshot{Version: 1, Guards: []SnapshotGuard{
			{Name: "a", Tags: []string{"ok", "b\x00"}, Override: &Override{State: breaker.ForcedOpen}}}}}, "guards[0].tags[1]"},
	}
	for _, c := range cases {
		p := a.do(http.MethodPost, c.path, aliceSecret, c.body).problem(t, 400, codeInvalid)
		if !strings.Contains(p.Detail, c.field+": ") || !strings.Contains(p.Detail, "U+") {
			t.Errorf("%s %+v: detail %q, want it to name %s and the character", c.path, c.body, p.Detail, c.field)
		}
	}
	if a.state("search") != "closed" {
		t.Error("an operation with a control character went through")
	}
	if n := len(a.audit("").Records); n != 0 {
		t.Errorf("%d audit records", n)
	}
	// Printable text of any script is fine.
	a.op(OpOpen, aliceSecret, OperationRequest{Name: "search", Reason: "Wartung für 顧客 🚧"}).ok(t, nil)
	if _, err := New(testRegistry(t), WithToken("al\x1bice", aliceSecret, Write)); err == nil {
		t.Error("a token name with a control character was accepted")
	}
}

// Issue 16, item 11: encoding/json replaces invalid UTF-8 with U+FFFD, so
// the reason's UTF-8 check never fired and such bodies were accepted.
func TestInvalidUTF8BodyRefused(t *testing.T) {
	a := newTestAPI(t)
	for _, body := range []string{
		"{\"name\":\"search\",\"reason\":\"bad \xff byte\"}",
		"{\"name\":\"sea\xc3rch\",\"reason\":\"x\"}",
		"{\"name\":\"search\",\"reason\":\"x\"}\xed\xa0\x80",
	} {
		p := a.do(http.MethodPost, "/v1/operations/open", aliceSecret, body).problem(t, 400, codeInvalid)
		if !strings.Contains(p.Detail, "UTF-8") || !strings.Contains(p.Detail, "byte") {
			t.Errorf("%q: detail %q", body, p.Detail)
		}
	}
	if a.state("search") != "closed" {
		t.Error("a body of invalid UTF-8 was applied")
	}
}
