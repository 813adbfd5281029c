package sqlitestore_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"encoding/json"
	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/historystore/sqlitestore"
	"github.com/breakerbox/breakerbox/core"
)

func open(t *testing.T, path string, opts ...sqlitestore.Option) *sqlitestore.Store {
	t.Helper()
	s, err := sqlitestore.Open(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// batch is n guards' rollups starting at start, each with calls.
func batch(n int, start time.Time, step time.Duration, calls uint32) []admin.HistoryRollup {
	rs := make([]admin.HistoryRollup, n)
	for i := range rs {
		rs[i] = admin.HistoryRollup{Guard: fmt.Sprintf("guard-%03d", i), Start: start, Step: step, Calls: calls, Succeeded: calls, Severity: 1}
	}
	return rs
}

func TestAppendLoadRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "h.db"))
	base := time.Now().Truncate(time.Minute).Add(-30 * time.Minute).UTC()
	want := admin.HistoryRollup{Guard: "GET /users/{id}", Start: base, Step: admin.ShortRollup,
		Calls: 1<<32 - 1, Succeeded: 2, Failed: 3, Slow: 4, RejectedOpen: 5, RejectedFull: 6, RejectedLimited: 7, Severity: 3}
	if err := s.AppendRollups(ctx, []admin.HistoryRollup{want, {Guard: "b", Start: base, Step: admin.LongRollup, Calls: 1}}); err != nil {
		t.Fatal(err)
	}
	// The same guard, step and start replaces.
	want.Calls = 9
	if err := s.AppendRollups(ctx, []admin.HistoryRollup{want}); err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadRollups(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != want || got[1].Guard != "b" || got[1].Step != admin.LongRollup {
		t.Fatalf("loaded %+v", got)
	}
	if got, _ := s.LoadRollups(ctx, base.Add(time.Second)); len(got) != 0 {
		t.Fatalf("loaded since after: %+v", got)
	}
}

func TestAppendRefusesBadRollupsWhole(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "h.db"))
	now := time.Now()
	for _, tc := range []struct {
		r    admin.HistoryRollup
		want string
	}{
		{admin.HistoryRollup{Start: now, Step: admin.ShortRollup}, "rollup 1: guard is empty"},
		{admin.HistoryRollup{Guard: "a", Start: now}, `rollup 1 (guard "a"): step 0s`},
		{admin.HistoryRollup{Guard: "a", Start: now, Step: 1500 * time.Millisecond}, "step 1.5s"},
	} {
		err := s.AppendRollups(ctx, []admin.HistoryRollup{{Guard: "ok", Start: now, Step: admin.ShortRollup}, tc.r})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.r, err, tc.want)
		}
	}
	if got, _ := s.LoadRollups(ctx, time.Time{}); len(got) != 0 {
		t.Fatalf("a refused batch stored %+v", got)
	}
}

func TestOpenRefusesBadOptionsAndFiles(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		opt  sqlitestore.Option
		want string
	}{
		{sqlitestore.WithMaxAge(0), "maxAge: 0s must be positive"},
		{sqlitestore.WithMaxBytes(1000), "maxBytes: 1000 is below the minimum 65536"},
	} {
		if _, err := sqlitestore.Open(filepath.Join(dir, "x.db"), tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v, want %q", err, tc.want)
		}
	}
	junk := filepath.Join(dir, "junk.db")
	if err := os.WriteFile(junk, []byte(strings.Repeat("not a database ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlitestore.Open(junk); !errors.Is(err, sqlitestore.ErrCorrupt) {
		t.Fatalf("junk file: %v", err)
	}
	if _, err := sqlitestore.Open(filepath.Join(dir, "missing", "h.db")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing directory: %v", err)
	}
}

func TestRetentionByAge(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "h.db"), sqlitestore.WithMaxAge(2*time.Hour))
	now := time.Now().Truncate(time.Minute)
	old, recent := now.Add(-3*time.Hour), now.Add(-time.Hour)
	if err := s.AppendRollups(ctx, append(batch(3, old, admin.LongRollup, 1), batch(3, recent, admin.LongRollup, 2)...)); err != nil {
		t.Fatal(err)
	}
	got, _ := s.LoadRollups(ctx, time.Time{})
	if len(got) != 3 || !got[0].Start.Equal(recent) {
		t.Fatalf("after the append: %+v", got)
	}
	// 10-second rollups are kept an hour: the server shows no more.
	if err := s.AppendRollups(ctx, append(batch(2, now.Add(-61*time.Minute), admin.ShortRollup, 3), batch(2, now.Add(-59*time.Minute), admin.ShortRollup, 4)...)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.LoadRollups(ctx, time.Time{})
	if len(got) != 5 || got[4].Calls != 4 {
		t.Fatalf("short rollups kept: %+v", got)
	}
	if err := s.Prune(ctx, now.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.LoadRollups(ctx, time.Time{}); len(got) != 0 {
		t.Fatalf("after a prune 2h later: %+v", got)
	}
}

func TestRetentionBySize(t *testing.T) {
	ctx := context.Background()
	const limit = 2 * sqlitestore.MinMaxBytes
	path := filepath.Join(t.TempDir(), "h.db")
	s := open(t, path, sqlitestore.WithMaxBytes(limit))
	base := time.Now().Truncate(time.Minute).Add(-20 * time.Hour)
	const guards, batches = 50, 80 // 4,000 rows: about twice the limit
	for i := range batches {
		if err := s.AppendRollups(ctx, batch(guards, base.Add(time.Duration(i)*admin.LongRollup), admin.LongRollup, uint32(i))); err != nil {
			t.Fatal(err)
		}
		n, err := s.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n > limit {
			t.Fatalf("after batch %d the file uses %d bytes, over %d", i, n, limit)
		}
	}
	got, _ := s.LoadRollups(ctx, time.Time{})
	if len(got) < guards*5 || len(got) >= guards*batches {
		t.Fatalf("%d rollups kept of %d", len(got), guards*batches)
	}
	// The newest are kept, whole batches, the oldest deleted first.
	first := got[0].Start
	perStart := map[int64]int{}
	for _, r := range got {
		perStart[r.Start.Unix()]++
		if r.Start.Before(first) {
			t.Fatalf("not oldest first")
		}
	}
	last := base.Add((batches - 1) * admin.LongRollup)
	if perStart[last.Unix()] != guards || !first.After(base) {
		t.Fatalf("kept %d of the newest batch; oldest kept %v (base %v)", perStart[last.Unix()], first, base)
	}
	for st, n := range perStart {
		if n != guards && st != first.Unix() {
			t.Fatalf("batch at %v cut to %d rollups", time.Unix(st, 0), n)
		}
	}
	// The file gives freed pages back (incremental auto-vacuum).
	s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var av int
	if err := db.QueryRow("PRAGMA auto_vacuum").Scan(&av); err != nil || av != 2 {
		t.Fatalf("auto_vacuum %d %v, want 2 (incremental)", av, err)
	}
}

// killEnv names the file the child of TestKillDuringWritesLeavesAConsistentFile writes.
const killEnv = "HISTORYSTORE_KILL_CHILD_PATH"

const killGuards = 300

// TestKillDuringWritesLeavesAConsistentFile runs this test binary as a
// child process that appends batches as fast as it can and kills it with
// SIGKILL in the middle of one, at a random point of the batch's write;
// the reopened file must hold every batch the child saw committed, each
// whole, and nothing of a batch half written. (The random point is not a
// timing assertion: any point must leave the file consistent.)
func TestKillDuringWritesLeavesAConsistentFile(t *testing.T) {
	if path := os.Getenv(killEnv); path != "" {
		writeUntilKilled(path)
		return
	}
	path := filepath.Join(t.TempDir(), "h.db")
	base := time.Now().Truncate(time.Minute).Add(-20 * time.Hour)
	acked := -1
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringWritesLeavesAConsistentFile$", "-test.count=1")
		cmd.Env = append(os.Environ(), killEnv+"="+path, "HISTORYSTORE_KILL_CHILD_FROM="+strconv.Itoa(acked+1),
			"HISTORYSTORE_KILL_CHILD_BASE="+strconv.FormatInt(base.Unix(), 10))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var began time.Time
		var write time.Duration // the longest write seen
		for acks := 0; sc.Scan(); {
			verb, num, _ := strings.Cut(sc.Text(), " ")
			i, err := strconv.Atoi(num)
			if err != nil {
				t.Fatalf("child said %q", sc.Text())
			}
			switch verb {
			case "writing":
				if acks < 2 {
					began = time.Now()
					continue
				}
				// Kill at a random point of this batch's write.
				time.Sleep(rand.N(write + time.Millisecond))
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			case "ok":
				acked, acks = i, acks+1
				write = max(write, time.Since(began))
				continue
			}
			break
		}
		for sc.Scan() { // "ok" lines written before the kill
			if n, ok := strings.CutPrefix(sc.Text(), "ok "); ok {
				acked, _ = strconv.Atoi(n)
			}
		}
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: the child was not killed: %v", round, err)
		}
		checkConsistent(t, path, base, acked)
	}
}

// checkConsistent reopens the file (recovering its WAL) and checks that
// the batches 0..acked are there, each whole, and at most one more.
func checkConsistent(t *testing.T, path string, base time.Time, acked int) {
	t.Helper()
	s, err := sqlitestore.Open(path)
	if err != nil {
		t.Fatalf("reopening after kill -9: %v", err)
	}
	defer s.Close()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var check string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Fatalf("integrity_check: %q %v", check, err)
	}
	rs, err := s.LoadRollups(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	per := map[int]int{}
	for _, r := range rs {
		i := int(r.Start.Sub(base) / admin.LongRollup)
		if r.Calls != uint32(i) {
			t.Fatalf("batch %d holds a rollup of batch %d: %+v", i, r.Calls, r)
		}
		per[i]++
	}
	for i := 0; i <= acked; i++ {
		if per[i] != killGuards {
			t.Fatalf("committed batch %d has %d of %d rollups", i, per[i], killGuards)
		}
	}
	if n := per[acked+1]; n != 0 && n != killGuards {
		t.Fatalf("the batch written at the kill is half there: %d of %d", n, killGuards)
	}
	if len(per) > acked+2 {
		t.Fatalf("%d batches, %d acknowledged", len(per), acked+1)
	}
}

func writeUntilKilled(path string) {
	from, _ := strconv.Atoi(os.Getenv("HISTORYSTORE_KILL_CHILD_FROM"))
	sec, _ := strconv.ParseInt(os.Getenv("HISTORYSTORE_KILL_CHILD_BASE"), 10, 64)
	base := time.Unix(sec, 0)
	s, err := sqlitestore.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fmt.Printf("writing %d\n", from)
	for i := from; ; i++ {
		if err := s.AppendRollups(context.Background(), batch(killGuards, base.Add(time.Duration(i)*admin.LongRollup), admin.LongRollup, uint32(i))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Printf("ok %d\n", i)
		fmt.Printf("writing %d\n", i+1)
	}
}

// TestServerHistoryContinuesAcrossRestart: an admin server writes its
// rollups to the file and closes; a second one, in a new registry, on the
// reopened file, serves them through GET /v1/history.
func TestServerHistoryContinuesAcrossRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	base := time.Now().Truncate(time.Minute).Add(-30 * time.Minute)
	quiet := admin.WithLogger(slog.New(slog.DiscardHandler))

	store := open(t, path)
	reg, _ := core.NewRegistry()
	s1, err := admin.New(reg, admin.WithHistoryStore(store), quiet)
	if err != nil {
		t.Fatal(err)
	}
	g := reg.MustGuard("payments")
	s1.SampleAt(base)
	for range 7 {
		p, err := g.Allow(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		p.Done(nil)
	}
	s1.SampleAt(base.Add(time.Minute))
	s1.Close()
	store.Close()

	store = open(t, path)
	reg, _ = core.NewRegistry()
	reg.MustGuard("payments")
	s2, err := admin.New(reg, admin.WithHistoryStore(store), admin.WithOpenRead(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.SampleAt(base.Add(2 * time.Minute))
	ts := httptest.NewServer(s2)
	defer ts.Close()
	for _, tc := range []struct {
		rg   string
		step time.Duration
	}{{"1h", admin.ShortRollup}, {"24h", admin.LongRollup}} {
		res, err := http.Get(ts.URL + "/v1/history?guard=payments&range=" + tc.rg)
		if err != nil {
			t.Fatal(err)
		}
		var h admin.History
		err = json.NewDecoder(res.Body).Decode(&h)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		i := int(base.Sub(h.Start) / tc.step)
		if c := h.Guards[0].Calls; c == nil || i < 0 || i >= len(c) || c[i] != 7 {
			t.Fatalf("range %s from %v: calls %v at %d", tc.rg, h.Start, c, i)
		}
	}
}

// BenchmarkAppendDay appends the rollups a busy guard makes in a day
// (1,440 of a minute, 360 of 10 seconds kept) for 100 guards, one
// observation's batch at a time, and reports the bytes a rollup takes in
// the file.
func BenchmarkAppendDay(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		s, err := sqlitestore.Open(filepath.Join(b.TempDir(), "h.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		const guards = 100
		end := time.Now().Truncate(time.Minute)
		rows := 0
		for i := range admin.LongHistory / admin.LongRollup {
			at := end.Add(-admin.LongHistory + i*admin.LongRollup)
			rs := batch(guards, at, admin.LongRollup, 1)
			if end.Sub(at) <= admin.ShortHistory {
				for j := range 6 {
					rs = append(rs, batch(guards, at.Add(time.Duration(j)*admin.ShortRollup), admin.ShortRollup, 1)...)
				}
			}
			if err := s.AppendRollups(ctx, rs); err != nil {
				b.Fatal(err)
			}
			rows += len(rs)
		}
		b.StopTimer()
		n, _ := s.Size(ctx)
		b.ReportMetric(float64(n)/float64(guards*(1440+360)), "bytes/rollup")
		b.ReportMetric(float64(rows), "rollups")
		s.Close()
		b.StartTimer()
	}
}
