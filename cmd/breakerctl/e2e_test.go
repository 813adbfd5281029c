package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// The end-to-end tests build breakerctl and the test server with go build,
// start the server as a process on a loopback port, and run the binary
// against it.

const (
	aliceToken = "alice-secret-0123456789"
	readToken  = "grafana-secret-01234567"
	tokensEnv  = "alice:write:" + aliceToken + ",grafana:read:" + readToken
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "breakerctl-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), ".", "./testdata/testserver")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startServer runs the test server and returns its base URL.
func startServer(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "testserver"), args...)
	cmd.Env = append(cleanEnv(), "BREAKERBOX_ADMIN_TOKENS="+tokensEnv)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
		io.Copy(io.Discard, out)
	}()
	select {
	case a := <-addr:
		if !strings.HasPrefix(a, "http://127.0.0.1:") {
			t.Fatalf("test server said %q; stderr: %s", a, stderr.String())
		}
		return a
	case <-time.After(30 * time.Second):
		t.Fatalf("the test server did not start; stderr: %s", stderr.String())
	}
	return ""
}

// cleanEnv is the environment without breakerctl's variables.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BREAKERBOX_") && !strings.HasPrefix(kv, "NO_COLOR=") {
			env = append(env, kv)
		}
	}
	return env
}

type result struct {
	stdout, stderr string
	code           int
}

// ctl runs breakerctl with env (KEY=VALUE entries) and args.
func ctl(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "breakerctl"), args...)
	cmd.Env = append(cleanEnv(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{stdout.String(), stderr.String(), code}
}

func (r result) want(t *testing.T, code int) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	return r
}

func (r result) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
		t.Fatalf("--json output is not JSON: %v\n%s", err, r.stdout)
	}
}

func envFor(addr, token string) []string {
	return []string{"BREAKERBOX_ADDR=" + addr, "BREAKERBOX_TOKEN=" + token}
}

func states(t *testing.T, env []string) map[string]string {
	t.Helper()
	var list wire.GuardList
	ctl(t, env, "status", "--json").want(t, 0).json(t, &list)
	out := map[string]string{}
	for _, g := range list.Guards {
		out[g.Name] = g.State.String()
	}
	return out
}

func TestStatus(t *testing.T) {
	env := envFor(startServer(t), readToken)

	r := ctl(t, env, "status").want(t, 0)
	for _, want := range []string{"GUARD", "STATE", "payments.charge (critical)", "GET /users/{id}", "closed", "20.0% of 10", "stripe"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Error("colour codes in output that is not a terminal")
	}
	if r := ctl(t, env, "status", "--color", "always").want(t, 0); !strings.Contains(r.stdout, "\x1b[32mclosed\x1b[0m") {
		t.Errorf("--color always: %q", r.stdout)
	}

	var list wire.GuardList
	ctl(t, env, "status", "--json").want(t, 0).json(t, &list)
	if len(list.Guards) != 4 || list.Guards[1].Name != "payments.charge" || list.Guards[1].Counters.Admitted != 10 {
		t.Fatalf("status --json: %+v", list)
	}
	ctl(t, env, "status", "--tag", "stripe", "--json").want(t, 0).json(t, &list)
	if len(list.Guards) != 2 {
		t.Fatalf("--tag stripe: %d guards", len(list.Guards))
	}

	var g wire.GuardStatus
	ctl(t, env, "status", "GET /users/{id}", "--json").want(t, 0).json(t, &g)
	if g.Name != "GET /users/{id}" || g.PolicyConfig == nil {
		t.Fatalf("status NAME --json: %+v", g)
	}
	r = ctl(t, env, "status", "payments.charge").want(t, 0)
	for _, want := range []string{"guard:", "payments.charge", "10 admitted: 8 succeeded, 2 failed", "critical"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status NAME lacks %q:\n%s", want, r.stdout)
		}
	}
	r = ctl(t, env, "status", "search").want(t, 0)
	for _, want := range []string{"0/8 in use", "1 rate limited", "rate limit:", "token_bucket 2 per 1h, burst 2", "0.0 available, next in", "2 allowed, 1 rejected"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("status search lacks %q:\n%s", want, r.stdout)
		}
	}
	r = ctl(t, env, "status", "nope").want(t, 1)
	if !strings.Contains(r.stderr, `no guard is called "nope"`) {
		t.Errorf("stderr %q", r.stderr)
	}
}

func TestWriteCommands(t *testing.T) {
	addr := startServer(t)
	env := envFor(addr, aliceToken)

	var res wire.OperationResult
	ctl(t, env, "open", "--tag", "stripe", "--reason", "provider maintenance", "--json").want(t, 0).json(t, &res)
	if res.Op != wire.OpOpen || res.Actor != "alice" || len(res.Changes) != 2 || res.Changes[0].To != breaker.ForcedOpen {
		t.Fatalf("open --tag: %+v", res)
	}
	r := ctl(t, env, "disable", "GET /users/{id}", "-r", "noisy").want(t, 0)
	if !strings.Contains(r.stdout, "disable") || !strings.Contains(r.stdout, "GET /users/{id}") || !strings.Contains(r.stdout, "audit #2") {
		t.Errorf("disable output:\n%s", r.stdout)
	}
	ctl(t, env, "metrics-only", "search", "--reason", "trial").want(t, 0)
	want := map[string]string{"payments.charge": "forced-open", "payments.refund": "forced-open", "GET /users/{id}": "disabled", "search": "metrics-only"}
	if got := states(t, env); !mapsEqual(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}

	ctl(t, env, "release", "--all", "--reason", "all clear").want(t, 0)
	ctl(t, env, "close", "payments.refund", "--reason", "force closed").want(t, 0)
	ctl(t, env, "open", "search", "--for", "10m", "--reason", "deploy").want(t, 0)
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	ctl(t, env, "open", "payments.charge", "--until", until, "--reason", "window").want(t, 0)
	want = map[string]string{"payments.charge": "open", "payments.refund": "disabled", "GET /users/{id}": "closed", "search": "open"}
	if got := states(t, env); !mapsEqual(got, want) {
		t.Fatalf("states %v, want %v", got, want)
	}
	var g wire.GuardStatus
	ctl(t, env, "status", "payments.charge", "--json").want(t, 0).json(t, &g)
	if g.OpenUntil == nil || g.OpenUntil.UTC().Format(time.RFC3339) != until {
		t.Errorf("open until %v, want %s", g.OpenUntil, until)
	}

	ctl(t, env, "reset", "--all", "--reason", "fresh start").want(t, 0)
	ctl(t, env, "release", "--all", "--reason", "automatic again").want(t, 0)
	for n, s := range states(t, env) {
		if s != "closed" {
			t.Errorf("%s: %s after reset and release", n, s)
		}
	}

	var page wire.AuditPage
	ctl(t, env, "audit", "--json").want(t, 0).json(t, &page)
	if len(page.Records) != 9 {
		t.Fatalf("%d audit records, want 9", len(page.Records))
	}
	for i, rec := range page.Records {
		if rec.Seq != uint64(i+1) || rec.Actor != "alice" || rec.Reason == "" {
			t.Errorf("record %d: %+v", i, rec)
		}
	}
	r = ctl(t, env, "audit", "--since", "1h").want(t, 0)
	for _, w := range []string{"SEQ", "provider maintenance", `tag "stripe"`, "duration=10m0s", "noisy"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("audit table lacks %q:\n%s", w, r.stdout)
		}
	}
	ctl(t, env, "audit", "--limit", "3", "--json").want(t, 0).json(t, &page)
	if len(page.Records) != 3 || page.Records[2].Seq != 3 {
		t.Errorf("--limit 3: %+v", page.Records)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if r := ctl(t, env, "audit", "--since", future).want(t, 0); !strings.Contains(r.stdout, "no audit records") {
		t.Errorf("audit --since the future: %s", r.stdout)
	}
}

func TestExitCodes(t *testing.T) {
	addr := startServer(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	write, read := envFor(addr, aliceToken), envFor(addr, readToken)
	cases := []struct {
		name   string
		env    []string
		args   []string
		code   int
		stderr string
	}{
		{"no selector", write, []string{"open", "--reason", "x"}, 2, "exactly one of"},
		{"two selectors", write, []string{"open", "search", "--all", "--reason", "x"}, 2, "exactly one of"},
		{"no reason", write, []string{"open", "search"}, 2, "--reason is required"},
		{"blank reason", write, []string{"release", "--all", "--reason", " "}, 2, "--reason is required"},
		{"for and until", write, []string{"open", "search", "-r", "x", "--for", "1m", "--until", "2030-01-01T00:00:00Z"}, 2, "exclusive"},
		{"bad until", write, []string{"open", "search", "-r", "x", "--until", "tomorrow"}, 2, "RFC 3339"},
		{"bad duration", write, []string{"open", "search", "-r", "x", "--for", "soon"}, 2, "invalid argument"},
		{"unknown flag", write, []string{"status", "--bogus"}, 2, "unknown flag"},
		{"unknown command", write, []string{"frobnicate"}, 2, "unknown command"},
		{"too many args", write, []string{"status", "a", "b"}, 2, "accepts at most 1 arg"},
		{"no address", []string{"BREAKERBOX_TOKEN=" + aliceToken}, []string{"status"}, 2, "no server address"},
		{"bad address", write, []string{"status", "--addr", "ftp://x"}, 2, "not an http(s) address"},
		{"prune without idle", write, []string{"prune", "--reason", "x"}, 2, "--idle is required"},
		{"prune without reason", write, []string{"prune", "--idle", "1h"}, 2, "--reason is required"},
		{"restore missing file", write, []string{"snapshot", "restore", "/nonexistent.json", "-r", "x"}, 2, "reading the snapshot"},
		{"snapshot without subcommand", write, []string{"snapshot"}, 2, "subcommand"},
		{"bad since", write, []string{"audit", "--since", "last week"}, 2, "--since"},

		{"no token", []string{"BREAKERBOX_ADDR=" + addr}, []string{"open", "search", "-r", "x"}, 1, "missing bearer token"},
		{"no token read", []string{"BREAKERBOX_ADDR=" + addr}, []string{"status"}, 1, "Unauthorized"},
		{"wrong token", envFor(addr, "not-the-secret-0123456"), []string{"open", "search", "-r", "x"}, 1, "invalid token"},
		{"read-only token", read, []string{"open", "search", "-r", "x"}, 1, `token "grafana" is read-only`},
		{"read-only prune", read, []string{"prune", "--idle", "1h", "-r", "x"}, 1, "read-only"},
		{"unknown guard", write, []string{"open", "nope", "-r", "x"}, 1, `no guard is called "nope"`},
		{"unknown tag", write, []string{"open", "--tag", "nope", "-r", "x"}, 1, `no guard carries the tag "nope"`},
		{"past until", write, []string{"open", "search", "-r", "x", "--until", "2001-01-01T00:00:00Z"}, 1, "not in the future"},

		{"unreachable", envFor(closed, aliceToken), []string{"status"}, 3, "cannot reach"},
		{"unreachable write", envFor(closed, aliceToken), []string{"open", "search", "-r", "x"}, 3, "connection refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ctl(t, c.env, c.args...).want(t, c.code)
			if !strings.Contains(r.stderr, c.stderr) {
				t.Errorf("stderr %q, want it to contain %q", r.stderr, c.stderr)
			}
		})
	}
	// Nothing above changed anything.
	for n, s := range states(t, read) {
		if s != "closed" {
			t.Errorf("%s: %s", n, s)
		}
	}
	// Flags override the environment.
	ctl(t, envFor(closed, "x"), "status", "--addr", addr, "--token", readToken).want(t, 0)
}

func TestPruneSnapshotRestore(t *testing.T) {
	env := envFor(startServer(t), aliceToken)
	ctl(t, env, "open", "payments.charge", "-r", "incident").want(t, 0)
	ctl(t, env, "open", "payments.refund", "--for", "1h", "-r", "incident").want(t, 0)
	ctl(t, env, "metrics-only", "search", "-r", "trial").want(t, 0)

	// Snapshot save, then restore into another server process.
	file := filepath.Join(t.TempDir(), "snap.json")
	r := ctl(t, env, "snapshot", "save", file).want(t, 0)
	if !strings.Contains(r.stdout, "saved 4 guards (3 with a manual override)") {
		t.Errorf("save: %s", r.stdout)
	}
	var doc wire.Snapshot
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Version != 1 || len(doc.Guards) != 4 {
		t.Fatalf("snapshot file: %v %+v", err, doc)
	}

	other := envFor(startServer(t), aliceToken)
	var res wire.RestoreResult
	ctl(t, other, "snapshot", "restore", file, "--reason", "migrate", "--json").want(t, 0).json(t, &res)
	if len(res.Changes) != 3 || res.AuditSeq != 1 {
		t.Fatalf("restore: %+v", res)
	}
	want := map[string]string{"payments.charge": "forced-open", "payments.refund": "open", "search": "metrics-only", "GET /users/{id}": "closed"}
	if got := states(t, other); !mapsEqual(got, want) {
		t.Fatalf("after restore %v, want %v", got, want)
	}
	// A file that is not a snapshot document is refused by the server's
	// strict decoding, naming the field.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"version":1,"guards":[],"extra":true}`), 0o600)
	if r := ctl(t, other, "snapshot", "restore", bad, "-r", "x").want(t, 1); !strings.Contains(r.stderr, `unknown field "snapshot.extra"`) {
		t.Errorf("stderr %q", r.stderr)
	}
	// Standard output and input work as files.
	r = ctl(t, env, "snapshot", "save", "-").want(t, 0)
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("save -: %v", err)
	}

	// Prune: a dry run with the read token, then a real one.
	ctl(t, env, "release", "--all", "-r", "done").want(t, 0)
	read := envFor(env[0][len("BREAKERBOX_ADDR="):], readToken)
	var pr wire.PruneResult
	for i := 0; i < 2; i++ { // the API's first look counts as activity
		ctl(t, read, "prune", "--idle", "1ns", "--dry-run", "--json").want(t, 0).json(t, &pr)
	}
	if !pr.DryRun || len(pr.Pruned) != 4 {
		t.Fatalf("dry run: %+v", pr)
	}
	r = ctl(t, env, "prune", "--idle", "1ns", "--reason", "cleanup").want(t, 0)
	if !strings.Contains(r.stdout, "pruned 4 guards") || !strings.Contains(r.stdout, "payments.charge") {
		t.Errorf("prune: %s", r.stdout)
	}
	if r := ctl(t, env, "status").want(t, 0); !strings.Contains(r.stdout, "no guards") {
		t.Errorf("status after prune: %s", r.stdout)
	}
}

func TestAuditFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	env := envFor(startServer(t, "-audit", file), aliceToken)
	ctl(t, env, "disable", "search", "-r", "one").want(t, 0)
	ctl(t, env, "release", "search", "-r", "two").want(t, 0)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines in the audit file", len(lines))
	}
	var rec wire.AuditRecord
	if err := json.Unmarshal([]byte(lines[1]), &rec); err != nil || rec.Seq != 2 || rec.Reason != "two" {
		t.Fatalf("%+v %v", rec, err)
	}
}

func TestWatch(t *testing.T) {
	env := envFor(startServer(t), readToken)
	cmd := exec.Command(filepath.Join(binDir, "breakerctl"), "status", "--watch", "--interval", "50ms")
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen bytes.Buffer
	got := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			mu.Lock()
			seen.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if strings.HasPrefix(sc.Text(), "GUARD") {
				if n++; n == 2 {
					close(got)
				}
			}
		}
	}()
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no two refreshes")
	}
	cmd.Process.Signal(os.Interrupt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("interrupted watch: %v, want exit 0", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(seen.String(), "Every 50ms") || !strings.Contains(seen.String(), "payments.charge") {
		t.Errorf("watch output:\n%s", seen.String())
	}
}

func TestCompletion(t *testing.T) {
	env := envFor(startServer(t), readToken)
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		if r := ctl(t, env, "completion", sh).want(t, 0); !strings.Contains(r.stdout, "breakerctl") {
			t.Errorf("completion %s: %.80q", sh, r.stdout)
		}
	}
	r := ctl(t, env, "__complete", "open", "").want(t, 0)
	for _, n := range []string{"payments.charge", "GET /users/{id}", "search"} {
		if !strings.Contains(r.stdout, n) {
			t.Errorf("guard completion lacks %q:\n%s", n, r.stdout)
		}
	}
	r = ctl(t, env, "__complete", "release", "--tag", "").want(t, 0)
	if lines := strings.Split(r.stdout, "\n"); !slices.Contains(lines, "stripe") || !slices.Contains(lines, "search") {
		t.Errorf("tag completion:\n%s", r.stdout)
	}
}

func TestHelp(t *testing.T) {
	r := ctl(t, nil, "--help").want(t, 0)
	for _, w := range []string{"status", "open", "close", "disable", "metrics-only", "reset", "release", "prune", "snapshot", "audit", "completion", "BREAKERBOX_ADDR", "Exit codes"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("help lacks %q", w)
		}
	}
	ctl(t, nil).want(t, 0)
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
