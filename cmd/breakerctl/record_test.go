package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/record"
	"github.com/breakerbox/breakerbox/replay"
)

// recordServer starts an admin API serving a recorder that recorded an
// outage of "payments" (five failures, then successes), driven on explicit
// time.
func recordServer(t *testing.T) map[string]string {
	t.Helper()
	reg, err := core.NewRegistry(core.WithDefaultPolicy(core.Policy{Name: "lenient", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 50}}))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := record.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	t.Cleanup(rec.Attach(reg))
	g := reg.MustGuard("payments")
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range 10 {
		var err error
		if i < 5 {
			err = errors.New("down")
		}
		at := t0.Add(time.Duration(i) * time.Second)
		p, _ := g.AllowAt(context.Background(), at)
		p.DoneAt(at.Add(10*time.Millisecond), err)
	}
	api, err := admin.New(reg, admin.WithToken("alice", aliceToken, admin.Write), admin.WithToken("grafana", readToken, admin.Read), admin.WithRecorder(rec))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { api.Close() })
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	return map[string]string{envAddr: srv.URL, envToken: aliceToken}
}

func TestRecordExportImportReplay(t *testing.T) {
	env := recordServer(t)
	dir := t.TempDir()
	recPath := filepath.Join(dir, "outage.jsonl")
	if r := policyCtl(env, "record", "export", recPath); r.code != 0 {
		t.Fatalf("export: exit %d: %s", r.code, r.stderr)
	}
	writeFiles(t, dir, map[string]string{"strict.yaml": `policies:
  - name: strict
    match: ["*"]
    breaker:
      consecutiveFailures: 2
      openDuration: 30s
`, "bad.yaml": `policies:
  - name: strict
    breaker:
      failureRate: 300
`})
	r := policyCtl(nil, "replay", recPath, "--policy", filepath.Join(dir, "strict.yaml"))
	if r.code != 0 {
		t.Fatalf("replay: exit %d: %s", r.code, r.stderr)
	}
	contains(t, "replay", r.stdout, "payments", "strict", "0 -> 1", "5 -> 2")

	r = policyCtl(nil, "replay", recPath, "--policy", filepath.Join(dir, "strict.yaml"), "--json")
	var rep replay.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 0 || rep.Guards[0].Replayed.Trips != 1 || rep.Guards[0].Replayed.Rejected != 8 {
		t.Fatalf("replay --json: exit %d, %v: %s", r.code, err, r.stdout)
	}
	r = policyCtl(nil, "replay", recPath, "--policy", filepath.Join(dir, "bad.yaml"))
	if r.code != 1 || !strings.Contains(r.stderr, "bad.yaml:4") {
		t.Fatalf("replay under a bad policy: exit %d: %s", r.code, r.stderr)
	}

	data, err := os.ReadFile(recPath)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(dir, "cut.jsonl")
	if err := os.WriteFile(cut, data[:len(data)-7], 0o644); err != nil {
		t.Fatal(err)
	}
	lines := strings.Count(string(data), "\n")
	for _, args := range [][]string{{"replay", cut, "--policy", filepath.Join(dir, "strict.yaml")}, {"record", "import", cut, "--reason", "x"}} {
		r = policyCtl(env, args...)
		if want := "line " + itoa(lines); r.code != 1 || !strings.Contains(r.stderr, want) || !strings.Contains(r.stderr, "truncated") {
			t.Fatalf("%v on a truncated recording: exit %d, want 1 naming %q: %s", args, r.code, want, r.stderr)
		}
	}

	if r = policyCtl(env, "record", "import", recPath); r.code != 2 {
		t.Fatalf("import without --reason: exit %d, want 2", r.code)
	}
	r = policyCtl(env, "record", "import", recPath, "--reason", "copy")
	if r.code != 0 || !strings.Contains(r.stdout, "imported") {
		t.Fatalf("import: exit %d: %s %s", r.code, r.stdout, r.stderr)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }
