package maintenance_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	_ "time/tzdata" // the tests' time zones, wherever they run

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/maintenance"
	"github.com/breakerbox/breakerbox/notify"
)

// The synctest bubble's clock starts at 2000-01-01 00:00 UTC. In 2000,
// Europe/Berlin went to summer time on 26 March (02:00 CET -> 03:00 CEST)
// and back on 29 October (03:00 CEST -> 02:00 CET).

var berlin = mustLoc("Europe/Berlin")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// transitions records the state changes the scheduler makes.
type transitions struct {
	mu  sync.Mutex
	got []string
}

func (tr *transitions) hook(_ context.Context, e core.StateChange) {
	if e.Actor != maintenance.Actor {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.got = append(tr.got, e.At.UTC().Format("01-02 15:04")+" "+e.Guard+" "+e.To.String()+" "+e.Reason)
}

func (tr *transitions) take() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := tr.got
	tr.got = nil
	return out
}

func setup(t *testing.T, guards ...string) (*core.Registry, *maintenance.Scheduler, *transitions) {
	t.Helper()
	reg, err := core.NewRegistry(core.WithPolicies(core.Policy{Name: "db", Match: []string{"db.*"}, Tags: []string{"db"}}))
	if err != nil {
		t.Fatal(err)
	}
	tr := &transitions{}
	reg.AddHooks(core.Hooks{OnStateChange: tr.hook})
	for _, g := range guards {
		reg.MustGuard(g)
	}
	s := maintenance.New(reg)
	s.Start()
	t.Cleanup(s.Close)
	return reg, s, tr
}

// sleepUntil sleeps until t and lets the scheduler act.
func sleepUntil(t time.Time) {
	time.Sleep(time.Until(t))
	synctest.Wait()
}

func state(reg *core.Registry, name string) breaker.State {
	return reg.MustGuard(name).Breaker().State()
}

func add(t *testing.T, s *maintenance.Scheduler, w maintenance.Window) {
	t.Helper()
	if _, err := s.AddWindow(context.Background(), w, "alice"); err != nil {
		t.Fatal(err)
	}
}

func TestRecurringWindowAcrossDaylightSavingChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, s, tr := setup(t, "db.main")
		add(t, s, maintenance.Window{Name: "nightly", Guard: "db.main", Action: "open", Schedule: "30 2 * * *", Duration: "1h", TimeZone: "Europe/Berlin"})

		at := func(y int, m time.Month, d, h, min int, want breaker.State) {
			t.Helper()
			when := time.Date(y, m, d, h, min, 0, 0, time.UTC)
			sleepUntil(when)
			if got := state(reg, "db.main"); got != want {
				t.Fatalf("%s (%s): %s, want %s", when, when.In(berlin), got, want)
			}
		}
		// Winter time: 02:30-03:30 CET is 01:30-02:30 UTC.
		at(2000, 3, 25, 1, 29, breaker.Closed)
		at(2000, 3, 25, 1, 30, breaker.ForcedOpen)
		at(2000, 3, 25, 2, 29, breaker.ForcedOpen)
		at(2000, 3, 25, 2, 30, breaker.Closed)
		tr.take()
		// 26 March: 02:30 does not exist in Berlin; the start is skipped.
		at(2000, 3, 27, 0, 0, breaker.Closed)
		if got := tr.take(); len(got) != 0 {
			t.Fatalf("transitions on the day clocks went forward: %q", got)
		}
		// Summer time: 02:30-03:30 CEST is 00:30-01:30 UTC.
		at(2000, 3, 27, 0, 30, breaker.ForcedOpen)
		at(2000, 3, 27, 1, 30, breaker.Closed)
		tr.take()
		// 29 October: 02:30 happens twice (00:30 UTC in CEST, 01:30 UTC in
		// CET); the two occurrences meet and make one window 00:30-02:30 UTC.
		at(2000, 10, 28, 23, 0, breaker.Closed)
		tr.take()
		at(2000, 10, 29, 0, 30, breaker.ForcedOpen)
		at(2000, 10, 29, 1, 45, breaker.ForcedOpen)
		at(2000, 10, 29, 2, 30, breaker.Closed)
		want := []string{"10-29 00:30 db.main forced-open nightly", "10-29 02:30 db.main closed nightly"}
		if got := tr.take(); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("transitions on the day clocks went back:\n%q\nwant\n%q", got, want)
		}
	})
}

func TestWindowsAcrossMidnight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, s, tr := setup(t, "db.main", "db.replica")
		start := time.Date(2000, 1, 1, 23, 30, 0, 0, time.UTC)
		add(t, s, maintenance.Window{Name: "move", Guard: "db.main", Action: "open", Start: start, End: start.Add(time.Hour)})
		// @daily in Berlin starts at 00:00 CET, 23:00 UTC the day before.
		add(t, s, maintenance.Window{Name: "vacuum", Tag: "db", Action: "metrics-only", Schedule: "@daily", Duration: "15m", TimeZone: "Europe/Berlin"})

		sleepUntil(time.Date(2000, 1, 1, 23, 5, 0, 0, time.UTC))
		if state(reg, "db.replica") != breaker.MetricsOnly || state(reg, "db.main") != breaker.MetricsOnly {
			t.Fatalf("at 00:05 Berlin: %s, %s, want metrics-only", state(reg, "db.main"), state(reg, "db.replica"))
		}
		sleepUntil(time.Date(2000, 1, 1, 23, 59, 59, 0, time.UTC))
		if state(reg, "db.main") != breaker.ForcedOpen || state(reg, "db.replica") != breaker.Closed {
			t.Fatalf("at 23:59:59: %s, %s", state(reg, "db.main"), state(reg, "db.replica"))
		}
		sleepUntil(time.Date(2000, 1, 2, 0, 0, 0, 0, time.UTC))
		if state(reg, "db.main") != breaker.ForcedOpen {
			t.Fatalf("at midnight: %s", state(reg, "db.main"))
		}
		sleepUntil(time.Date(2000, 1, 2, 0, 30, 0, 0, time.UTC))
		if state(reg, "db.main") != breaker.Closed {
			t.Fatalf("at 00:30: %s", state(reg, "db.main"))
		}
		got := strings.Join(tr.take(), "|")
		want := "01-01 23:00 db.main metrics-only vacuum|01-01 23:00 db.replica metrics-only vacuum|" +
			"01-01 23:15 db.main closed vacuum|01-01 23:15 db.replica closed vacuum|" +
			"01-01 23:30 db.main forced-open move|01-02 00:30 db.main closed move"
		if got != want {
			t.Fatalf("transitions\n%s\nwant\n%s", got, want)
		}
	})
}

func TestOverlappingWindowsKeepTheGuardUntilTheLastEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, s, tr := setup(t, "db.main")
		t0 := time.Date(2000, 1, 1, 10, 0, 0, 0, time.UTC)
		add(t, s, maintenance.Window{Name: "shadow", Guard: "db.main", Action: "metrics-only", Start: t0, End: t0.Add(4 * time.Hour)})
		add(t, s, maintenance.Window{Name: "upgrade", Tag: "db", Action: "open", Start: t0.Add(time.Hour), End: t0.Add(2 * time.Hour)})
		add(t, s, maintenance.Window{Name: "upgrade2", Guard: "db.main", Action: "open", Start: t0.Add(90 * time.Minute), End: t0.Add(3 * time.Hour)})
		sleepUntil(t0.Add(5 * time.Hour))
		got := strings.Join(tr.take(), "|")
		want := "01-01 10:00 db.main metrics-only shadow|01-01 11:00 db.main forced-open upgrade|" +
			"01-01 13:00 db.main metrics-only shadow|01-01 14:00 db.main closed shadow"
		if got != want {
			t.Fatalf("transitions\n%s\nwant\n%s", got, want)
		}
		if state(reg, "db.main") != breaker.Closed {
			t.Fatal("not released")
		}
	})
}

func TestOperatorStateIsNeitherOverriddenNorReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, s, _ := setup(t, "db.main", "db.replica")
		g := reg.MustGuard("db.replica")
		g.Disable(breaker.Manual{Actor: "bob", Reason: "serve anyway"})
		t0 := time.Date(2000, 1, 1, 10, 0, 0, 0, time.UTC)
		add(t, s, maintenance.Window{Name: "upgrade", Tag: "db", Action: "open", Start: t0, End: t0.Add(2 * time.Hour)})
		sleepUntil(t0.Add(time.Minute))
		if state(reg, "db.replica") != breaker.Disabled || state(reg, "db.main") != breaker.ForcedOpen {
			t.Fatalf("%s %s", state(reg, "db.main"), state(reg, "db.replica"))
		}
		// An operator takes db.main over during the window.
		reg.MustGuard("db.main").MetricsOnly(breaker.Manual{Actor: "bob"})
		sleepUntil(t0.Add(3 * time.Hour))
		if state(reg, "db.replica") != breaker.Disabled || state(reg, "db.main") != breaker.MetricsOnly {
			t.Fatalf("after the window: %s %s, want the operators' states", state(reg, "db.main"), state(reg, "db.replica"))
		}
	})
}

func TestDeletingAnActiveWindowEndsIt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, s, _ := setup(t, "db.main")
		add(t, s, maintenance.Window{Name: "now", Guard: "db.main", Action: "open", Start: time.Now(), End: time.Now().Add(time.Hour)})
		if state(reg, "db.main") != breaker.ForcedOpen {
			t.Fatal("a window active now did not take effect when added")
		}
		if _, err := s.DeleteWindow(context.Background(), "now", "alice"); err != nil {
			t.Fatal(err)
		}
		if state(reg, "db.main") != breaker.Closed {
			t.Fatal("deleting the active window did not end it")
		}
		if _, err := s.DeleteWindow(context.Background(), "now", "alice"); !errors.Is(err, admin.ErrUnknownWindow) {
			t.Fatalf("second delete: %v", err)
		}
	})
}

func TestWindowStartAndEndAreNotified(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, s, _ := setup(t, "db.main")
		ch := &collect{}
		n, err := notify.New(reg, notify.WithChannel("c", ch), notify.WithRules(notify.Rule{Name: "all", Channels: []string{"c"}}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = n.Run(ctx); close(done) }()
		t0 := time.Date(2000, 1, 1, 10, 0, 0, 0, time.UTC)
		add(t, s, maintenance.Window{Name: "upgrade", Guard: "db.main", Action: "open", Start: t0, End: t0.Add(time.Hour)})
		sleepUntil(t0.Add(2 * time.Hour))
		stop()
		<-done
		got := strings.Join(ch.take(), "|")
		if got != "forced-open maintenance upgrade|resolved maintenance upgrade" {
			t.Fatalf("notifications: %s", got)
		}
	})
}

type collect struct {
	mu  sync.Mutex
	got []string
}

func (c *collect) Send(_ context.Context, e *notify.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, string(e.Type)+" "+e.Actor+" "+e.Reason)
	return nil
}

func (c *collect) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got
}

func TestBadWindowsRefusedWithFieldAndValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, s, _ := setup(t, "db.main")
		now := time.Now()
		for _, c := range []struct {
			w            maintenance.Window
			field, value string
		}{
			{maintenance.Window{Name: "a", Guard: "db.main", Action: "open", Schedule: "61 * * * *", Duration: "1h"}, "schedule", `"61 * * * *"`},
			{maintenance.Window{Name: "a", Guard: "db.main", Action: "open", Schedule: "@daily", Duration: "1h", TimeZone: "Mars/Olympus"}, "timeZone", `"Mars/Olympus"`},
			{maintenance.Window{Name: "a", Guard: "db.main", Action: "open", Start: now.Add(2 * time.Hour), End: now.Add(time.Hour)}, "end", now.Add(time.Hour).Format(time.RFC3339)},
			{maintenance.Window{Name: "a", Guard: "db.nope", Action: "open", Start: now, End: now.Add(time.Hour)}, "guard", `"db.nope"`},
			{maintenance.Window{Name: "a", Guard: "db.main", Action: "close", Start: now, End: now.Add(time.Hour)}, "action", `"close"`},
			{maintenance.Window{Name: "a", Guard: "db.main", Action: "open", Schedule: "@every 1h", Duration: "1h"}, "schedule", `"@every 1h"`},
			{maintenance.Window{Name: "a", Guard: "db.main", Action: "open", Schedule: "@daily", Duration: "soon"}, "duration", `"soon"`},
			{maintenance.Window{Name: "a b", Guard: "db.main", Action: "open", Start: now, End: now.Add(time.Hour)}, "name", `"a b"`},
		} {
			_, err := s.AddWindow(context.Background(), c.w, "alice")
			var we *admin.WindowError
			if !errors.As(err, &we) || we.Field != c.field || we.Value != c.value {
				t.Errorf("%+v: err = %v, want field %s value %s", c.w, err, c.field, c.value)
			}
		}
		if ws := s.Windows(); len(ws) != 0 {
			t.Fatalf("a refused window was scheduled: %+v", ws)
		}
	})
}
