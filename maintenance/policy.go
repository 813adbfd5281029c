package maintenance

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/breakerbox/breakerbox/admin"
	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

// policyFollower is the scheduler as a core.DocumentFollower of the
// maintenance section (FollowPolicy).
type policyFollower struct{ s *Scheduler }

// Section implements core.DocumentFollower.
func (policyFollower) Section() string { return "maintenance" }

// windowOf is a window of the document as a scheduler window.
func windowOf(dw core.MaintenanceWindow, version uint64, actor string) Window {
	w := Window{
		Name: dw.Name, Guards: dw.Guards, Tags: dw.Tags, Action: wire.MaintenanceOpen,
		Start: dw.Start, End: dw.End, Schedule: dw.Schedule, TimeZone: dw.TimeZone, Reason: dw.Reason,
		Source: SourcePolicy, PolicyVersion: version, CreatedBy: actor,
	}
	if dw.Mode == core.MaintenanceMetricsOnly {
		w.Action = wire.MaintenanceMetricsOnly
	}
	if dw.Duration != 0 {
		w.Duration = time.Duration(dw.Duration).String()
	}
	return w
}

// docField maps a field of a scheduler window to the document's.
var docField = map[string]string{"action": "mode", "guard": "guards"}

// CheckDocument implements core.DocumentFollower: every window of doc as
// the scheduler checks it (the cron expression parsed, the time zone
// loaded), and no name of a window created through the API.
func (f policyFollower) CheckDocument(doc core.Document, now time.Time) []core.Problem {
	s := f.s
	var probs []core.Problem
	for i, dw := range doc.Maintenance {
		path := "maintenance[" + strconv.Itoa(i) + "]"
		if _, err := s.check(windowOf(dw, 0, ""), now, fromPolicy); err != nil {
			var errs []error
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			} else {
				errs = []error{err}
			}
			for _, e := range errs {
				var we *admin.WindowError
				if !errors.As(e, &we) {
					probs = append(probs, core.Problem{Path: path, Message: e.Error()})
					continue
				}
				field := we.Field
				if d, ok := docField[field]; ok {
					field = d
				}
				value := we.Value
				if field == "duration" && dw.Duration != 0 {
					value = strconv.Quote(dw.Duration.String())
				}
				probs = append(probs, core.Problem{Path: path + "." + field, Value: value, Message: we.Message})
			}
		}
		s.mu.Lock()
		old, ok := s.windows[dw.Name]
		s.mu.Unlock()
		if ok && old.w.Source != SourcePolicy {
			probs = append(probs, core.Problem{Path: path + ".name", Value: strconv.Quote(dw.Name),
				Message: fmt.Sprintf("a window created through the API (by %s) has that name; delete it or name this one otherwise", old.w.CreatedBy)})
		}
	}
	return probs
}

// DocumentApplied implements core.DocumentFollower: the windows of the
// previous document are replaced by doc's; windows created through the
// API stay as they are.
func (f policyFollower) DocumentApplied(doc core.Document, a core.AppliedDocument) {
	s := f.s
	now := time.Now()
	s.mu.Lock()
	if a.Version < s.polVersion {
		s.mu.Unlock()
		return // an older document, reported late
	}
	s.polVersion = a.Version
	for name, w := range s.windows {
		if w.w.Source == SourcePolicy {
			delete(s.windows, name)
		}
	}
	for _, dw := range doc.Maintenance {
		win, err := s.check(windowOf(dw, a.Version, a.Actor), now, fromPolicy)
		if err != nil {
			continue // cannot happen: CheckDocument passed it
		}
		if old, ok := s.windows[dw.Name]; ok && old.w.Source != SourcePolicy {
			continue // an API window took the name since the check: it stays
		}
		s.windows[dw.Name] = win
	}
	s.mu.Unlock()
	s.ReconcileAt(now)
	s.poke()
}

var _ core.DocumentFollower = policyFollower{}
