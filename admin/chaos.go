package admin

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/chaos"
	"github.com/breakerbox/breakerbox/core"
)

// The chaos endpoints drive the registry's chaos.Injector:
//
//	GET  /v1/chaos              the limits and the experiments (read)
//	POST /v1/chaos/experiments  start one (write, audited as chaos-start)
//	POST /v1/chaos/stop         stop one (write, audited as chaos-stop)
//	POST /v1/chaos/kill         the kill switch: stop all (write, audited as chaos-kill)
//
// A registry built without chaos (core.WithChaos) answers GET with
// enabled false and every write with 409 chaos_off: nothing here can turn
// chaos on.

// Chaos wire types and operations, as in package wire.
type (
	// ChaosReport is wire.ChaosReport, the answer to GET /v1/chaos.
	ChaosReport = wire.ChaosReport
	// ChaosStartRequest is wire.ChaosStartRequest.
	ChaosStartRequest = wire.ChaosStartRequest
	// ChaosStopRequest is wire.ChaosStopRequest.
	ChaosStopRequest = wire.ChaosStopRequest
	// ChaosKillRequest is wire.ChaosKillRequest.
	ChaosKillRequest = wire.ChaosKillRequest
	// ChaosResult is wire.ChaosResult.
	ChaosResult = wire.ChaosResult
)

// The audit operations of the chaos endpoints, as in package wire.
const (
	OpChaosStart = wire.OpChaosStart // wire.OpChaosStart
	OpChaosStop  = wire.OpChaosStop  // wire.OpChaosStop
	OpChaosKill  = wire.OpChaosKill  // wire.OpChaosKill
)

const codeChaosOff = "chaos_off"

func (s *Server) chaosRoutes(v string) {
	s.handle(v+"/chaos", methods{http.MethodGet: s.chaosReport})
	s.handle(v+"/chaos/experiments", methods{http.MethodPost: s.chaosStart})
	s.handle(v+"/chaos/stop", methods{http.MethodPost: s.chaosStop})
	s.handle(v+"/chaos/kill", methods{http.MethodPost: s.chaosKill})
}

func (s *Server) chaosReport(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return
	}
	writeJSON(w, r, http.StatusOK, chaosReportOf(s))
}

func chaosReportOf(s *Server) ChaosReport {
	out := ChaosReport{Experiments: []chaos.Status{}}
	in, err := chaos.From(s.reg)
	if err != nil {
		return out
	}
	cfg := in.Config()
	out.Enabled, out.MaxGuards = true, cfg.MaxGuards
	out.MaxDuration = core.Duration(cfg.MaxDuration)
	out.Exclude, out.ExcludeTags = cfg.Exclude, cfg.ExcludeTags
	out.Experiments = in.List()
	return out
}

// chaosWrite authorises a chaos write and decodes its body; it returns the
// injector, or false once it has answered.
func (s *Server) chaosWrite(w http.ResponseWriter, r *http.Request, body any) (*chaos.Injector, principal, bool) {
	who, ok := s.authorize(w, r, Write)
	if !ok {
		return nil, who, false
	}
	in, err := chaos.From(s.reg)
	if err != nil {
		writeProblem(w, r, problem(http.StatusConflict, codeChaosOff, "chaos is off: the registry was built without core.WithChaos, and it cannot be turned on at run time"))
		return nil, who, false
	}
	if p := decodeRequest(w, r, s.cfg.maxBody, body); p != nil {
		writeProblem(w, r, p)
		return nil, who, false
	}
	return in, who, true
}

func (s *Server) chaosStart(w http.ResponseWriter, r *http.Request) {
	var req ChaosStartRequest
	in, who, ok := s.chaosWrite(w, r, &req)
	if !ok {
		return
	}
	if p := checkReason(req.Reason); p != nil {
		writeProblem(w, r, p)
		return
	}
	e := req.Experiment
	switch {
	case req.For < 0:
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "for: "+time.Duration(req.For).String()+" must be positive, such as \"5m\""))
		return
	case req.For > 0 && !e.Ends.IsZero():
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "for, ends: give one, not both"))
		return
	case req.For > 0:
		e.Ends = s.now().Add(time.Duration(req.For))
	}
	e.Actor = who.name
	s.opMu.Lock()
	defer s.opMu.Unlock()
	st, err := in.Start(e)
	if err != nil {
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, strings.TrimPrefix(err.Error(), "chaos: ")))
		return
	}
	rec := AuditRecord{Actor: who.name, Op: OpChaosStart, Reason: req.Reason, Params: chaosParams(st)}
	if err := s.record(r.Context(), &rec); err != nil {
		_, _ = in.Stop(st.ID) // the experiment did not happen
		writeProblem(w, r, s.auditFailed(&rec, err, nil))
		return
	}
	writeJSON(w, r, http.StatusOK, ChaosResult{Experiments: []chaos.Status{st}, AuditSeq: rec.Seq})
}

func (s *Server) chaosStop(w http.ResponseWriter, r *http.Request) {
	var req ChaosStopRequest
	in, who, ok := s.chaosWrite(w, r, &req)
	if !ok {
		return
	}
	if p := checkReason(req.Reason); p != nil {
		writeProblem(w, r, p)
		return
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	st, err := in.Stop(req.ID)
	if err != nil {
		writeProblem(w, r, problem(http.StatusNotFound, codeNotFound, strings.TrimPrefix(err.Error(), "chaos: ")))
		return
	}
	rec := AuditRecord{Actor: who.name, Op: OpChaosStop, Reason: req.Reason, Params: chaosParams(st)}
	if err := s.record(r.Context(), &rec); err != nil {
		// A stopped experiment is not restarted: stopping is the safe side.
		writeProblem(w, r, s.auditFailed(&rec, err, []string{"experiment " + st.ID + " (stopped; chaos stays off)"}))
		return
	}
	writeJSON(w, r, http.StatusOK, ChaosResult{Experiments: []chaos.Status{st}, AuditSeq: rec.Seq})
}

func (s *Server) chaosKill(w http.ResponseWriter, r *http.Request) {
	var req ChaosKillRequest
	in, who, ok := s.chaosWrite(w, r, &req)
	if !ok {
		return
	}
	if p := checkReason(req.Reason); p != nil {
		writeProblem(w, r, p)
		return
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	stopped := in.Kill()
	ids := make([]string, len(stopped))
	for i, st := range stopped {
		ids[i] = st.ID
	}
	rec := AuditRecord{Actor: who.name, Op: OpChaosKill, Reason: req.Reason, Params: map[string]string{"stopped": strings.Join(ids, ",")}}
	if err := s.record(r.Context(), &rec); err != nil {
		writeProblem(w, r, s.auditFailed(&rec, err, []string{"the kill switch (every experiment stays stopped)"}))
		return
	}
	writeJSON(w, r, http.StatusOK, ChaosResult{Experiments: stopped, AuditSeq: rec.Seq})
}

// chaosParams is an experiment as audit parameters.
func chaosParams(st chaos.Status) map[string]string {
	p := map[string]string{
		"id":      st.ID,
		"fault":   string(st.Fault),
		"ends":    st.Ends.UTC().Format(time.RFC3339),
		"targets": strings.Join(st.Targets, ","),
	}
	if st.Fault != chaos.FaultTrip {
		p["rate"] = strconv.FormatFloat(st.Rate, 'g', -1, 64)
	}
	if st.Latency > 0 {
		p["latency"] = time.Duration(st.Latency).String()
	}
	if len(st.Tenants) > 0 {
		p["tenants"] = strings.Join(st.Tenants, ",")
	}
	if st.Percent > 0 {
		p["percent"] = strconv.FormatFloat(st.Percent, 'g', -1, 64)
	}
	if st.AllowCritical {
		p["allowCritical"] = "true"
	}
	return p
}
