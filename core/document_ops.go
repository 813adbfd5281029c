package core

// The operations sections of a policy document (issue #23): maintenance
// windows and chaos experiments, declared with the policies and applied
// with them.
//
// The root module checks what it can without a cron parser or a chaos
// injector: required fields, enums, ranges, time zones, one-off ranges,
// the guards named, and that the registry can carry the section out at
// all. What needs more is checked by the section's follower (see
// DocumentFollower): package maintenance parses the cron expressions,
// package chaos applies its injector's safety limits. Both kinds of check
// run in Registry.Check and at the start of Registry.Apply, before
// anything changes: a document with one bad window or experiment is
// refused whole, with the field's path and value, and nothing of it is
// applied.

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MaintenanceActor is the actor of the state changes maintenance windows
// make (package maintenance uses it); metrics read it from a guard's last
// transition.
const MaintenanceActor = "maintenance"

// Maintenance window modes (MaintenanceWindow.Mode).
const (
	// MaintenanceForcedOpen forces the window's guards open.
	MaintenanceForcedOpen = "forced-open"
	// MaintenanceMetricsOnly puts the window's guards in metrics-only mode.
	MaintenanceMetricsOnly = "metrics-only"
)

// MaintenanceWindow is a maintenance window of a policy document: while it
// is in force its guards are forced open or put in metrics-only mode. It
// is a one-off range (start and end) or recurs on a schedule (a five-field
// cron expression or a descriptor such as "@daily") for a duration, in an
// IANA time zone. Package maintenance carries it out (its scheduler must
// follow the registry); the registry refuses a document with windows
// otherwise.
type MaintenanceWindow struct {
	// Name identifies the window: 1 to 64 letters, digits, '.', '_' or
	// '-', unique among the document's windows and the windows created
	// through the API.
	Name string `json:"name"`
	// Guards names the guards the window holds; Tags selects every guard
	// with one of the tags, guards created later included. Give at least
	// one guard or tag.
	Guards []string `json:"guards,omitempty"`
	Tags   []string `json:"tags,omitempty"`
	// Mode is "forced-open" or "metrics-only".
	Mode string `json:"mode"`
	// Start and End bound a one-off window (RFC 3339 times, such as
	// "2026-12-24T22:00:00Z"). A window that has ended does nothing.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`
	// Schedule is when a recurring window starts: a five-field cron
	// expression ("0 2 * * SUN") or a descriptor (@hourly, @daily,
	// @weekly, @monthly, @yearly), read in TimeZone.
	Schedule string `json:"schedule,omitempty"`
	// Duration is how long each occurrence of a recurring window lasts,
	// such as "2h" (at most 366 days).
	Duration Duration `json:"duration,omitempty"`
	// TimeZone is the IANA time zone of Schedule, such as "Europe/Berlin";
	// default "UTC".
	TimeZone string `json:"timeZone,omitempty"`
	// Reason says why, for the guards' transitions.
	Reason string `json:"reason,omitempty"`
}

// Chaos experiment faults (ChaosExperiment.Fault), as package chaos names
// them.
var ChaosFaults = []string{"error", "latency", "reject", "trip"}

// ChaosExperiment is a chaos experiment of a policy document (see package
// chaos): a fault injected into a share of the calls of some guards until
// an end time. The registry must be built with WithChaos; it refuses a
// document with experiments otherwise. An experiment starts when the
// document that adds or changes it is applied, runs until its end, and is
// stopped by a document that removes it; applying the document again
// unchanged neither restarts nor stops it.
type ChaosExperiment struct {
	// ID names the experiment: 1 to 64 letters, digits, '.', '_' or '-',
	// unique in the document; "exp-" and a number is the injector's
	// numbering of API experiments, refused here.
	ID string `json:"id"`
	// Fault is "error", "latency", "reject" or "trip".
	Fault string `json:"fault"`
	// Rate is the share of the calls in scope that get the fault, above 0
	// and at most 1; a trip ignores it.
	Rate float64 `json:"rate,omitempty"`
	// Latency is the delay a latency fault adds, such as "200ms".
	Latency Duration `json:"latency,omitempty"`
	// Message is the error message of an error fault.
	Message string `json:"message,omitempty"`
	// Guards and Tags scope the experiment; with neither, every guard of
	// the registry (but the excluded and critical ones) is in scope.
	Guards []string `json:"guards,omitempty"`
	Tags   []string `json:"tags,omitempty"`
	// Tenants limits the faults to calls for these tenant keys.
	Tenants []string `json:"tenants,omitempty"`
	// Percent keeps that share (0-100) of the guards in scope.
	Percent float64 `json:"percent,omitempty"`
	// Trips is how many guards a trip opens (default 1).
	Trips int `json:"trips,omitempty"`
	// AllowCritical lets the experiment touch critical guards.
	AllowCritical bool `json:"allowCritical,omitempty"`
	// Ends is when the experiment stops (an RFC 3339 time); or give
	// Duration, counted from the apply that starts it. One of the two is
	// required. An experiment whose end has passed does nothing.
	Ends     time.Time `json:"ends,omitzero"`
	Duration Duration  `json:"duration,omitempty"`
	// Reason says why, for the audit log.
	Reason string `json:"reason,omitempty"`
}

// DocumentFollower carries out one operations section of the policy
// documents a registry applies ("maintenance" or "chaos"): package
// maintenance's scheduler follows the maintenance windows, package chaos's
// injector the experiments. Register one with Registry.Follow.
type DocumentFollower interface {
	// Section is the document key it follows: "maintenance" or "chaos".
	Section() string
	// CheckDocument returns the problems of doc's section that the core
	// cannot see (a cron expression that does not parse, a limit of the
	// follower), each with its Path ("maintenance[2].schedule") and
	// Value, at the time now. Registry.Check and Registry.Apply call it
	// before they change anything; it must not change anything itself.
	CheckDocument(doc Document, now time.Time) []Problem
	// DocumentApplied is called after Apply made doc live (outside the
	// registry's lock), and once by Follow with the live document. The
	// follower makes its section's state what doc says, replacing what the
	// previous document said. Calls for one registry may overlap when
	// Applies do: a follower ignores a version older than one it has seen.
	DocumentApplied(doc Document, a AppliedDocument)
}

// AppliedDocument says which document version a follower is given.
type AppliedDocument struct {
	// Version and Hash are the document's (see Registry.PolicyVersion);
	// Version is 0 before the first Apply.
	Version uint64
	Hash    string
	// Actor applied it (AppliedBy); "policy" when Apply was not told.
	Actor string
	// At is when it was applied.
	At time.Time
}

// PolicyActor is AppliedDocument.Actor when Apply was not given one.
const PolicyActor = "policy"

// AppliedBy names the actor that applies the document (package policy
// passes its Meta.Actor): the followers record changes they make under
// that name, such as a chaos experiment's actor in the audit log.
func AppliedBy(actor string) ApplyOption {
	return applyOptionFunc(func(c *applyConfig) { c.actor = actor })
}

// followers is the followers of a registry, by section.
type followers struct {
	mu   sync.Mutex // serialises Follow and unfollow
	list []DocumentFollower
}

func (fs *followers) snapshot() []DocumentFollower {
	if fs == nil {
		return nil
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return slices.Clone(fs.list)
}

func (fs *followers) has(section string) bool {
	return slices.ContainsFunc(fs.snapshot(), func(f DocumentFollower) bool { return f.Section() == section })
}

// Follow registers f to check and carry out its section of every document
// the registry applies, and gives it the live document at once. A section
// has one follower at a time: Follow fails for a second. unfollow
// removes f; documents with its section are refused from then on.
func (r *Registry) Follow(f DocumentFollower) (unfollow func(), err error) {
	if f == nil {
		return nil, fmt.Errorf("core: Follow: the follower must not be nil")
	}
	sec := f.Section()
	if sec != "maintenance" && sec != "chaos" {
		return nil, fmt.Errorf("core: Follow: section %q is not \"maintenance\" or \"chaos\"", sec)
	}
	fs := r.followers
	fs.mu.Lock()
	if slices.ContainsFunc(fs.list, func(g DocumentFollower) bool { return g.Section() == sec }) {
		fs.mu.Unlock()
		return nil, fmt.Errorf("core: Follow: the %s section has a follower already", sec)
	}
	fs.list = append(fs.list, f)
	fs.mu.Unlock()
	r.mu.Lock()
	doc, a := r.doc, AppliedDocument{Version: r.version, Hash: r.hash, Actor: r.appliedBy, At: r.appliedAt}
	r.mu.Unlock()
	if a.Actor == "" {
		a.Actor = PolicyActor
	}
	f.DocumentApplied(doc, a)
	var once sync.Once
	return func() {
		once.Do(func() {
			fs.mu.Lock()
			fs.list = slices.DeleteFunc(fs.list, func(g DocumentFollower) bool { return g == f })
			fs.mu.Unlock()
		})
	}, nil
}

// notifyFollowers gives every follower the document just applied.
func (r *Registry) notifyFollowers(doc Document, a AppliedDocument) {
	for _, f := range r.followers.snapshot() {
		f.DocumentApplied(doc, a)
	}
}

var (
	opsNameRE  = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)
	injectorID = regexp.MustCompile(`^exp-[0-9]+$`) // package chaos numbers API experiments so
)

// maxWindow is the longest a maintenance window may last, as package
// maintenance allows.
const maxWindow = 366 * 24 * time.Hour

var cronDescriptors = []string{"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}

// checkOps checks the maintenance and chaos sections on their own.
func checkOps(doc Document) []Problem {
	var probs []Problem
	add := func(path, value, msg string) {
		probs = append(probs, Problem{Path: path, Value: value, Message: msg})
	}
	seen := map[string]int{}
	for i, w := range doc.Maintenance {
		p := "maintenance[" + strconv.Itoa(i) + "]"
		switch j, dup := seen[w.Name]; {
		case !opsNameRE.MatchString(w.Name):
			add(p+".name", strconv.Quote(w.Name), "must be 1 to 64 letters, digits, '.', '_' or '-'")
		case dup:
			add(p+".name", strconv.Quote(w.Name), fmt.Sprintf("duplicate window name %q (maintenance[%d] has it already)", w.Name, j))
		default:
			seen[w.Name] = i
		}
		if len(w.Guards) == 0 && len(w.Tags) == 0 {
			add(p+".guards", "", "give at least one guard or tag (guards, tags)")
		}
		probs = append(probs, checkNames(p+".guards", w.Guards)...)
		probs = append(probs, checkNames(p+".tags", w.Tags)...)
		switch w.Mode {
		case MaintenanceForcedOpen, MaintenanceMetricsOnly:
		case "":
			add(p+".mode", "", `is required: "forced-open" or "metrics-only"`)
		default:
			add(p+".mode", strconv.Quote(w.Mode), `must be "forced-open" or "metrics-only"`)
		}
		if w.Schedule == "" {
			switch {
			case w.Start.IsZero() && w.End.IsZero():
				add(p+".schedule", "", "give a schedule (with a duration) for a recurring window, or a start and an end for a one-off one")
			case w.Start.IsZero():
				add(p+".start", "", "is required for a one-off window (or give a schedule)")
			case w.End.IsZero():
				add(p+".end", "", "is required for a one-off window")
			case !w.End.After(w.Start):
				add(p+".end", strconv.Quote(w.End.Format(time.RFC3339)), "ends before it starts, at "+w.Start.Format(time.RFC3339))
			case w.End.Sub(w.Start) > maxWindow:
				add(p+".end", strconv.Quote(w.End.Format(time.RFC3339)), "the window would last longer than 366 days")
			}
			if w.Duration != 0 {
				add(p+".duration", strconv.Quote(w.Duration.String()), "belongs to a recurring window (with a schedule); a one-off window has an end")
			}
			if w.TimeZone != "" {
				add(p+".timeZone", strconv.Quote(w.TimeZone), "belongs to a recurring window (with a schedule); a one-off window's start and end carry their offsets")
			}
			continue
		}
		if !w.Start.IsZero() || !w.End.IsZero() {
			add(p+".start", "", "a recurring window (with a schedule) has no start or end; give a duration")
		}
		if msg := cronShape(w.Schedule); msg != "" {
			add(p+".schedule", strconv.Quote(w.Schedule), msg)
		}
		switch d := time.Duration(w.Duration); {
		case d == 0:
			add(p+".duration", "", `is required for a recurring window, such as "2h"`)
		case d < 0 || d > maxWindow:
			add(p+".duration", strconv.Quote(w.Duration.String()), "must be above zero and at most 366 days")
		}
		if w.TimeZone != "" {
			if _, err := time.LoadLocation(w.TimeZone); err != nil || w.TimeZone == "Local" {
				add(p+".timeZone", strconv.Quote(w.TimeZone), `is not an IANA time zone such as "Europe/Berlin"`)
			}
		}
	}
	ids := map[string]int{}
	for i, e := range doc.Chaos {
		p := "chaos[" + strconv.Itoa(i) + "]"
		switch j, dup := ids[e.ID]; {
		case !opsNameRE.MatchString(e.ID):
			add(p+".id", strconv.Quote(e.ID), "must be 1 to 64 letters, digits, '.', '_' or '-'")
		case injectorID.MatchString(e.ID):
			add(p+".id", strconv.Quote(e.ID), `ids "exp-" and a number are the injector's, for experiments started through the API; name it otherwise`)
		case dup:
			add(p+".id", strconv.Quote(e.ID), fmt.Sprintf("duplicate experiment id %q (chaos[%d] has it already)", e.ID, j))
		default:
			ids[e.ID] = i
		}
		if !slices.Contains(ChaosFaults, e.Fault) {
			add(p+".fault", strconv.Quote(e.Fault), "must be one of error, latency, reject, trip")
		}
		if e.Fault != "trip" {
			switch {
			case math.IsNaN(e.Rate) || e.Rate <= 0:
				add(p+".rate", strconv.FormatFloat(e.Rate, 'g', -1, 64), "must be above 0 and at most 1 (a share of calls)")
			case e.Rate > 1:
				add(p+".rate", strconv.FormatFloat(e.Rate, 'g', -1, 64), "is above 1 (a rate is a share of calls, from 0 to 1)")
			}
		}
		switch {
		case e.Fault == "latency" && e.Latency == 0:
			add(p+".latency", "", `is required for a latency fault, such as "200ms"`)
		case e.Fault == "latency" && e.Latency < 0:
			add(p+".latency", strconv.Quote(e.Latency.String()), `must be positive for a latency fault, such as "200ms"`)
		}
		if e.Latency < 0 && e.Fault != "latency" {
			add(p+".latency", strconv.Quote(e.Latency.String()), "must not be negative")
		}
		if math.IsNaN(e.Percent) || e.Percent < 0 || e.Percent > 100 {
			add(p+".percent", strconv.FormatFloat(e.Percent, 'g', -1, 64), "must be from 0 to 100")
		}
		if e.Trips < 0 {
			add(p+".trips", strconv.Itoa(e.Trips), "must not be negative")
		}
		probs = append(probs, checkNames(p+".guards", e.Guards)...)
		probs = append(probs, checkNames(p+".tags", e.Tags)...)
		probs = append(probs, checkNames(p+".tenants", e.Tenants)...)
		switch {
		case e.Ends.IsZero() && e.Duration == 0:
			add(p+".ends", "", "every experiment ends: give ends (a time) or duration (such as \"10m\")")
		case !e.Ends.IsZero() && e.Duration != 0:
			add(p+".duration", strconv.Quote(e.Duration.String()), "give ends or duration, not both")
		case e.Duration < 0:
			add(p+".duration", strconv.Quote(e.Duration.String()), "must be positive")
		}
	}
	return probs
}

// checkNames checks a list of guard names, tags or tenant keys: none
// empty, none twice.
func checkNames(path string, names []string) []Problem {
	var probs []Problem
	for i, n := range names {
		p := path + "[" + strconv.Itoa(i) + "]"
		switch {
		case strings.TrimSpace(n) == "":
			probs = append(probs, Problem{Path: p, Value: strconv.Quote(n), Message: "must not be empty"})
		case slices.Index(names, n) < i:
			probs = append(probs, Problem{Path: p, Value: strconv.Quote(n), Message: fmt.Sprintf("%q is listed twice", n)})
		}
	}
	return probs
}

// cronShape checks the shape of a cron expression, which the root module
// cannot parse: five fields, or a descriptor. Package maintenance parses
// it (see DocumentFollower). It returns what is wrong, or "".
func cronShape(s string) string {
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, "TZ=") || strings.HasPrefix(t, "CRON_TZ="):
		return "give the time zone in timeZone, not in the expression"
	case strings.HasPrefix(t, "@every"):
		return "@every is not a schedule of wall-clock times; use a cron expression or @hourly, @daily, @weekly, @monthly, @yearly"
	case strings.HasPrefix(t, "@"):
		if !slices.Contains(cronDescriptors, t) {
			return "is not a descriptor: @hourly, @daily, @weekly, @monthly, @yearly"
		}
		return ""
	}
	if n := len(strings.Fields(t)); n != 5 {
		return fmt.Sprintf("has %d fields; a cron expression has five: minute, hour, day of month, month, day of week (such as \"0 2 * * SUN\")", n)
	}
	return ""
}

// opsProblems checks what of the operations sections needs the registry:
// that it can carry each section out (WithChaos, a maintenance follower),
// that the guards named are known, and the followers' own checks.
func (r *Registry) opsProblems(doc Document, c *checkedDocument) []Problem {
	var probs []Problem
	if len(doc.Maintenance) > 0 && !r.followers.has("maintenance") {
		probs = append(probs, Problem{Path: "maintenance", Value: strconv.Itoa(len(doc.Maintenance)) + " windows",
			Message: "no maintenance scheduler follows this registry, so the windows would never start (package maintenance: Open with FollowPolicy)"})
	}
	if len(doc.Chaos) > 0 && r.chaos == nil {
		probs = append(probs, Problem{Path: "chaos", Value: strconv.Itoa(len(doc.Chaos)) + " experiments",
			Message: "the registry was built without chaos (core.WithChaos), so it cannot run the chaos section's experiments: remove the section, or build the registry with core.WithChaos"})
	}
	known := func(path string, names []string) {
		for i, n := range names {
			if !r.knownTarget(c.policies, c.order, n) {
				probs = append(probs, Problem{Path: path + "[" + strconv.Itoa(i) + "]", Value: strconv.Quote(n),
					Message: fmt.Sprintf("%q is no policy of the document, no name its patterns match and no existing guard", n)})
			}
		}
	}
	for i, w := range doc.Maintenance {
		known(fmt.Sprintf("maintenance[%d].guards", i), w.Guards)
	}
	for i, e := range doc.Chaos {
		known(fmt.Sprintf("chaos[%d].guards", i), e.Guards)
	}
	if len(probs) > 0 {
		return probs
	}
	now := time.Now()
	for _, f := range r.followers.snapshot() {
		probs = append(probs, f.CheckDocument(doc, now)...)
	}
	return probs
}

// WithoutOperations returns the document without its operations sections
// (Maintenance, Chaos), and the sections it left out ("maintenance",
// "chaos"), for a note. Tools that run a document's policies away from the
// application that follows those sections (a replay, a simulation,
// generated tests) apply this: the windows and experiments act on the
// application's own guards, and a registry with no follower for them
// refuses them.
func (d Document) WithoutOperations() (Document, []string) {
	var dropped []string
	if len(d.Maintenance) > 0 {
		dropped = append(dropped, "maintenance")
	}
	if len(d.Chaos) > 0 {
		dropped = append(dropped, "chaos")
	}
	d.Maintenance, d.Chaos = nil, nil
	return d, dropped
}
