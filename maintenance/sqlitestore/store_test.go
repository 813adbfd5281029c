package sqlitestore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/maintenance"
	"github.com/breakerbox/breakerbox/maintenance/sqlitestore"
)

// Windows created through the API survive a restart in a real SQLite file;
// a one-off window that ended while the process was down is dropped.
func TestRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "windows.db")
		open := func() (*maintenance.Scheduler, *sqlitestore.Store) {
			st, err := sqlitestore.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			reg, err := core.NewRegistry()
			if err != nil {
				t.Fatal(err)
			}
			reg.MustGuard("db.main")
			s, err := maintenance.Open(reg, maintenance.WithStore(st))
			if err != nil {
				t.Fatal(err)
			}
			return s, st
		}
		s, st := open()
		now := time.Now()
		ctx := context.Background()
		for _, w := range []maintenance.Window{
			{Name: "soon", Guard: "db.main", Action: "open", Start: now.Add(time.Hour), End: now.Add(2 * time.Hour)},
			{Name: "later", Guard: "db.main", Action: "open", Start: now.Add(48 * time.Hour), End: now.Add(49 * time.Hour)},
			{Name: "nightly", Guard: "db.main", Action: "metrics-only", Schedule: "0 3 * * *", Duration: "30m", TimeZone: "UTC"},
		} {
			if _, err := s.AddWindow(ctx, w, "alice"); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Hour)
		s2, st2 := open()
		defer st2.Close()
		var names []string
		for _, w := range s2.Windows() {
			names = append(names, w.Name+":"+w.CreatedBy)
		}
		if got := strings.Join(names, ","); got != "nightly:alice,later:alice" {
			t.Fatalf("windows after the restart: %s", got)
		}
		ws, err := st2.Load(ctx)
		if err != nil || len(ws) != 2 {
			t.Fatalf("stored after the restart: %v %+v", err, ws)
		}
	})
}

func TestOpenRefusesAFileThatIsNoDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "windows.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 100)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sqlitestore.Open(path)
	if !errors.Is(err, sqlitestore.ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open of a text file: %v", err)
	}
}
