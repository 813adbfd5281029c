package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/fleet"
)

// The fleet endpoints show and steer this replica's fleet (fleet mode,
// issue 20):
//
//	GET  /v1/fleet          what this replica knows of its fleet (read)
//	POST /v1/fleet/actions  an operator action for every replica (write,
//	                        audited once, as fleet-action)
//
// Without WithFleet both answer 404 fleet_off. While a fleet is attached
// and its store is down, /health reports a "fleet:store" check that warns:
// the store being down degrades fleet mode and never fails a probe.

// Fleet is what the admin API needs of a fleet agent (*fleet.Agent, from
// fleet.Join, implements it). Its methods must be safe for concurrent use;
// Snapshot and Health must not wait on the store (they report what the
// agent last saw), for /health calls Health at every request.
type Fleet interface {
	// Snapshot returns what this replica knows of its fleet.
	Snapshot() fleet.Snapshot
	// Act stores an operator action for every replica and returns it as
	// stored (with its version); an error means it was not stored.
	Act(ctx context.Context, o fleet.Override) (fleet.Override, error)
	// Health returns the store's health as this replica sees it.
	Health() fleet.StoreHealth
}

// Fleet wire types and operation, as in package wire.
type (
	// FleetReport is wire.FleetReport, the answer to GET /v1/fleet.
	FleetReport = wire.FleetReport
	// FleetActionRequest is wire.FleetActionRequest.
	FleetActionRequest = wire.FleetActionRequest
	// FleetActionResult is wire.FleetActionResult.
	FleetActionResult = wire.FleetActionResult
)

// OpFleetAction is wire.OpFleetAction.
const OpFleetAction = wire.OpFleetAction

// WithFleet serves the fleet endpoints from f and adds the store's health
// to /health (see HealthHandler).
func WithFleet(f Fleet) Option {
	return optionFunc(func(c *config) error {
		if f == nil {
			return errors.New("admin: WithFleet: the fleet must not be nil")
		}
		c.fleet = f
		return nil
	})
}

const (
	codeFleetOff  = "fleet_off"
	codeFleetDown = "fleet_store_unavailable"
)

func (s *Server) fleetRoutes(v string) {
	s.handle(v+"/fleet", methods{http.MethodGet: s.fleetReport})
	s.handle(v+"/fleet/actions", methods{http.MethodPost: s.fleetAction})
}

// fleetOf authorizes need and returns the fleet, or answers (404 without
// one) and returns false.
func (s *Server) fleetOf(w http.ResponseWriter, r *http.Request, need Access) (Fleet, principal, bool) {
	who, ok := s.authorize(w, r, need)
	if !ok {
		return nil, who, false
	}
	if s.cfg.fleet == nil {
		writeProblem(w, r, problem(http.StatusNotFound, codeFleetOff, "this replica is not in a fleet: the server was built without admin.WithFleet"))
		return nil, who, false
	}
	return s.cfg.fleet, who, true
}

// fleetReport serves GET /v1/fleet.
func (s *Server) fleetReport(w http.ResponseWriter, r *http.Request) {
	f, _, ok := s.fleetOf(w, r, Read)
	if !ok {
		return
	}
	writeJSON(w, r, http.StatusOK, fleetReportOf(f.Snapshot()))
}

// fleetReportOf is snap with every list present, so that clients read []
// rather than null, and without the leases' tokens (a lease's token is the
// holder's proof when it releases the lease; readers have no use for it).
func fleetReportOf(snap fleet.Snapshot) FleetReport {
	if snap.Members == nil {
		snap.Members = []fleet.Member{}
	}
	if snap.Overrides == nil {
		snap.Overrides = []fleet.Override{}
	}
	gs := make([]fleet.GuardView, len(snap.Guards))
	for i, g := range snap.Guards {
		if g.OpenVotes == nil {
			g.OpenVotes = []string{}
		}
		if g.Lease != nil {
			l := *g.Lease
			l.Token = ""
			g.Lease = &l
		}
		gs[i] = g
	}
	snap.Guards = gs
	return snap
}

// checkFleetAction checks the body of POST /v1/fleet/actions: a known
// action, a target naming exactly one of all, a tag or a guard, printable
// text, and a reason. It returns the target as the store keeps it.
func checkFleetAction(req *FleetActionRequest) (Target, *Problem) {
	known := false
	names := make([]string, len(wire.FleetActions))
	for i, a := range wire.FleetActions {
		names[i] = string(a)
		known = known || req.Action == a
	}
	if !known {
		return Target{}, problem(http.StatusBadRequest, codeInvalid, "action: "+quote(string(req.Action))+" is not one of "+strings.Join(names, ", "))
	}
	if p := textProblem("target", req.Target); p != nil {
		return Target{}, p
	}
	t, err := wire.ParseFleetTarget(req.Target)
	if err != nil {
		return Target{}, problem(http.StatusBadRequest, codeInvalid, "target: "+quote(req.Target)+" "+err.Error())
	}
	if p := checkReason(req.Reason); p != nil {
		return Target{}, p
	}
	return t, nil
}

// fleetAction serves POST /v1/fleet/actions: the action is stored for the
// fleet (Fleet.Act, with the token's name as the actor), then audited once,
// here. Replicas apply it from the store, this one included; none of them
// audits it again.
func (s *Server) fleetAction(w http.ResponseWriter, r *http.Request) {
	f, who, ok := s.fleetOf(w, r, Write)
	if !ok {
		return
	}
	var req FleetActionRequest
	if p := decodeRequest(w, r, s.cfg.maxBody, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	t, p := checkFleetAction(&req)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	want := fleet.Override{Target: wire.FleetTarget(t), Action: req.Action, Actor: who.name, Reason: req.Reason}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	// Once sent, the store write runs to its end (the agent bounds it) even
	// if the client goes: what was stored must be audited.
	got, err := f.Act(context.WithoutCancel(r.Context()), want)
	if err != nil {
		s.cfg.logger.Warn("breakerbox admin: fleet action not stored", "action", req.Action, "target", want.Target, "actor", who.name, "err", err)
		writeProblem(w, r, problem(http.StatusServiceUnavailable, codeFleetDown, fmt.Sprintf(
			"%s %s was not stored fleet-wide, so no replica will apply it: %v. GET /v1/fleet shows the store's health; retry when it is up, or act on each replica with POST /v1/operations/{op}",
			req.Action, want.Target, err)))
		return
	}
	rec := AuditRecord{Actor: who.name, Op: OpFleetAction, Target: t, Reason: req.Reason, Params: map[string]string{
		"action":  string(got.Action),
		"target":  got.Target,
		"version": strconv.FormatUint(got.Version, 10),
	}}
	if got.By != "" {
		rec.Params["by"] = got.By
	}
	if err := s.record(r.Context(), &rec); err != nil {
		s.cfg.logger.Error("breakerbox admin: audit record lost; fleet action stored", "action", got.Action, "target", got.Target, "version", got.Version, "actor", who.name, "reason", req.Reason, "err", err)
		writeProblem(w, r, problem(http.StatusServiceUnavailable, codeAuditFailed, fmt.Sprintf(
			"%s %s was stored fleet-wide as version %d and every replica will apply it, but its audit record could not be written: %v",
			got.Action, got.Target, got.Version, err)))
		return
	}
	writeJSON(w, r, http.StatusOK, FleetActionResult{Override: got, AuditSeq: rec.Seq})
}

// fleetHealthKey is the key of the fleet store's check in a /health
// document.
const fleetHealthKey = "fleet:store"

// addFleetHealth adds the fleet store's health to a /health document: while
// the store is down, a check that warns (a pass becomes a warn, a fail
// stays a fail). The store being down degrades fleet mode, and guards keep
// deciding on their own, so it never fails the document. Summary documents
// get the status and a word, without the error.
func (h *healthHandler) addFleetHealth(doc *Health, now time.Time) {
	f := h.cfg.fleet
	if f == nil {
		return
	}
	st := f.Health()
	if st.Up {
		return
	}
	const what = "fleet store unreachable; guards decide alone"
	if doc.Status == StatusPass {
		doc.Status = StatusWarn
		doc.Output = what
	} else {
		doc.Output += "; " + what
	}
	if h.cfg.healthSummary {
		return
	}
	c := Check{ComponentID: "fleet", ComponentType: "datastore", ObservedValue: "down", Status: StatusWarn, Time: st.Since, Output: st.LastError}
	if c.Time.IsZero() {
		c.Time = now
	}
	if c.Output == "" {
		c.Output = "unreachable"
	}
	if doc.Checks == nil {
		doc.Checks = map[string][]Check{}
	}
	doc.Checks[fleetHealthKey] = []Check{c}
}
