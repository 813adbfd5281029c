// Package maintenance schedules maintenance windows for the guards of a
// core.Registry: periods during which guards are forced open, or put in
// metrics-only mode, by name or by tag. A window is a one-off range (Start,
// End) or recurs on a schedule (a five-field cron expression or a
// descriptor such as "@daily", parsed by github.com/robfig/cron/v3) for a
// Duration, in an IANA time zone.
//
// It is a module of its own so that the root module stays free of the
// cron parser. A Scheduler implements admin.Maintenance: give it to
// admin.WithMaintenance to serve GET, POST /v1/maintenance and DELETE
// /v1/maintenance/{name} (and `breakerctl maintenance`).
//
// # What a window does
//
// When a window starts, its guards are forced open (action "open") or put
// in metrics-only mode ("metrics-only") with actor "maintenance" and the
// window's name as the reason; when it ends they are released, with the
// same actor and reason. These are ordinary state changes: the registry's
// hooks see them, so package notify sends a notification at the start and
// at the end of every window, and the admin API's history and event stream
// show them.
//
// # Overlaps, operators and new guards
//
// The scheduler is level-triggered: at every start or end (and every
// minute while a tag window is active, for guards created since), it works
// out for each guard what the windows active now want, and moves the guard
// there. So:
//
//   - Overlapping windows on one guard: the guard stays in maintenance
//     until the last of them ends; "open" wins over "metrics-only" while
//     both are active (an open window starting inside a metrics-only one
//     forces the guard open; when it ends the guard goes back to
//     metrics-only until that window ends too).
//   - A guard already in a manual state (an operator's forced open,
//     disabled, metrics-only) when a window starts is left alone, and so is
//     a guard an operator changes while a window holds it: the scheduler
//     releases only a guard still in the state it put it in, and takes it
//     up again only at a later window.
//   - A guard that does not exist when a tag window starts is taken in at
//     the next check (within a minute).
//
// A late wake-up (a busy machine, a suspended process) changes nothing but
// the moment: the states are worked out from the clock, not from the
// events missed.
//
// # Time zones and daylight saving
//
// A recurring window's schedule is read in its time zone (default UTC),
// as the cron library reads it: on the day clocks go forward, a start at a
// wall-clock time that does not exist (02:30 in Europe/Berlin on the last
// Sunday of March) is skipped; on the day clocks go back, a start at a
// time that occurs twice (02:30 on the last Sunday of October) starts the
// window at both, and occurrences that overlap merge into one. Duration
// is elapsed time: a two-hour window from 01:00 on the day clocks go
// forward ends at 04:00 wall-clock time. Midnight is an ordinary minute
// ("@daily" starts at 00:00 of the time zone). The time zone database
// comes from the system; a program run where there is none imports
// time/tzdata.
//
// # Windows of the policy document
//
// A policy document may declare windows too (the maintenance section of
// core.Document). A scheduler opened with FollowPolicy follows the
// registry's documents (core.Registry.Follow): it checks their windows
// fully (the cron expression included) before anything of a document is
// applied, so a document with a malformed window is refused whole with the
// field's path and value; and after each apply it replaces the windows of
// the previous document with the new document's. The rule: the windows
// whose source is the policy document belong to the document alone — a
// window the new document no longer has ends (its guards are released), a
// changed one is rescheduled, an unchanged one goes on — and the windows
// created through the API or the CLI are never touched by a document. A
// document window's name may not be that of an API window, nor the other
// way round; DELETE refuses a document window (apply a document without
// it). Document windows are not stored (the document is).
//
// # Persistence
//
// Without a Store, windows are kept in memory: a restarted process has
// none until they are added again. WithStore keeps the windows created
// through the API or the CLI in a Store (FileStore: a JSON file written
// atomically): Open loads them, dropping the one-off windows that ended
// while the process was down, and every add and delete is written before
// it takes effect.
package maintenance

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
	"github.com/breakerbox/breakerbox/maintenance/schedule"
	"github.com/robfig/cron/v3"
)

// Actor is the actor of the state changes the scheduler makes
// (core.MaintenanceActor).
const Actor = core.MaintenanceActor

// SourcePolicy is Window.Source for a window of the policy document.
const SourcePolicy = "policy"

// MaxDuration is the longest a window may last.
const MaxDuration = 366 * 24 * time.Hour

// recheck is how often the scheduler looks again while a tag window is
// active, for guards created since.
const recheck = time.Minute

// Window is admin.MaintenanceWindow (wire.MaintenanceWindow).
type Window = admin.MaintenanceWindow

// Scheduler drives a registry's guards by maintenance windows. Create one
// with New, start it with Start and stop it with Close. It is safe for
// concurrent use.
type Scheduler struct {
	reg     *core.Registry
	wake    chan struct{} // a window was added or deleted: plan again
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	started atomic.Bool // Start was called: Close waits for done

	mu         sync.Mutex // guards windows, polVersion; serialises the store's writes
	windows    map[string]*window
	polVersion uint64 // the newest policy document version given (policy.go)
	store      Store  // WithStore; nil keeps windows in memory
	unfollow   func() // FollowPolicy; nil when not following
	follow     bool   // FollowPolicy given to Open

	recMu   sync.Mutex               // serialises reconcile; guards the fields below
	applied map[string]breaker.State // guards in the state the scheduler put them in
	owner   map[string]string        // the window that put each applied guard there
	yielded map[string]bool          // guards left to an operator while windows want them
}

type window struct {
	w      Window // normalised, status fields zero
	sched  cron.Schedule
	dur    time.Duration
	loc    *time.Location
	guards []string // the guards and tags it selects
	tags   []string
}

// New returns a scheduler of reg with no windows, not started.
func New(reg *core.Registry) *Scheduler {
	return &Scheduler{
		reg: reg, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		windows: map[string]*window{}, applied: map[string]breaker.State{}, owner: map[string]string{}, yielded: map[string]bool{},
	}
}

// Start starts the goroutine that starts and ends windows on time. Windows
// added before Start take effect at Start.
func (s *Scheduler) Start() {
	s.started.Store(true)
	go s.run()
}

// Close stops the scheduler's goroutine and waits for it, and stops
// following the policy documents; guards in a window stay as they are. It
// may be called more than once.
func (s *Scheduler) Close() {
	s.once.Do(func() {
		close(s.stop)
		if s.unfollow != nil {
			s.unfollow()
		}
	})
	if s.started.Load() {
		<-s.done
	}
}

func (s *Scheduler) run() {
	defer close(s.done)
	for {
		next := s.ReconcileAt(time.Now())
		var timer <-chan time.Time
		var t *time.Timer
		if !next.IsZero() {
			t = time.NewTimer(time.Until(next))
			timer = t.C
		}
		select {
		case <-s.stop:
			stopTimer(t)
			return
		case <-s.wake:
		case <-timer:
		}
		stopTimer(t)
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func bad(field, value, msg string) error {
	return &admin.WindowError{Field: field, Value: value, Message: msg}
}

// checkMode says where a window to check comes from.
type checkMode uint8

const (
	fromAPI    checkMode = iota // AddWindow: every check
	fromStore                   // Open: its guard may come later; it may have ended
	fromPolicy                  // the policy document: core checked its names
)

// check validates w at now and returns it ready to schedule, or every
// problem as *admin.WindowError values joined.
func (s *Scheduler) check(w Window, now time.Time, mode checkMode) (*window, error) {
	var errs []error
	add := func(e error) { errs = append(errs, e) }
	w.Active, w.From, w.Until = false, time.Time{}, time.Time{}
	if mode != fromPolicy {
		w.Source, w.PolicyVersion = "", 0
		if mode == fromAPI {
			w.CreatedBy = ""
		}
	}
	if !nameRE.MatchString(w.Name) {
		add(bad("name", fmt.Sprintf("%q", w.Name), "must be 1 to 64 letters, digits, '.', '_' or '-'"))
	}
	out := &window{}
	if mode == fromPolicy {
		out.guards, out.tags = slices.Clone(w.Guards), slices.Clone(w.Tags)
	} else {
		if len(w.Guards) > 0 || len(w.Tags) > 0 {
			add(bad("guards", fmt.Sprintf("%q", strings.Join(append(slices.Clone(w.Guards), w.Tags...), ",")), "lists of guards and tags belong to windows of the policy document; give one guard or one tag"))
		}
		switch {
		case (w.Guard == "") == (w.Tag == ""):
			add(bad("guard", fmt.Sprintf("%q", w.Guard), fmt.Sprintf("give a guard or a tag, not both or neither (tag %q)", w.Tag)))
		case w.Guard != "":
			if _, ok := s.reg.Lookup(w.Guard); !ok && mode == fromAPI {
				add(bad("guard", fmt.Sprintf("%q", w.Guard), fmt.Sprintf("no guard is called %q", w.Guard)))
			}
			out.guards = []string{w.Guard}
		default:
			out.tags = []string{w.Tag}
		}
	}
	switch w.Action {
	case wire.MaintenanceOpen, wire.MaintenanceMetricsOnly:
	default:
		add(bad("action", fmt.Sprintf("%q", w.Action), `must be "open" or "metrics-only"`))
	}
	if w.Schedule == "" {
		switch {
		case w.Start.IsZero():
			add(bad("start", "", "is required for a one-off window (or give a schedule)"))
		case w.End.IsZero():
			add(bad("end", "", "is required for a one-off window"))
		case !w.End.After(w.Start):
			add(bad("end", w.End.Format(time.RFC3339), "ends before it starts, at "+w.Start.Format(time.RFC3339)))
		case !w.End.After(now) && mode == fromAPI:
			add(bad("end", w.End.Format(time.RFC3339), "is not in the future"))
		case w.End.Sub(w.Start) > MaxDuration:
			add(bad("end", w.End.Format(time.RFC3339), "the window would last longer than 366 days"))
		}
		if w.Duration != "" || w.TimeZone != "" {
			add(bad("duration", w.Duration, "duration and timeZone belong to a recurring window (with a schedule)"))
		}
	} else {
		if !w.Start.IsZero() || !w.End.IsZero() {
			add(bad("start", w.Start.Format(time.RFC3339), "a recurring window (with a schedule) has no start or end; give a duration"))
		}
		if w.TimeZone == "" {
			w.TimeZone = "UTC"
		}
		loc, err := schedule.Zone(w.TimeZone)
		if err != nil {
			add(bad("timeZone", fmt.Sprintf("%q", w.TimeZone), err.Error()))
		}
		out.loc = loc
		switch spec, err := schedule.Parse(w.Schedule, loc, now); {
		case err != nil:
			add(bad("schedule", fmt.Sprintf("%q", w.Schedule), err.Error()))
		default:
			out.sched = spec
		}
		d, err := time.ParseDuration(w.Duration)
		switch {
		case w.Duration == "":
			add(bad("duration", "", "is required for a recurring window, such as \"2h\""))
		case err != nil:
			add(bad("duration", fmt.Sprintf("%q", w.Duration), "is not a duration such as \"2h\" or \"30m\""))
		case d <= 0 || d > MaxDuration:
			add(bad("duration", fmt.Sprintf("%q", w.Duration), "must be above zero and at most 366 days"))
		}
		out.dur = d
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out.w = w
	return out, nil
}

// occurrence returns whether w is active at now, and the bounds of the
// occurrence in force (or of the next; zero when there is none).
func (w *window) occurrence(now time.Time) (active bool, from, until time.Time) {
	if w.sched == nil {
		if now.Before(w.w.End) {
			return !now.Before(w.w.Start), w.w.Start, w.w.End
		}
		return false, time.Time{}, time.Time{}
	}
	first := w.sched.Next(now.Add(-w.dur))
	if first.IsZero() {
		return false, time.Time{}, time.Time{}
	}
	if first.After(now) {
		return false, first, first.Add(w.dur)
	}
	// Active: occurrences that start before this one ends extend it.
	until = first.Add(w.dur)
	for range 10000 {
		n := w.sched.Next(until.Add(-w.dur))
		if n.IsZero() || !n.Before(until) || !n.Add(w.dur).After(until) {
			break
		}
		until = n.Add(w.dur)
	}
	return true, first, until
}

// AddWindow checks w and schedules it, created by actor; it implements
// admin.Maintenance. A window active now takes effect before it returns.
func (s *Scheduler) AddWindow(ctx context.Context, w Window, actor string) (Window, error) {
	now := time.Now()
	win, err := s.check(w, now, fromAPI)
	if err != nil {
		return Window{}, err
	}
	win.w.CreatedBy = actor
	s.mu.Lock()
	if old, dup := s.windows[win.w.Name]; dup {
		s.mu.Unlock()
		if old.w.Source == SourcePolicy {
			return Window{}, bad("name", fmt.Sprintf("%q", w.Name), fmt.Sprintf("a window of the policy document (version %d) has that name", old.w.PolicyVersion))
		}
		return Window{}, bad("name", fmt.Sprintf("%q", w.Name), "a window of that name exists; delete it first")
	}
	s.windows[win.w.Name] = win
	if err := s.saveLocked(ctx); err != nil { // store.go
		delete(s.windows, win.w.Name)
		s.mu.Unlock()
		return Window{}, err
	}
	s.mu.Unlock()
	s.ReconcileAt(now)
	s.poke()
	return status(win, now), nil
}

// DeleteWindow removes the named window, ending it first when it is active;
// it implements admin.Maintenance.
func (s *Scheduler) DeleteWindow(ctx context.Context, name, _ string) (Window, error) {
	now := time.Now()
	s.mu.Lock()
	win, ok := s.windows[name]
	if !ok {
		s.mu.Unlock()
		return Window{}, fmt.Errorf("%w %q", admin.ErrUnknownWindow, name)
	}
	if win.w.Source == SourcePolicy {
		s.mu.Unlock()
		return Window{}, bad("name", fmt.Sprintf("%q", name), fmt.Sprintf("the window comes from the policy document (version %d): apply a document without it", win.w.PolicyVersion))
	}
	delete(s.windows, name)
	if err := s.saveLocked(ctx); err != nil { // store.go
		s.windows[name] = win
		s.mu.Unlock()
		return Window{}, err
	}
	s.mu.Unlock()
	s.ReconcileAt(now)
	s.poke()
	return status(win, now), nil
}

// Windows returns every window with its status now, active ones first, then
// by the start of their next occurrence, then by name; it implements
// admin.Maintenance.
func (s *Scheduler) Windows() []Window { return s.WindowsAt(time.Now()) }

// WindowsAt is Windows at the explicit time now.
func (s *Scheduler) WindowsAt(now time.Time) []Window {
	s.mu.Lock()
	out := make([]Window, 0, len(s.windows))
	for _, w := range s.windows {
		out = append(out, status(w, now))
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b Window) int {
		switch {
		case a.Active != b.Active:
			if a.Active {
				return -1
			}
			return 1
		case !a.From.Equal(b.From):
			if a.From.IsZero() || !b.From.IsZero() && b.From.Before(a.From) {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// WindowCounts returns how many windows are active now and how many will
// start later (a one-off window that has ended is neither); it implements
// metrics.WindowCounter, for the exporters' WithWindows options.
func (s *Scheduler) WindowCounts() (active, upcoming int) { return s.WindowCountsAt(time.Now()) }

// WindowCountsAt is WindowCounts at the explicit time now.
func (s *Scheduler) WindowCountsAt(now time.Time) (active, upcoming int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.windows {
		a, from, _ := w.occurrence(now)
		switch {
		case a:
			active++
		case !from.IsZero():
			upcoming++
		}
	}
	return active, upcoming
}

func status(w *window, now time.Time) Window {
	out := w.w
	out.Active, out.From, out.Until = w.occurrence(now)
	return out
}

// ReconcileAt moves every guard to the state the windows active at now
// want (see the package documentation), and returns when it should run
// next (zero: no window will start or end). The scheduler's goroutine calls
// it at every start and end; tests and simulations call it with explicit
// times.
func (s *Scheduler) ReconcileAt(now time.Time) time.Time {
	type want struct {
		state  breaker.State
		window string
	}
	wants := map[string]want{}
	var next time.Time
	soon := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	s.mu.Lock()
	names := make([]string, 0, len(s.windows))
	for n := range s.windows {
		names = append(names, n)
	}
	slices.Sort(names)
	wins := make([]*window, len(names))
	for i, n := range names {
		wins[i] = s.windows[n]
	}
	s.mu.Unlock()
	for _, w := range wins {
		active, from, until := w.occurrence(now)
		if !active {
			soon(from)
			continue
		}
		soon(until)
		if len(w.tags) > 0 || w.w.Source == SourcePolicy {
			// Guards created since (a tag's, or a document's guard that
			// had no call yet) are taken in at the next check.
			soon(now.Add(recheck))
		}
		st := breaker.ForcedOpen
		if w.w.Action == wire.MaintenanceMetricsOnly {
			st = breaker.MetricsOnly
		}
		sels := make([]core.Selector, 0, len(w.guards)+len(w.tags))
		for _, g := range w.guards {
			sels = append(sels, core.Name(g))
		}
		for _, t := range w.tags {
			sels = append(sels, core.Tag(t))
		}
		for _, sel := range sels {
			gs, _ := s.reg.Guards(sel) // a guard pruned since: nothing to do
			for _, g := range gs {
				if cur, ok := wants[g.Name()]; !ok || cur.state == breaker.MetricsOnly && st == breaker.ForcedOpen {
					wants[g.Name()] = want{st, w.w.Name}
				}
			}
		}
	}

	s.recMu.Lock()
	defer s.recMu.Unlock()
	guards := make([]string, 0, len(wants)+len(s.applied))
	for g := range wants {
		guards = append(guards, g)
	}
	for g := range s.applied {
		if _, ok := wants[g]; !ok {
			guards = append(guards, g)
		}
	}
	for g := range s.yielded {
		if _, ok := wants[g]; !ok {
			delete(s.yielded, g)
		}
	}
	slices.Sort(guards)
	for _, name := range guards {
		g, ok := s.reg.Lookup(name)
		if !ok {
			delete(s.applied, name)
			delete(s.owner, name)
			continue
		}
		cur := g.Breaker().State()
		a, had := s.applied[name]
		if had && cur != a { // an operator (or something else) took it over
			delete(s.applied, name)
			delete(s.owner, name)
			s.yielded[name] = true
			had = false
		}
		w, wanted := wants[name]
		switch {
		case !wanted:
			if had {
				g.Release(breaker.Manual{Actor: Actor, Reason: s.owner[name]})
				delete(s.applied, name)
				delete(s.owner, name)
			}
		case s.yielded[name], had && a == w.state:
		case !had && cur.Manual():
			s.yielded[name] = true // an operator's manual state stands
		default:
			m := breaker.Manual{Actor: Actor, Reason: w.window}
			if w.state == breaker.ForcedOpen {
				g.ForceOpen(m)
			} else {
				g.MetricsOnly(m)
			}
			s.applied[name], s.owner[name] = w.state, w.window
		}
	}
	return next
}

var _ admin.Maintenance = (*Scheduler)(nil)
