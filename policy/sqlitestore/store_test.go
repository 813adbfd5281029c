package sqlitestore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
	"github.com/breakerbox/breakerbox/policy/sqlitestore"
)

func open(t *testing.T, path string) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func doc(n int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"policies":[{"name":"p%d"}]}`, n))
}

func TestAppendGetListLatest(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "history.db"))

	if _, ok, err := s.Latest(ctx); err != nil || ok {
		t.Fatalf("Latest of an empty store = ok %v, err %v; want false, nil", ok, err)
	}
	if recs, err := s.List(ctx, 0); err != nil || len(recs) != 0 {
		t.Fatalf("List of an empty store = %v, %v", recs, err)
	}

	at := time.Date(2026, 12, 7, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	r1, err := s.Append(ctx, policy.Record{Hash: "h1", Document: doc(1), Source: "file.yaml", Actor: "ana", Reason: "first", At: at})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Version != 1 || !r1.At.Equal(at) {
		t.Fatalf("first Append = version %d at %v; want 1 at %v", r1.Version, r1.At, at)
	}
	r2, err := s.Append(ctx, policy.Record{Hash: "h2", Document: doc(2), Source: "rollback", RollbackOf: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Version != 2 || r2.At.IsZero() {
		t.Fatalf("second Append = version %d at %v; want 2, a time filled in", r2.Version, r2.At)
	}

	got, err := s.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 1 || got.Hash != "h1" || string(got.Document) != string(doc(1)) ||
		got.Source != "file.yaml" || got.Actor != "ana" || got.Reason != "first" || got.RollbackOf != 0 || !got.At.Equal(at) {
		t.Fatalf("Get(1) = %+v", got)
	}
	got, err = s.Get(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got.RollbackOf != 1 || got.Source != "rollback" || !got.At.Equal(r2.At) {
		t.Fatalf("Get(2) = %+v; want rollbackOf 1, at %v", got, r2.At)
	}

	for i := 3; i <= 5; i++ {
		if _, err := s.Append(ctx, policy.Record{Hash: fmt.Sprint("h", i), Document: doc(i)}); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.List(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if v := versions(all); !slices.Equal(v, []uint64{5, 4, 3, 2, 1}) {
		t.Fatalf("List(0) versions = %v; want newest first 5..1", v)
	}
	two, err := s.List(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if v := versions(two); !slices.Equal(v, []uint64{5, 4}) {
		t.Fatalf("List(2) versions = %v; want [5 4]", v)
	}
	latest, ok, err := s.Latest(ctx)
	if err != nil || !ok || latest.Version != 5 || latest.Hash != "h5" {
		t.Fatalf("Latest = %+v, %v, %v; want version 5", latest, ok, err)
	}
}

func versions(recs []policy.Record) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.Version)
	}
	return out
}

func TestGetUnknownVersionIsErrNoVersion(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "history.db"))
	if _, err := s.Append(ctx, policy.Record{Document: doc(1)}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []uint64{0, 2, 1 << 63, ^uint64(0)} {
		_, err := s.Get(ctx, v)
		if !errors.Is(err, policy.ErrNoVersion) {
			t.Errorf("Get(%d) = %v; want ErrNoVersion", v, err)
		}
	}
}

func TestAppendRefusesBadRecords(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "history.db"))
	for _, tc := range []struct {
		name string
		rec  policy.Record
		want string
	}{
		{"empty document", policy.Record{}, "document is empty"},
		{"not JSON", policy.Record{Document: json.RawMessage(`{"policies":`)}, "not valid JSON"},
		{"rollback of an unknown version", policy.Record{Document: doc(1), RollbackOf: 9}, "rollbackOf 9"},
	} {
		_, err := s.Append(ctx, tc.rec)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Append = %v; want an error containing %q", tc.name, err, tc.want)
		}
	}
	if _, ok, _ := s.Latest(ctx); ok {
		t.Fatal("a refused Append stored a record")
	}
	// The next accepted record is still version 1.
	r, err := s.Append(ctx, policy.Record{Document: doc(1)})
	if err != nil || r.Version != 1 {
		t.Fatalf("Append after refusals = %d, %v; want version 1", r.Version, err)
	}
}

func TestReopenKeepsHistory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "history.db")
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if _, err := s.Append(ctx, policy.Record{Hash: fmt.Sprint("h", i), Document: doc(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	latest, ok, err := s.Latest(ctx)
	if err != nil || !ok || latest.Version != 3 || string(latest.Document) != string(doc(3)) {
		t.Fatalf("Latest after reopen = %+v, %v, %v; want version 3", latest, ok, err)
	}
	r, err := s.Append(ctx, policy.Record{Document: doc(4), RollbackOf: 2})
	if err != nil || r.Version != 4 {
		t.Fatalf("Append after reopen = %d, %v; want version 4", r.Version, err)
	}
	all, err := s.List(ctx, 0)
	if err != nil || !slices.Equal(versions(all), []uint64{4, 3, 2, 1}) {
		t.Fatalf("List after reopen = %v, %v", versions(all), err)
	}
}

// checkComplete fails unless the store holds versions 1..n exactly once,
// each with the document its Append returned.
func checkComplete(t *testing.T, s *sqlitestore.Store, n int, byVersion map[uint64]string) {
	t.Helper()
	all, err := s.List(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != n {
		t.Fatalf("store holds %d records; want %d", len(all), n)
	}
	for i, r := range all {
		if want := uint64(n - i); r.Version != want {
			t.Fatalf("record %d of List has version %d; want %d (a gap or a duplicate)", i, r.Version, want)
		}
		if byVersion != nil && byVersion[r.Version] != r.Reason {
			t.Fatalf("version %d holds reason %q; its Append returned it for %q", r.Version, r.Reason, byVersion[r.Version])
		}
	}
}

func TestTwoStoresOnOneFileAppendConcurrently(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "history.db")
	stores := []*sqlitestore.Store{open(t, path), open(t, path)}
	const writers, each = 4, 20 // per store

	var mu sync.Mutex
	byVersion := map[uint64]string{}
	var wg sync.WaitGroup
	for si, s := range stores {
		for w := range writers {
			wg.Go(func() {
				for i := range each {
					reason := fmt.Sprintf("store %d writer %d append %d", si, w, i)
					r, err := s.Append(ctx, policy.Record{Document: doc(i), Reason: reason})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					if prev, dup := byVersion[r.Version]; dup {
						t.Errorf("version %d returned twice: %q and %q", r.Version, prev, reason)
					}
					byVersion[r.Version] = reason
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	n := len(stores) * writers * each
	checkComplete(t, stores[0], n, byVersion)
	checkComplete(t, stores[1], n, byVersion)
}

// TestTwoProcessesAppendConcurrently runs this test binary twice more as
// child processes that append to one file while this process does too.
func TestTwoProcessesAppendConcurrently(t *testing.T) {
	if path := os.Getenv("SQLITESTORE_CHILD_PATH"); path != "" {
		appendAsChild(t, path)
		return
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "history.db")
	s := open(t, path)
	const each = 30

	var cmds []*exec.Cmd
	for c := range 2 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcessesAppendConcurrently$", "-test.count=1")
		cmd.Env = append(os.Environ(),
			"SQLITESTORE_CHILD_PATH="+path,
			"SQLITESTORE_CHILD_NAME=child"+strconv.Itoa(c),
			"SQLITESTORE_CHILD_EACH="+strconv.Itoa(each))
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("child %d output:\n%s", c, out.String())
			}
		})
		cmds = append(cmds, cmd)
	}
	for i := range each {
		if _, err := s.Append(ctx, policy.Record{Document: doc(i), Reason: fmt.Sprint("parent ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v", i, err)
		}
	}
	checkComplete(t, s, 3*each, nil)
	// Every process wrote its records, none lost.
	all, _ := s.List(ctx, 0)
	counts := map[string]int{}
	for _, r := range all {
		counts[strings.Fields(r.Reason)[0]]++
	}
	if counts["parent"] != each || counts["child0"] != each || counts["child1"] != each {
		t.Fatalf("records by writer = %v; want %d each", counts, each)
	}
}

func appendAsChild(t *testing.T, path string) {
	name := os.Getenv("SQLITESTORE_CHILD_NAME")
	each, err := strconv.Atoi(os.Getenv("SQLITESTORE_CHILD_EACH"))
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	for i := range each {
		if _, err := s.Append(context.Background(), policy.Record{Document: doc(i), Reason: fmt.Sprint(name, " ", i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no", "such")
	_, err := sqlitestore.Open(filepath.Join(dir, "history.db"))
	if err == nil || !strings.Contains(err.Error(), "directory "+dir+" does not exist") {
		t.Fatalf("Open in a missing directory = %v; want an error naming the directory", err)
	}
}

func TestOpenRefusesADirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := sqlitestore.Open(dir)
	if err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("Open(a directory) = %v", err)
	}
}

func TestOpenRefusesAFileThatIsNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policies.yaml")
	content := strings.Repeat("policies:\n  - name: payments\n", 200)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sqlitestore.Open(path)
	if !errors.Is(err, sqlitestore.ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open(a YAML file) = %v; want ErrCorrupt naming the file", err)
	}
	// The file is left as it was.
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Fatal("Open changed a file that is not a database")
	}
}

func TestOpenRefusesADamagedDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "history.db")
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, policy.Record{Document: doc(1)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // checkpoints the WAL into the file
		t.Fatal(err)
	}
	// Overwrite page 1 past the 100-byte header: the schema table.
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(strings.Repeat("\xff", 1000)), 100); err != nil {
		t.Fatal(err)
	}
	f.Close()

	s, err = sqlitestore.Open(path)
	if err == nil {
		_, err = s.Get(ctx, 1)
		s.Close()
	}
	if !errors.Is(err, sqlitestore.ErrCorrupt) {
		t.Fatalf("a damaged database: err = %v; want ErrCorrupt", err)
	}
}

func TestOpenRefusesAnotherProgramsDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.db")
	// Make a SQLite database with a table of its own, through the store's
	// driver: open a store, then rename its table away.
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	sqlitestore.ExecSQL(t, path, "ALTER TABLE policy_versions RENAME TO orders", "PRAGMA user_version = 0")

	_, err = sqlitestore.Open(path)
	if err == nil || !strings.Contains(err.Error(), "another program") || !strings.Contains(err.Error(), "orders") {
		t.Fatalf("Open(another program's database) = %v", err)
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	sqlitestore.ExecSQL(t, path, "PRAGMA user_version = 99")
	_, err = sqlitestore.Open(path)
	if err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Fatalf("Open(a newer schema) = %v", err)
	}
}

func TestOpenRefusesEmptyPathAndURIs(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db?mode=memory"} {
		if _, err := sqlitestore.Open(p); err == nil {
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestPathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "history.db")
	s := open(t, path)
	if _, err := s.Append(ctx, policy.Record{Document: doc(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not at %s: %v", path, err)
	}
}

// The "rollback across a process restart": a policy.Manager on a
// SQLite history, closed and opened again as a restarted process would,
// runs the latest version and rolls back to one applied before the restart.
func TestManagerRollbackAcrossRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "history.db")
	v1 := core.Document{Policies: []core.Policy{{Name: "payments", Breaker: &core.BreakerPolicy{FailureRate: 50}}}}
	v2 := core.Document{Policies: []core.Policy{{Name: "payments", Breaker: &core.BreakerPolicy{FailureRate: 30}}}}

	start := func() (*policy.Manager, *core.Registry, *sqlitestore.Store) {
		t.Helper()
		s, err := sqlitestore.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		reg, err := core.NewRegistry()
		if err != nil {
			t.Fatal(err)
		}
		m, err := policy.NewManager(ctx, reg, s)
		if err != nil {
			t.Fatal(err)
		}
		return m, reg, s
	}

	m, _, s := start()
	if _, err := m.Apply(ctx, v1, policy.Meta{Source: "payments.yaml", Actor: "ana", Reason: "first"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(ctx, v2, policy.Meta{Source: "payments.yaml", Actor: "ana", Reason: "tighter"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// The restarted process runs version 2.
	m, reg, s := start()
	defer s.Close()
	if v, hash := reg.PolicyVersion(); v != 2 || hash != v2.Hash() {
		t.Fatalf("after the restart the registry runs version %d (%s); want 2 (%s)", v, hash, v2.Hash())
	}
	res, err := m.Rollback(ctx, 1, policy.Meta{Actor: "bo", Reason: "v2 trips payments"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Record.Version != 3 || res.Record.RollbackOf != 1 || res.Record.Hash != v1.Hash() {
		t.Fatalf("rollback = %+v; want version 3 re-applying 1", res.Record)
	}
	if v, hash := reg.PolicyVersion(); v != 3 || hash != v1.Hash() {
		t.Fatalf("after the rollback the registry runs version %d (%s); want 3 (%s)", v, hash, v1.Hash())
	}
	all, err := s.List(ctx, 0)
	if err != nil || !slices.Equal(versions(all), []uint64{3, 2, 1}) {
		t.Fatalf("history = %v, %v; want 3, 2, 1 (never rewritten)", versions(all), err)
	}
}
