package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

// MaintenanceWindow is wire.MaintenanceWindow.
type MaintenanceWindow = wire.MaintenanceWindow

// Maintenance is a scheduler of maintenance windows that the admin API
// serves (GET, POST /v1/maintenance; DELETE /v1/maintenance/{name}).
// Module github.com/breakerbox/breakerbox/maintenance implements it; the
// admin package stays free of its cron parser. Its methods must be safe
// for concurrent use.
type Maintenance interface {
	// Windows returns every window with its status at now.
	Windows() []MaintenanceWindow
	// AddWindow checks w and schedules it, created by actor. A window it
	// refuses is reported as a *WindowError (or several, joined with
	// errors.Join), and nothing is scheduled.
	AddWindow(ctx context.Context, w MaintenanceWindow, actor string) (MaintenanceWindow, error)
	// DeleteWindow removes the named window, ending it first if it is
	// active, and returns it as it stood; an unknown name is an error
	// wrapping ErrUnknownWindow.
	DeleteWindow(ctx context.Context, name, actor string) (MaintenanceWindow, error)
}

// ErrUnknownWindow is the error of Maintenance.DeleteWindow for a window
// that does not exist.
var ErrUnknownWindow = errors.New("admin: unknown maintenance window")

// WindowError is a maintenance window refused: its field, the value and
// what is wrong.
type WindowError struct {
	Field, Value, Message string
}

// Error returns "maintenance window: field: value message", such as
// `maintenance window: timeZone: "Mars/Base" is not an IANA time zone`.
func (e *WindowError) Error() string {
	s := "maintenance window: " + e.Field + ": "
	if e.Value != "" {
		s += e.Value + " "
	}
	return s + e.Message
}

// WithMaintenance serves the maintenance endpoints from m.
func WithMaintenance(m Maintenance) Option {
	return optionFunc(func(c *config) error {
		if m == nil {
			return errors.New("admin: WithMaintenance: the scheduler must not be nil")
		}
		c.maintenance = m
		return nil
	})
}

const codeNoMaintenance = "maintenance_not_configured"

func (s *Server) maintenanceRoutes(v string) {
	s.handle(v+"/maintenance", methods{http.MethodGet: s.listWindows, http.MethodPost: s.addWindow})
	s.handle(v+"/maintenance/{name}", methods{http.MethodDelete: s.deleteWindow})
}

// maintenance authorizes need and returns the scheduler, or answers and
// returns false (501 without one).
func (s *Server) maintenance(w http.ResponseWriter, r *http.Request, need Access) (Maintenance, principal, bool) {
	who, ok := s.authorize(w, r, need)
	if !ok {
		return nil, who, false
	}
	if s.cfg.maintenance == nil {
		writeProblem(w, r, problem(http.StatusNotImplemented, codeNoMaintenance, "this admin API serves no maintenance windows: the server was built without admin.WithMaintenance"))
		return nil, who, false
	}
	return s.cfg.maintenance, who, true
}

// listWindows serves GET /v1/maintenance. A server without a scheduler
// has no windows: it answers an empty list (the dashboard polls this), and
// 501 only to the writes.
func (s *Server) listWindows(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	var ws []MaintenanceWindow
	if m := s.cfg.maintenance; m != nil {
		ws = m.Windows()
	}
	if ws == nil {
		ws = []MaintenanceWindow{}
	}
	writeJSON(w, r, http.StatusOK, wire.MaintenanceList{Windows: ws})
}

// addWindow serves POST /v1/maintenance: the window is the body; its
// reason is required, as for every write.
func (s *Server) addWindow(w http.ResponseWriter, r *http.Request) {
	m, who, ok := s.maintenance(w, r, Write)
	if !ok {
		return
	}
	var req MaintenanceWindow
	if p := decodeRequest(w, r, s.cfg.maxBody, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	if p := checkReason(req.Reason); p != nil {
		writeProblem(w, r, p)
		return
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	got, err := m.AddWindow(r.Context(), req, who.name)
	if err != nil {
		writeProblem(w, r, windowProblem(err))
		return
	}
	s.auditWindow(w, r, wire.OpMaintenanceAdd, got, who.name, req.Reason, http.StatusCreated)
}

// deleteWindow serves DELETE /v1/maintenance/{name}?reason=...
func (s *Server) deleteWindow(w http.ResponseWriter, r *http.Request) {
	m, who, ok := s.maintenance(w, r, Write)
	if !ok {
		return
	}
	reason := r.URL.Query().Get("reason")
	if p := checkReason(reason); p != nil {
		writeProblem(w, r, p)
		return
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	got, err := m.DeleteWindow(r.Context(), r.PathValue("name"), who.name)
	if err != nil {
		writeProblem(w, r, windowProblem(err))
		return
	}
	s.auditWindow(w, r, wire.OpMaintenanceDelete, got, who.name, reason, http.StatusOK)
}

// auditWindow records a change of the windows and answers with the window.
func (s *Server) auditWindow(w http.ResponseWriter, r *http.Request, op Op, win MaintenanceWindow, actor, reason string, status int) {
	t := Target{Name: win.Guard, Tag: win.Tag}
	rec := AuditRecord{Actor: actor, Op: op, Target: t, Reason: reason, Params: map[string]string{"window": win.Name, "action": win.Action}}
	if win.Schedule != "" {
		rec.Params["schedule"], rec.Params["duration"], rec.Params["timeZone"] = win.Schedule, win.Duration, win.TimeZone
	} else {
		rec.Params["start"], rec.Params["end"] = formatTime(win.Start), formatTime(win.End)
	}
	if err := s.record(r.Context(), &rec); err != nil {
		s.cfg.logger.Error("breakerbox admin: audit record lost; maintenance window changed", "op", op, "window", win.Name, "actor", actor, "err", err)
		writeProblem(w, r, problem(http.StatusServiceUnavailable, codeAuditFailed, fmt.Sprintf("maintenance window %q changed (%s), but its audit record could not be written: %v", win.Name, op, err)))
		return
	}
	writeJSON(w, r, status, win)
}

// windowProblem turns a scheduler's error into the problem to answer.
func windowProblem(err error) *Problem {
	if errors.Is(err, ErrUnknownWindow) {
		return problem(http.StatusNotFound, codeNotFound, err.Error())
	}
	var probs []core.Problem
	var collect func(error)
	collect = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				collect(x)
			}
			return
		}
		var we *WindowError
		if errors.As(e, &we) {
			probs = append(probs, core.Problem{Path: we.Field, Value: we.Value, Message: we.Message})
		}
	}
	collect(err)
	if len(probs) == 0 {
		return problem(http.StatusInternalServerError, codeInternal, err.Error())
	}
	p := problem(http.StatusBadRequest, codeInvalid, err.Error())
	p.Problems = probs
	return p
}
