package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
)

const goodPolicyDoc = `{"policies":[{"name":"payments","match":["payments.*"],"breaker":{"failureRate":40}},{"name":"search","timeout":"1s"}]}`

// newPolicyAPI is an admin API with a policy manager over a file store.
func newPolicyAPI(t *testing.T) (*testAPI, *policy.Manager) {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	store, err := policy.OpenFileStore(filepath.Join(t.TempDir(), "policies.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	m, err := policy.NewManager(context.Background(), reg, store)
	if err != nil {
		t.Fatal(err)
	}
	return newTestAPIFor(t, reg, WithPolicyManager(m)), m
}

func applyReq(doc, reason string, dry bool) PolicyApplyRequest {
	return PolicyApplyRequest{Document: json.RawMessage(doc), Reason: reason, DryRun: dry}
}

func TestPolicyEndpointsNeedTokens(t *testing.T) {
	a, _ := newPolicyAPI(t)
	a.do(http.MethodGet, "/v1/policies/history", "", nil).problem(t, http.StatusUnauthorized, codeUnauthorized)
	a.do(http.MethodPut, "/v1/policies", "", applyReq(goodPolicyDoc, "r", false)).problem(t, http.StatusUnauthorized, codeUnauthorized)
	a.do(http.MethodPut, "/v1/policies", readSecret, applyReq(goodPolicyDoc, "r", false)).problem(t, http.StatusForbidden, codeForbidden)
	a.do(http.MethodPost, "/v1/policies/rollback", readSecret, PolicyRollbackRequest{Version: 1, Reason: "r"}).problem(t, http.StatusForbidden, codeForbidden)
	// A dry run is a read.
	var dry PolicyApplyResult
	a.do(http.MethodPut, "/v1/policies", readSecret, applyReq(goodPolicyDoc, "", true)).ok(t, &dry)
	if !dry.DryRun || !slices.Equal(dry.Added, []string{"payments", "search"}) || dry.Record.Version != 0 {
		t.Fatalf("dry run = %+v", dry)
	}
	if v, _ := a.reg.PolicyVersion(); v != 0 {
		t.Fatalf("a dry run made version %d live", v)
	}
}

func TestPolicyApplyHistoryRollbackAndAudit(t *testing.T) {
	a, _ := newPolicyAPI(t)
	a.do(http.MethodGet, "/v1/policies", readSecret, nil).problem(t, http.StatusNotFound, codeNoPolicyVersion)

	var res PolicyApplyResult
	a.do(http.MethodPut, "/v1/policies", aliceSecret, applyReq(goodPolicyDoc, "first", false)).ok(t, &res)
	if res.Record.Version != 1 || !res.Record.Live || res.Record.Actor != "alice" || res.Record.Source != "admin-api" {
		t.Fatalf("apply = %+v", res)
	}
	second := strings.Replace(goodPolicyDoc, `"failureRate":40`, `"failureRate":25`, 1)
	a.do(http.MethodPut, "/v1/policies", bobSecret, applyReq(second, "tighter", false)).ok(t, &res)
	if res.Record.Version != 2 || !slices.Equal(res.Changed, []string{"payments"}) {
		t.Fatalf("second apply = %+v", res)
	}

	var live PolicyRecord
	a.do(http.MethodGet, "/v1/policies", readSecret, nil).ok(t, &live)
	if live.Version != 2 || !live.Live || !strings.Contains(string(live.Document), `"failureRate":25`) {
		t.Fatalf("GET /v1/policies = %+v", live)
	}

	a.do(http.MethodPost, "/v1/policies/rollback", aliceSecret, PolicyRollbackRequest{Version: 1, Reason: "25% trips on deploys"}).ok(t, &res)
	if res.Record.Version != 3 || res.Record.RollbackOf != 1 || !slices.Equal(res.Changed, []string{"payments"}) {
		t.Fatalf("rollback = %+v", res)
	}
	if p, _ := a.reg.Policy("payments"); p.Breaker.FailureRate != 40 {
		t.Fatalf("payments rate %v after rollback to 1; want 40", p.Breaker.FailureRate)
	}

	var hist PolicyHistory
	a.do(http.MethodGet, "/v1/policies/history?limit=2", readSecret, nil).ok(t, &hist)
	if hist.Live != 3 || len(hist.Versions) != 2 || hist.Versions[0].Version != 3 || !hist.Versions[0].Live || hist.Versions[1].Live || hist.Versions[0].Document != nil {
		t.Fatalf("history = %+v", hist)
	}
	var v1 PolicyRecord
	a.do(http.MethodGet, "/v1/policies/versions/1", readSecret, nil).ok(t, &v1)
	if v1.Version != 1 || v1.Live || v1.Reason != "first" || len(v1.Document) == 0 {
		t.Fatalf("version 1 = %+v", v1)
	}
	a.do(http.MethodGet, "/v1/policies/versions/9", readSecret, nil).problem(t, http.StatusNotFound, codeUnknownVersion)
	a.do(http.MethodGet, "/v1/policies/versions/x", readSecret, nil).problem(t, http.StatusBadRequest, codeInvalid)
	a.do(http.MethodGet, "/v1/policies/history?limit=0", readSecret, nil).problem(t, http.StatusBadRequest, codeInvalid)
	a.do(http.MethodPost, "/v1/policies/rollback", aliceSecret, PolicyRollbackRequest{Version: 9, Reason: "r"}).problem(t, http.StatusNotFound, codeUnknownVersion)
	a.do(http.MethodPost, "/v1/policies/rollback", aliceSecret, PolicyRollbackRequest{Version: 1}).problem(t, http.StatusBadRequest, codeInvalid)

	// Audit records name the versions.
	var got []string
	for _, r := range a.audit("").Records {
		got = append(got, string(r.Op)+" "+r.Actor+" v"+r.Params["version"]+" prev"+r.Params["previousVersion"]+" of"+r.Params["rollbackOf"])
	}
	want := []string{"policy-apply alice v1 prev0 of", "policy-apply bob v2 prev1 of", "policy-rollback alice v3 prev2 of1"}
	if !slices.Equal(got, want) {
		t.Fatalf("audit records\n%q\nwant\n%q", got, want)
	}
}

// A refused document is a 422 listing every problem; nothing is stored and
// the last good version stays live.
func TestPolicyApplyRefusedListsEveryProblem(t *testing.T) {
	a, m := newPolicyAPI(t)
	a.do(http.MethodPut, "/v1/policies", aliceSecret, applyReq(goodPolicyDoc, "first", false)).ok(t, nil)
	bad := `{"policies":[{"name":"a","breaker":{"failureRate":140}},{"name":"a"},{"name":"b","extends":"nowhere"}]}`
	p := a.do(http.MethodPut, "/v1/policies", aliceSecret, applyReq(bad, "broken", false)).problem(t, http.StatusUnprocessableEntity, codeInvalidPolicy)
	if len(p.Problems) != 3 || !strings.Contains(p.Detail, "version 1 stays live") {
		t.Fatalf("problem = %+v; want 3 problems and the live version named", p)
	}
	paths := []string{p.Problems[0].Path, p.Problems[1].Path, p.Problems[2].Path}
	slices.Sort(paths)
	for i, want := range []string{"policies[0]", "policies[1].name", "policies[2]"} {
		if !strings.HasPrefix(paths[i], want) {
			t.Fatalf("problem paths %q; want prefixes policies[0], policies[1].name, policies[2]", paths)
		}
	}
	// The dry run refuses it the same way, with a read token.
	a.do(http.MethodPut, "/v1/policies", readSecret, applyReq(bad, "", true)).problem(t, http.StatusUnprocessableEntity, codeInvalidPolicy)
	// A document that does not decode is refused with its position.
	p = a.do(http.MethodPut, "/v1/policies", aliceSecret, "{\"reason\":\"typo\",\"document\":{\"policies\":[],\n\"polices\":[]}}").problem(t, http.StatusUnprocessableEntity, codeInvalidPolicy)
	if p.Problems[0].Line != 2 {
		t.Fatalf("unknown key problem = %+v; want line 2", p.Problems[0])
	}
	if h, _ := m.History(context.Background(), 0); len(h) != 1 {
		t.Fatalf("%d versions stored after refused documents; want 1", len(h))
	}
	if v, _ := a.reg.PolicyVersion(); v != 1 {
		t.Fatalf("live version %d; want 1", v)
	}
	if n := len(a.audit("").Records); n != 1 {
		t.Fatalf("%d audit records; refused documents must not be audited as applied", n)
	}
	a.do(http.MethodPut, "/v1/policies", aliceSecret, PolicyApplyRequest{Reason: "r"}).problem(t, http.StatusBadRequest, codeInvalid)
}

func TestPolicyApplyRefusesA10MBBody(t *testing.T) {
	a, _ := newPolicyAPI(t)
	big := `{"reason":"big","document":{"policies":[` + strings.Repeat(`{"name":"p"},`, 10<<20/13) + `{"name":"q"}]}}`
	p := a.do(http.MethodPut, "/v1/policies", aliceSecret, big).problem(t, http.StatusRequestEntityTooLarge, codeTooLarge)
	if !strings.Contains(p.Detail, "larger than the limit") {
		t.Fatalf("problem = %+v", p)
	}
	if v, _ := a.reg.PolicyVersion(); v != 0 {
		t.Fatal("a refused body applied something")
	}
}

func TestPolicyDocs(t *testing.T) {
	a, _ := newPolicyAPI(t)
	a.do(http.MethodGet, "/v1/policies/docs", readSecret, nil).problem(t, http.StatusNotFound, codeNoPolicyVersion)
	a.do(http.MethodPut, "/v1/policies", aliceSecret, applyReq(goodPolicyDoc, "first", false)).ok(t, nil)
	r := a.do(http.MethodGet, "/v1/policies/docs", readSecret, nil)
	if r.status != 200 || r.header.Get("Content-Type") != "text/markdown; charset=utf-8" || !strings.Contains(string(r.body), "## `payments`") || !strings.Contains(string(r.body), "stateDiagram-v2") {
		t.Fatalf("docs: %d %s\n%s", r.status, r.header.Get("Content-Type"), r.body)
	}
	var doc core.Document
	json.Unmarshal([]byte(goodPolicyDoc), &doc)
	if string(r.body) != string(policy.Markdown(doc)) {
		t.Fatal("GET /v1/policies/docs differs from policy.Markdown of the live document")
	}
	a.do(http.MethodGet, "/v1/policies/docs?version=7", readSecret, nil).problem(t, http.StatusNotFound, codeUnknownVersion)
	var v1 bytes.Buffer
	v1.Write(a.do(http.MethodGet, "/v1/policies/docs?version=1", readSecret, nil).body)
	if v1.String() != string(r.body) {
		t.Fatal("docs of ?version=1 differ from the live docs of version 1")
	}
}

func TestPolicyEndpointsWithoutManagerAnswer501(t *testing.T) {
	a := newTestAPI(t)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/v1/policies"}, {http.MethodGet, "/v1/policies/history"}, {http.MethodGet, "/v1/policies/versions/1"}, {http.MethodGet, "/v1/policies/docs"},
	} {
		p := a.do(c.method, c.path, readSecret, nil).problem(t, http.StatusNotImplemented, codeNoPolicies)
		if !strings.Contains(p.Detail, "WithPolicyManager") {
			t.Fatalf("%s %s: %+v", c.method, c.path, p)
		}
	}
	a.do(http.MethodPost, "/v1/policies/rollback", aliceSecret, PolicyRollbackRequest{Version: 1, Reason: "r"}).problem(t, http.StatusNotImplemented, codeNoPolicies)
	if _, err := New(a.reg, WithPolicyManager(nil)); err == nil {
		t.Fatal("WithPolicyManager(nil) accepted")
	}
}

// An audit sink that fails after the version went live: the answer says
// the version is live and stored.
func TestPolicyApplyAuditFailureSaysVersionIsLive(t *testing.T) {
	reg, _ := core.NewRegistry()
	m, _ := policy.NewManager(context.Background(), reg, policy.NewMemoryStore())
	a := newTestAPIFor(t, reg, WithPolicyManager(m), WithAuditSink(&failingSink{fail: true}))
	p := a.do(http.MethodPut, "/v1/policies", aliceSecret, applyReq(goodPolicyDoc, "first", false)).problem(t, http.StatusServiceUnavailable, codeAuditFailed)
	if !strings.Contains(p.Detail, "version 1 is stored and live") {
		t.Fatalf("problem = %+v", p)
	}
}
