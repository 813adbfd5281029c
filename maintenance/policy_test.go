package maintenance_test

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
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/maintenance"
	"github.com/breakerbox/breakerbox/policy"
)

var dbPolicy = core.Policy{Name: "db", Match: []string{"db.*"}, Tags: []string{"db"}}

// following returns a registry with guards and a started scheduler that
// follows its policy documents.
func following(t *testing.T, opts []maintenance.Option, guards ...string) (*core.Registry, *maintenance.Scheduler, *transitions) {
	t.Helper()
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Apply(core.Document{Policies: []core.Policy{dbPolicy}}); err != nil {
		t.Fatal(err)
	}
	tr := &transitions{}
	reg.AddHooks(core.Hooks{OnStateChange: tr.hook})
	for _, g := range guards {
		reg.MustGuard(g)
	}
	s, err := maintenance.Open(reg, append(opts, maintenance.FollowPolicy())...)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(s.Close)
	return reg, s, tr
}

func doc(ws ...core.MaintenanceWindow) core.Document {
	return core.Document{Policies: []core.Policy{dbPolicy}, Maintenance: ws}
}

func apply(t *testing.T, reg *core.Registry, d core.Document) {
	t.Helper()
	if _, err := reg.Apply(d, core.AppliedBy("carol")); err != nil {
		t.Fatal(err)
	}
	synctest.Wait()
}

func TestPolicyWindowsFollowReloads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, s, tr := following(t, nil, "db.a", "db.b")
		at := func(h, m int) time.Time { return time.Date(2000, 1, 1, h, m, 0, 0, time.UTC) }
		// An API window, which no document touches.
		add(t, s, maintenance.Window{Name: "api-night", Guard: "db.b", Action: "open", Start: at(20, 0), End: at(21, 0)})

		move := core.MaintenanceWindow{Name: "move", Guards: []string{"db.a"}, Mode: "forced-open", Start: at(1, 0), End: at(3, 0)}
		vacuum := core.MaintenanceWindow{Name: "vacuum", Tags: []string{"db"}, Mode: "metrics-only", Schedule: "0 5 * * *", Duration: core.Duration(time.Hour)}
		apply(t, reg, doc(move, vacuum))

		sleepUntil(at(1, 0))
		if got := state(reg, "db.a"); got != breaker.ForcedOpen {
			t.Fatalf("01:00: db.a %s, want forced open by the document's window", got)
		}
		ws := s.Windows()
		if len(ws) != 3 || ws[0].Name != "move" || ws[0].Source != maintenance.SourcePolicy || ws[0].PolicyVersion != 2 || ws[0].CreatedBy != "carol" || strings.Join(ws[0].Guards, ",") != "db.a" {
			t.Fatalf("windows: %+v", ws)
		}

		// 02:00, a reload that removes "move" ends it at once, and one that
		// changes "vacuum" to 04:00 reschedules it.
		sleepUntil(at(2, 0))
		vacuum.Schedule = "0 4 * * *"
		apply(t, reg, doc(vacuum))
		if got := state(reg, "db.a"); got != breaker.Closed {
			t.Fatalf("02:00, after the reload without the window: db.a %s, want closed", got)
		}
		sleepUntil(at(4, 0))
		if a, b := state(reg, "db.a"), state(reg, "db.b"); a != breaker.MetricsOnly || b != breaker.MetricsOnly {
			t.Fatalf("04:00: db.a %s, db.b %s, want metrics-only (rescheduled window)", a, b)
		}
		// A reload that changes its mode while it is active moves the guards.
		vacuum.Mode = "forced-open"
		apply(t, reg, doc(vacuum))
		if got := state(reg, "db.a"); got != breaker.ForcedOpen {
			t.Fatalf("04:10, mode changed to forced-open: db.a %s", got)
		}
		// Applying the same document again changes nothing.
		tr.take()
		apply(t, reg, doc(vacuum))
		if got := tr.take(); len(got) != 0 {
			t.Fatalf("the same document again made transitions: %q", got)
		}
		sleepUntil(at(5, 0))
		if got := state(reg, "db.a"); got != breaker.Closed {
			t.Fatalf("05:00: db.a %s, want closed", got)
		}
		want := []string{"01-01 05:00 db.a closed vacuum", "01-01 05:00 db.b closed vacuum"}
		if got := tr.take(); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("transitions: %q, want %q", got, want)
		}
		// A document without windows removes every policy window, never
		// the API's.
		apply(t, reg, doc())
		ws = s.Windows()
		if len(ws) != 1 || ws[0].Name != "api-night" || ws[0].Source != "" {
			t.Fatalf("windows after a document without any: %+v", ws)
		}
		// Nor may a document window take an API window's name, or DELETE
		// remove a document window.
		if _, err := reg.Apply(doc(core.MaintenanceWindow{Name: "api-night", Guards: []string{"db.a"}, Mode: "forced-open", Schedule: "@daily", Duration: core.Duration(time.Hour)})); err == nil || !strings.Contains(err.Error(), "maintenance[0].name") {
			t.Fatalf("a document window with an API window's name: %v", err)
		}
		apply(t, reg, doc(vacuum))
		if _, err := s.DeleteWindow(context.Background(), "vacuum", "alice"); err == nil || !strings.Contains(err.Error(), "policy document") {
			t.Fatalf("DELETE of a document window: %v", err)
		}
	})
}

// A bad window refuses the whole document, with the field's path and
// value: nothing of it is applied (not its policies, not its other
// windows), through Registry.Apply and through policy.Manager.
func TestPolicyWindowRefusedWhole(t *testing.T) {
	good := core.MaintenanceWindow{Name: "ok", Guards: []string{"db.a"}, Mode: "forced-open", Schedule: "@daily", Duration: core.Duration(time.Hour)}
	start := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		w         core.MaintenanceWindow
		path, val string
	}{
		{"malformed cron", core.MaintenanceWindow{Name: "w", Guards: []string{"db.a"}, Mode: "forced-open", Schedule: "0 25 * * *", Duration: core.Duration(time.Hour)}, "maintenance[1].schedule", `"0 25 * * *"`},
		{"bad weekday", core.MaintenanceWindow{Name: "w", Tags: []string{"db"}, Mode: "metrics-only", Schedule: "0 2 * * FUN", Duration: core.Duration(time.Hour)}, "maintenance[1].schedule", `"0 2 * * FUN"`},
		{"four fields", core.MaintenanceWindow{Name: "w", Tags: []string{"db"}, Mode: "metrics-only", Schedule: "0 2 * *", Duration: core.Duration(time.Hour)}, "maintenance[1].schedule", `"0 2 * *"`},
		{"unknown zone", core.MaintenanceWindow{Name: "w", Tags: []string{"db"}, Mode: "metrics-only", Schedule: "@daily", Duration: core.Duration(time.Hour), TimeZone: "Mars/Base"}, "maintenance[1].timeZone", `"Mars/Base"`},
		{"end before start", core.MaintenanceWindow{Name: "w", Guards: []string{"db.a"}, Mode: "forced-open", Start: start, End: start.Add(-time.Hour)}, "maintenance[1].end", `"2030-01-01T09:00:00Z"`},
		{"unknown guard", core.MaintenanceWindow{Name: "w", Guards: []string{"payments"}, Mode: "forced-open", Start: start, End: start.Add(time.Hour)}, "maintenance[1].guards[0]", `"payments"`},
		{"no duration", core.MaintenanceWindow{Name: "w", Tags: []string{"db"}, Mode: "forced-open", Schedule: "@weekly"}, "maintenance[1].duration", ""},
		{"bad mode", core.MaintenanceWindow{Name: "w", Tags: []string{"db"}, Mode: "open", Schedule: "@weekly", Duration: core.Duration(time.Hour)}, "maintenance[1].mode", `"open"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reg, err := core.NewRegistry()
			if err != nil {
				t.Fatal(err)
			}
			s, err := maintenance.Open(reg, maintenance.FollowPolicy())
			if err != nil {
				t.Fatal(err)
			}
			s.Start()
			defer s.Close()
			m, err := policy.NewManager(context.Background(), reg, policy.NewMemoryStore())
			if err != nil {
				t.Fatal(err)
			}
			d := core.Document{Policies: []core.Policy{dbPolicy, {Name: "new"}}, Maintenance: []core.MaintenanceWindow{good, c.w}}
			for _, via := range []string{"Registry.Apply", "policy.Manager"} {
				if via == "Registry.Apply" {
					_, err = reg.Apply(d)
				} else {
					_, err = m.Apply(context.Background(), d, policy.Meta{Actor: "carol", Reason: "test"})
				}
				var de *core.DocumentError
				if !errors.As(err, &de) || len(de.Problems) != 1 {
					t.Fatalf("%s: %v, want one problem", via, err)
				}
				if p := de.Problems[0]; p.Path != c.path || p.Value != c.val {
					t.Fatalf("%s: problem %+v, want path %s value %s", via, p, c.path, c.val)
				}
				if v, _ := reg.PolicyVersion(); v != 0 {
					t.Fatalf("%s: version %d is live", via, v)
				}
				if len(s.Windows()) != 0 {
					t.Fatalf("%s: windows were added: %+v", via, s.Windows())
				}
				if _, err := reg.Policy("new"); err == nil {
					t.Fatalf("%s: a policy of the refused document is live", via)
				}
			}
			if h, _ := m.History(context.Background(), 10); len(h) != 0 {
				t.Fatalf("the manager stored the refused document: %+v", h)
			}
		})
	}
}

func TestPolicyWindowsNeedAScheduler(t *testing.T) {
	reg, err := core.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.Apply(doc(core.MaintenanceWindow{Name: "w", Tags: []string{"db"}, Mode: "forced-open", Schedule: "@daily", Duration: core.Duration(time.Hour)}))
	if err == nil || !strings.Contains(err.Error(), "maintenance:") || !strings.Contains(err.Error(), "no maintenance scheduler") {
		t.Fatalf("a document with windows on a registry no scheduler follows: %v", err)
	}
	s, err := maintenance.Open(reg, maintenance.FollowPolicy())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := maintenance.Open(reg, maintenance.FollowPolicy()); err == nil {
		t.Fatal("a second scheduler followed the same registry")
	}
	s.Start()
	s.Close()
	// Closed, it follows no more.
	if _, err := reg.Apply(doc(core.MaintenanceWindow{Name: "w", Tags: []string{"db"}, Mode: "forced-open", Schedule: "@daily", Duration: core.Duration(time.Hour)})); err == nil {
		t.Fatal("a closed scheduler still follows")
	}
}

// Windows created through the API survive a restart with a FileStore; a
// one-off window that ended while the process was down is dropped; the
// policy document's windows are not stored.
func TestStoreRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "windows.json")
		open := func() (*core.Registry, *maintenance.Scheduler) {
			reg, err := core.NewRegistry(core.WithPolicies(dbPolicy))
			if err != nil {
				t.Fatal(err)
			}
			reg.MustGuard("db.a")
			s, err := maintenance.Open(reg, maintenance.WithStore(maintenance.NewFileStore(path)), maintenance.FollowPolicy())
			if err != nil {
				t.Fatal(err)
			}
			s.Start()
			t.Cleanup(s.Close)
			return reg, s
		}
		reg, s := open()
		now := time.Now()
		add(t, s, maintenance.Window{Name: "soon", Guard: "db.a", Action: "open", Start: now.Add(time.Hour), End: now.Add(2 * time.Hour), Reason: "move"})
		add(t, s, maintenance.Window{Name: "later", Guard: "db.a", Action: "open", Start: now.Add(48 * time.Hour), End: now.Add(49 * time.Hour)})
		add(t, s, maintenance.Window{Name: "nightly", Tag: "db", Action: "metrics-only", Schedule: "0 3 * * *", Duration: "30m", TimeZone: "Europe/Berlin"})
		add(t, s, maintenance.Window{Name: "gone", Tag: "db", Action: "open", Schedule: "@weekly", Duration: "1h"})
		if _, err := s.DeleteWindow(context.Background(), "gone", "alice"); err != nil {
			t.Fatal(err)
		}
		apply(t, reg, doc(core.MaintenanceWindow{Name: "doc", Tags: []string{"db"}, Mode: "forced-open", Schedule: "@monthly", Duration: core.Duration(time.Hour)}))
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), `"doc"`) || strings.Contains(string(b), `"gone"`) || !strings.Contains(string(b), `"nightly"`) {
			t.Fatalf("stored:\n%s", b)
		}
		s.Close()

		// Three hours later "soon" has ended: the restarted scheduler drops it.
		time.Sleep(3 * time.Hour)
		_, s2 := open()
		var names []string
		for _, w := range s2.Windows() {
			names = append(names, w.Name+":"+w.CreatedBy)
		}
		if got := strings.Join(names, ","); got != "nightly:alice,later:alice" {
			t.Fatalf("windows after the restart: %s", got)
		}
		b, _ = os.ReadFile(path)
		if strings.Contains(string(b), `"soon"`) {
			t.Fatalf("the ended window is still stored:\n%s", b)
		}
	})
}

func TestStoreRefusesACorruptFile(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"truncated": `{"format":"breakerbox-maintenance/1","windows":[{"name":"a"`,
		"unknown":   `{"format":"breakerbox-maintenance/1","windows":[],"extra":1}`,
		"format":    `{"format":"something-else/9","windows":[]}`,
		"invalid":   `{"format":"breakerbox-maintenance/1","windows":[{"name":"a","tag":"db","action":"open","schedule":"0 99 * * *","duration":"1h"}]}`,
	} {
		path := filepath.Join(dir, name+".json")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		reg, _ := core.NewRegistry()
		_, err := maintenance.Open(reg, maintenance.WithStore(maintenance.NewFileStore(path)))
		if err == nil {
			t.Fatalf("%s: a corrupt store was opened", name)
		}
		if name != "invalid" && !strings.Contains(err.Error(), path) {
			t.Errorf("%s: the error does not name the file: %v", name, err)
		}
		if got, _ := os.ReadFile(path); string(got) != content {
			t.Errorf("%s: the file was changed", name)
		}
	}
}

func TestWindowCounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, s, _ := following(t, nil, "db.a")
		now := time.Now()
		add(t, s, maintenance.Window{Name: "now", Guard: "db.a", Action: "open", Start: now, End: now.Add(time.Hour)})
		add(t, s, maintenance.Window{Name: "later", Guard: "db.a", Action: "open", Start: now.Add(2 * time.Hour), End: now.Add(3 * time.Hour)})
		apply(t, reg, doc(core.MaintenanceWindow{Name: "nightly", Tags: []string{"db"}, Mode: "metrics-only", Schedule: "0 5 * * *", Duration: core.Duration(time.Hour)}))
		if a, u := s.WindowCounts(); a != 1 || u != 2 {
			t.Fatalf("counts %d active, %d upcoming; want 1, 2", a, u)
		}
		if a, u := s.WindowCountsAt(now.Add(5*time.Hour + 30*time.Minute)); a != 1 || u != 0 {
			t.Fatalf("at 05:30: %d active, %d upcoming; want 1 (nightly), 0 (the one-off windows ended)", a, u)
		}
	})
}
