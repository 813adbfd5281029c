// Package schedule parses the schedules of recurring maintenance windows
// (five-field cron expressions and descriptors such as "@daily", by
// github.com/robfig/cron/v3) and checks the maintenance section of a
// policy document with them. Package maintenance schedules windows with
// it; tools that check documents without running them (package
// policyfile) use Linter, which does not bring in the admin server.
package schedule

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/robfig/cron/v3"
)

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse parses expr, a five-field cron expression or a descriptor
// (@hourly, @daily, @weekly, @monthly, @yearly), read in loc, and checks
// that it starts at least once within five years of now. The error says
// what is wrong, without the expression (the caller names it).
func Parse(expr string, loc *time.Location, now time.Time) (*cron.SpecSchedule, error) {
	trimmed := strings.TrimSpace(expr)
	if strings.HasPrefix(trimmed, "TZ=") || strings.HasPrefix(trimmed, "CRON_TZ=") {
		return nil, errors.New("give the time zone in timeZone, not in the expression")
	}
	sched, err := parser.Parse(trimmed)
	if err != nil {
		return nil, errors.New(`is not a five-field cron expression or a descriptor such as "@daily": ` + err.Error())
	}
	spec, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, errors.New("@every is not a schedule of wall-clock times; use a cron expression or @hourly, @daily, @weekly, @monthly, @yearly")
	}
	if loc != nil {
		spec.Location = loc
		if spec.Next(now).IsZero() {
			return nil, errors.New("never starts (no such date in the next five years)")
		}
	}
	return spec, nil
}

// Zone loads an IANA time zone; "" is UTC, and "Local" is refused (a
// window's time must not depend on the machine).
func Zone(name string) (*time.Location, error) {
	if name == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		return nil, errors.New(`is not an IANA time zone such as "Europe/Berlin"`)
	}
	return loc, nil
}

// Check returns the problems of doc's maintenance windows that need the
// cron parser: a schedule that does not parse, or never starts, in its
// time zone. core checks the rest (core.Registry.Check).
func Check(doc core.Document, now time.Time) []core.Problem {
	var probs []core.Problem
	for i, w := range doc.Maintenance {
		if w.Schedule == "" {
			continue
		}
		loc, err := Zone(w.TimeZone)
		if err != nil {
			continue // core reports the time zone
		}
		if _, err := Parse(w.Schedule, loc, now); err != nil {
			probs = append(probs, core.Problem{Path: "maintenance[" + strconv.Itoa(i) + "].schedule", Value: strconv.Quote(w.Schedule), Message: err.Error()})
		}
	}
	return probs
}

// Linter follows a registry's documents to check their maintenance
// windows (Check) and carries nothing out: for a registry that only checks
// documents, such as package policyfile's. Register it with
// core.Registry.Follow.
type Linter struct{}

// Section implements core.DocumentFollower.
func (Linter) Section() string { return "maintenance" }

// CheckDocument implements core.DocumentFollower with Check.
func (Linter) CheckDocument(doc core.Document, now time.Time) []core.Problem { return Check(doc, now) }

// DocumentApplied implements core.DocumentFollower: it does nothing.
func (Linter) DocumentApplied(core.Document, core.AppliedDocument) {}

var _ core.DocumentFollower = Linter{}
