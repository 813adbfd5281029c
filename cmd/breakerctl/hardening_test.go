package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

// Regression tests for issue 16, item 11: breakerctl saved snapshots with
// mode 0644 and took its token only from --token (visible in the process
// list) or $BREAKERBOX_TOKEN.

const (
	inProcWrite = "alice-secret-0123456789"
	inProcRead  = "grafana-secret-01234567"
)

// inProcServer is an admin API with a read and a write token over an
// httptest server.
func inProcServer(t *testing.T) string {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	reg.MustGuard("payments")
	srv, err := admin.New(reg, admin.WithToken("alice", inProcWrite, admin.Write), admin.WithToken("grafana", inProcRead, admin.Read))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL
}

// runCtl runs breakerctl in process with env as its environment.
func runCtl(env map[string]string, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	return code, out.String(), errOut.String()
}

func TestSnapshotSaveFileMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("Unix file modes")
	}
	addr := inProcServer(t)
	dir := t.TempDir()
	save := func(name string) fs.FileMode {
		t.Helper()
		if code, _, stderr := runCtl(nil, "snapshot", "save", name, "--addr", addr, "--token", inProcRead); code != 0 {
			t.Fatalf("save %s: exit %d: %s", name, code, stderr)
		}
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		var doc wire.Snapshot
		if data, _ := os.ReadFile(name); json.Unmarshal(data, &doc) != nil || len(doc.Guards) != 1 {
			t.Fatalf("%s holds %s", name, data)
		}
		return fi.Mode().Perm()
	}
	if m := save(filepath.Join(dir, "new.json")); m != 0o600 {
		t.Errorf("a new snapshot file has mode %04o, want 0600", m)
	}
	for _, c := range []struct{ before, after fs.FileMode }{
		{0o644, 0o600}, // narrowed to 0600
		{0o640, 0o600},
		{0o400, 0o400}, // never widened
		{0o600, 0o600},
	} {
		name := filepath.Join(dir, "old.json")
		os.Remove(name)
		if err := os.WriteFile(name, []byte("{}"), c.before); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(name, c.before); err != nil { // past the umask
			t.Fatal(err)
		}
		if m := save(name); m != c.after {
			t.Errorf("replacing a file of mode %04o: mode %04o, want %04o", c.before, m, c.after)
		}
	}
}

func TestTokenFromFileAndEnvironment(t *testing.T) {
	addr := inProcServer(t)
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("good", inProcWrite+"\n")
	wrong := file("wrong", "not-the-token-0123456789\n")
	empty := file("empty", " \n")
	twoLines := file("two", inProcWrite+"\nsecond line\n")

	whoami := []string{"open", "payments", "--reason", "token test", "--json", "--addr", addr}
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		err  string
	}{
		{"--token-file", nil, []string{"--token-file", good}, 0, ""},
		{"$BREAKERBOX_TOKEN", map[string]string{envToken: inProcWrite}, nil, 0, ""},
		{"$BREAKERBOX_TOKEN_FILE", map[string]string{envTokenFile: good}, nil, 0, ""},
		// Precedence: --token, --token-file, $BREAKERBOX_TOKEN, $BREAKERBOX_TOKEN_FILE.
		{"--token beats the environment", map[string]string{envToken: inProcWrite}, []string{"--token", "not-the-token-0123456789"}, 1, "invalid token"},
		{"--token-file beats the environment", map[string]string{envToken: inProcWrite}, []string{"--token-file", wrong}, 1, "invalid token"},
		{"$BREAKERBOX_TOKEN beats $BREAKERBOX_TOKEN_FILE", map[string]string{envToken: inProcWrite, envTokenFile: wrong}, nil, 0, ""},
		{"--token and --token-file", nil, []string{"--token", inProcWrite, "--token-file", good}, 2, "exclusive"},
		{"missing file", nil, []string{"--token-file", filepath.Join(dir, "missing")}, 2, "--token-file"},
		{"empty file", nil, []string{"--token-file", empty}, 2, "empty"},
		{"two lines", map[string]string{envTokenFile: twoLines}, nil, 2, "$" + envTokenFile},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCtl(c.env, append(append([]string{}, whoami...), c.args...)...)
			if code != c.code || !strings.Contains(stderr, c.err) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, c.code, c.err)
			}
			if code == 0 {
				var res wire.OperationResult
				if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Actor != "alice" {
					t.Errorf("result %q (%v)", stdout, err)
				}
			}
			if strings.Contains(stderr, inProcWrite) {
				t.Errorf("stderr shows the token: %q", stderr)
			}
		})
	}
	code, stdout, _ := runCtl(nil, "--help")
	if code != 0 || !strings.Contains(stdout, "--token-file") || !strings.Contains(stdout, envTokenFile) || !strings.Contains(stdout, "first of, in order") {
		t.Errorf("the help does not document where the token comes from:\n%s", stdout)
	}
}
