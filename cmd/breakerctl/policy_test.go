package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
)

// The policy commands run in-process (run) against a real admin server
// (httptest) serving a policy.Manager, on real files.

// policyServer starts an admin API with a policy manager and returns the
// environment that points breakerctl at it with the write token.
func policyServer(t *testing.T) (env map[string]string, reg *core.Registry) {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	m, err := policy.NewManager(context.Background(), reg, policy.NewMemoryStore())
	if err != nil {
		t.Fatal(err)
	}
	api, err := admin.New(reg,
		admin.WithToken("alice", aliceToken, admin.Write),
		admin.WithToken("grafana", readToken, admin.Read),
		admin.WithPolicyManager(m))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return map[string]string{envAddr: srv.URL, envToken: aliceToken}, reg
}

// policyCtl runs breakerctl in-process with env as its environment.
func policyCtl(env map[string]string, args ...string) result {
	code, stdout, stderr := runCtl(env, args...)
	return result{stdout, stderr, code}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func contains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, got)
		}
	}
}

const (
	paymentsV1 = `policies:
  - name: payments
    match: ["payments.*"]
    breaker:
      failureRate: 50
      openDuration: 30s
  - name: search
    bulkhead:
      maxConcurrent: 8
`
	paymentsV2 = `policies:
  - name: payments
    match: ["payments.*"]
    breaker:
      failureRate: 40
      openDuration: 30s
    retry:
      maxAttempts: 3
  - name: quotes
    extends: payments
`
)

func TestPolicyLintPrintsEveryProblemWithItsPosition(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"bad/payments.yaml": `policies:
  - name: payments
    breaker:
      openDuration: 10x
      failureRat: 40
`,
		"bad/search.json": `{"policies": [{"name": "search", "bulkhead": {"maxConcurrent": -3}}]}
`,
		"good.yaml": paymentsV1,
	})
	bad, good := filepath.Join(dir, "bad"), filepath.Join(dir, "good.yaml")

	r := policyCtl(nil, "policy", "lint", bad, good).want(t, exitRefused)
	contains(t, "lint output", r.stdout,
		filepath.Join(bad, "payments.yaml")+`:4:21: policies[0].breaker.openDuration: "10x" is not a duration`,
		filepath.Join(bad, "payments.yaml")+`:5:7: policies[0].breaker.failureRat: unknown field "failureRat"`,
		filepath.Join(bad, "search.json")+`:1:64: policies[0].bulkhead.maxConcurrent: -3 must be at least`,
		good+": ok (2 policies)",
	)
	contains(t, "lint stderr", r.stderr, "3 problems")

	r = policyCtl(nil, "policy", "lint", good).want(t, exitOK)
	if r.stdout != good+": ok (2 policies)\n" {
		t.Errorf("lint of a good file: %q", r.stdout)
	}

	var out []struct {
		Path     string         `json:"path"`
		Problems []core.Problem `json:"problems"`
	}
	policyCtl(nil, "policy", "lint", "--json", bad).want(t, exitRefused).json(t, &out)
	if len(out) != 1 || len(out[0].Problems) != 3 || out[0].Problems[0].Line != 4 {
		t.Errorf("lint --json: %+v", out)
	}

	policyCtl(nil, "policy", "lint").want(t, exitUsage)
	r = policyCtl(nil, "policy", "lint", filepath.Join(dir, "missing.yaml")).want(t, exitUsage)
	contains(t, "lint of a missing file", r.stderr, "missing.yaml")
}

func TestPolicyDiffFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"v1.yaml": paymentsV1, "v2/all.yaml": paymentsV2})
	v1, v2 := filepath.Join(dir, "v1.yaml"), filepath.Join(dir, "v2")

	r := policyCtl(nil, "policy", "diff", v1, v2).want(t, exitOK)
	want := `~ policy payments
    breaker.failureRate: 50 -> 40
    retry.maxAttempts: (unset) -> 3
+ policy quotes
- policy search
1 added, 1 removed, 1 changed, 0 unchanged
`
	if r.stdout != want {
		t.Errorf("diff:\n%s\nwant:\n%s", r.stdout, want)
	}
	policyCtl(nil, "policy", "diff", "--exit-code", v1, v2).want(t, exitRefused)
	r = policyCtl(nil, "policy", "diff", "--exit-code", v1, v1).want(t, exitOK)
	if r.stdout != "no differences (2 unchanged)\n" {
		t.Errorf("diff of a file with itself: %q", r.stdout)
	}
	var d docDiff
	policyCtl(nil, "policy", "diff", "--json", v1, v2).want(t, exitOK).json(t, &d)
	if len(d.Entries) != 3 || d.Entries[0].Fields[0].Path != "breaker.failureRate" {
		t.Errorf("diff --json: %+v", d)
	}
	policyCtl(nil, "policy", "diff", v1).want(t, exitUsage)
}

func TestPolicyApplyHistoryRollback(t *testing.T) {
	env, reg := policyServer(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"v1.yaml": paymentsV1, "v2.yaml": paymentsV2})
	v1, v2 := filepath.Join(dir, "v1.yaml"), filepath.Join(dir, "v2.yaml")

	r := policyCtl(env, "policy", "history").want(t, exitOK)
	if r.stdout != "no versions\n" {
		t.Errorf("history of a new server: %q", r.stdout)
	}
	// A diff against a server with no version: everything is added.
	r = policyCtl(env, "policy", "diff", v1, "--live").want(t, exitOK)
	contains(t, "diff --live before any version", r.stdout, "+ policy payments", "+ policy search", "2 added")

	policyCtl(env, "policy", "apply", v1).want(t, exitUsage) // no --reason
	r = policyCtl(env, "policy", "apply", v1, "--reason", "first").want(t, exitOK)
	contains(t, "apply v1", r.stdout, "applied version 1, sha256:", "2 added, 0 removed, 0 changed, 0 unchanged", "+ policy payments", "+ policy search")

	// A dry run shows the changes, field by field, and changes nothing.
	r = policyCtl(env, "policy", "apply", v2, "--dry-run").want(t, exitOK)
	contains(t, "apply --dry-run", r.stdout, "would apply sha256:", "1 added, 1 removed, 1 changed, 0 unchanged",
		"~ policy payments", "breaker.failureRate: 50 -> 40", "retry.maxAttempts: (unset) -> 3", "+ policy quotes", "- policy search")
	if v, _ := reg.PolicyVersion(); v != 1 {
		t.Fatalf("after a dry run the live version is %d; want 1", v)
	}
	r = policyCtl(env, "policy", "diff", v2, "--live").want(t, exitOK)
	contains(t, "diff --live", r.stdout, "breaker.failureRate: 50 -> 40", "1 added, 1 removed, 1 changed, 0 unchanged")

	r = policyCtl(env, "policy", "apply", v2, "-r", "lower the failure rate").want(t, exitOK)
	contains(t, "apply v2", r.stdout, "applied version 2", "breaker.failureRate: 50 -> 40")

	r = policyCtl(env, "policy", "history").want(t, exitOK)
	contains(t, "history", r.stdout, "VERSION", "2 (live)", "alice", "admin-api", "lower the failure rate", "first")
	if i, j := strings.Index(r.stdout, "2 (live)"), strings.Index(r.stdout, "\n1 "); i < 0 || j < i {
		t.Errorf("history is not newest first:\n%s", r.stdout)
	}

	policyCtl(env, "policy", "rollback", "1").want(t, exitUsage) // no --reason
	policyCtl(env, "policy", "rollback", "x", "-r", "r").want(t, exitUsage)
	r = policyCtl(env, "policy", "rollback", "9", "-r", "no such").want(t, exitRefused)
	contains(t, "rollback of an unknown version", r.stderr, "9")

	r = policyCtl(env, "policy", "rollback", "1", "--reason", "v2 trips payments").want(t, exitOK)
	contains(t, "rollback", r.stdout, "applied version 3", "version 1 again", "1 added, 1 removed, 1 changed",
		"breaker.failureRate: 40 -> 50", "retry.maxAttempts: 3 -> (unset)", "+ policy search", "- policy quotes")
	if v, _ := reg.PolicyVersion(); v != 3 {
		t.Fatalf("after the rollback the live version is %d; want 3", v)
	}

	var h wire.PolicyHistory
	policyCtl(env, "policy", "history", "--json").want(t, exitOK).json(t, &h)
	if h.Live != 3 || len(h.Versions) != 3 || h.Versions[0].RollbackOf != 1 || h.Versions[0].Reason != "v2 trips payments" {
		t.Fatalf("history --json after the rollback: %+v", h)
	}
	r = policyCtl(env, "policy", "history", "--limit", "1").want(t, exitOK)
	contains(t, "history --limit 1", r.stdout, "3 (live)", "rollback of 1")
	if strings.Contains(r.stdout, "\n2 ") {
		t.Errorf("history --limit 1 shows more:\n%s", r.stdout)
	}
	// The live version is the document of version 1 again.
	r = policyCtl(env, "policy", "diff", v1, "--live").want(t, exitOK)
	contains(t, "diff --live after the rollback", r.stdout, "no differences (2 unchanged)")
}

func TestPolicyApplyRefusedByServerPrintsEveryProblem(t *testing.T) {
	env, reg := policyServer(t)
	dir := t.TempDir()
	// Valid on its own (lint cannot know the service's fallbacks), refused
	// by the server, which has none of them registered.
	writeFiles(t, dir, map[string]string{"p.yaml": `policies:
  - name: quotes
    fallbacks:
      - name: cached-quote
  - name: search
    fallbacks:
      - name: empty-results
`})
	p := filepath.Join(dir, "p.yaml")
	policyCtl(nil, "policy", "lint", p).want(t, exitOK)

	r := policyCtl(env, "policy", "apply", p, "-r", "fallbacks").want(t, exitRefused)
	contains(t, "stderr of a refused apply", r.stderr,
		p+`:4:15: policies[0].fallbacks[0].name: no fallback registered as "cached-quote"`,
		p+`:7:15: policies[1].fallbacks[0].name: no fallback registered as "empty-results"`,
		"the server refused the document (2 problems)")
	if v, _ := reg.PolicyVersion(); v != 0 {
		t.Fatalf("a refused document made version %d live", v)
	}
	// A dry run is refused the same way.
	r = policyCtl(env, "policy", "apply", p, "--dry-run").want(t, exitRefused)
	contains(t, "stderr of a refused dry run", r.stderr, `"cached-quote"`, `"empty-results"`)

	// A document lint refuses never reaches the server.
	writeFiles(t, dir, map[string]string{"bad.yaml": "policies:\n  - name: x\n    timeout: soon\n"})
	r = policyCtl(env, "policy", "apply", filepath.Join(dir, "bad.yaml"), "-r", "x").want(t, exitRefused)
	contains(t, "stderr of a local refusal", r.stderr, "bad.yaml:3:14: policies[0].timeout")
}

func TestPolicyApplyNeedsAWriteToken(t *testing.T) {
	env, _ := policyServer(t)
	env[envToken] = readToken
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"v1.yaml": paymentsV1})
	r := policyCtl(env, "policy", "apply", filepath.Join(dir, "v1.yaml"), "-r", "x").want(t, exitRefused)
	contains(t, "apply with a read token", r.stderr, "403")
	// A dry run is a read.
	policyCtl(env, "policy", "apply", filepath.Join(dir, "v1.yaml"), "--dry-run").want(t, exitOK)
}

func TestPolicyDocs(t *testing.T) {
	env, _ := policyServer(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"v1.yaml": paymentsV1})
	v1 := filepath.Join(dir, "v1.yaml")

	local := policyCtl(nil, "policy", "docs", v1).want(t, exitOK)
	contains(t, "docs", local.stdout, "# Policies", "## `payments`", "```mermaid", "## `search`")

	r := policyCtl(env, "policy", "docs", "--live").want(t, exitRefused)
	contains(t, "docs --live before any version", r.stderr, "no policy document has been applied yet")

	policyCtl(env, "policy", "apply", v1, "-r", "first").want(t, exitOK)
	live := policyCtl(env, "policy", "docs", "--live").want(t, exitOK)
	if live.stdout != local.stdout {
		t.Errorf("docs --live differs from docs of the same file:\n%s\n---\n%s", live.stdout, local.stdout)
	}
	policyCtl(env, "policy", "docs").want(t, exitUsage)
	policyCtl(env, "policy", "docs", v1, "--live").want(t, exitUsage)
}

func TestPolicySchemaIsTheJSONSchema(t *testing.T) {
	r := policyCtl(nil, "policy", "schema").want(t, exitOK)
	var s map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	if _, ok := s["$schema"]; !ok {
		t.Errorf("schema has no $schema: %.200s", r.stdout)
	}
}
