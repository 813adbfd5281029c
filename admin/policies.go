package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/policy"
)

// The policy endpoints serve a policy.Manager (WithPolicyManager):
//
//	GET  /v1/policies                the live version, with its document
//	PUT  /v1/policies                apply a document (write; dryRun: read)
//	GET  /v1/policies/history        versions, newest first (?limit=)
//	GET  /v1/policies/versions/{v}   one version, with its document
//	POST /v1/policies/rollback       apply version v again, as a new one (write)
//	GET  /v1/policies/docs           the live document in plain words
//
// A refused document is a 422 problem with code "invalid_policy_document"
// listing every problem in Problems; nothing is stored or applied and the
// live version stays. Applies and rollbacks are audited (OpPolicyApply,
// OpPolicyRollback) with the version in the record's Params. Without a
// manager every policy endpoint answers 501.

// Aliases of the policy endpoints' documents and operations.
type (
	// PolicyRecord is wire.PolicyRecord, one version of the document.
	PolicyRecord = wire.PolicyRecord
	// PolicyHistory is wire.PolicyHistory, the answer to GET
	// /v1/policies/history.
	PolicyHistory = wire.PolicyHistory
	// PolicyApplyRequest is wire.PolicyApplyRequest, the body of PUT
	// /v1/policies.
	PolicyApplyRequest = wire.PolicyApplyRequest
	// PolicyRollbackRequest is wire.PolicyRollbackRequest, the body of POST
	// /v1/policies/rollback.
	PolicyRollbackRequest = wire.PolicyRollbackRequest
	// PolicyApplyResult is wire.PolicyApplyResult, the answer to an apply
	// or a rollback.
	PolicyApplyResult = wire.PolicyApplyResult
)

// The audit operations of the policy endpoints, as in package wire.
const (
	OpPolicyApply    = wire.OpPolicyApply    // wire.OpPolicyApply
	OpPolicyRollback = wire.OpPolicyRollback // wire.OpPolicyRollback
)

// Paging of GET /v1/policies/history.
const (
	// DefaultPolicyHistoryLimit is how many versions the history answers
	// without ?limit=.
	DefaultPolicyHistoryLimit = 100
	// MaxPolicyHistoryLimit is the largest ?limit= accepted.
	MaxPolicyHistoryLimit = 1000
)

// Problem codes of the policy endpoints.
const (
	codeInvalidPolicy   = "invalid_policy_document"
	codeNoPolicies      = "policies_not_configured"
	codeNoPolicyVersion = "no_policy_version"
	codeUnknownVersion  = "unknown_policy_version"
	codePolicyStore     = "policy_store_failed"
)

// WithPolicyManager serves the policy endpoints (GET and PUT /v1/policies,
// history, versions, rollback and docs) from m. Give m the same registry
// as the Server.
func WithPolicyManager(m *policy.Manager) Option {
	return optionFunc(func(c *config) error {
		if m == nil {
			return errors.New("admin: WithPolicyManager: the manager must not be nil")
		}
		c.policies = m
		return nil
	})
}

func (s *Server) policyRoutes(v string) {
	s.handle(v+"/policies", methods{http.MethodGet: s.getPolicies, http.MethodPut: s.putPolicies})
	s.handle(v+"/policies/history", methods{http.MethodGet: s.policyHistory})
	s.handle(v+"/policies/versions/{v}", methods{http.MethodGet: s.policyVersion})
	s.handle(v+"/policies/rollback", methods{http.MethodPost: s.rollbackPolicies})
	s.handle(v+"/policies/docs", methods{http.MethodGet: s.policyDocs})
}

// policyManager returns the manager, or answers 501 without one.
func (s *Server) policyManager(w http.ResponseWriter, r *http.Request) (*policy.Manager, bool) {
	if s.cfg.policies == nil {
		writeProblem(w, r, problem(http.StatusNotImplemented, codeNoPolicies, "this admin API serves no policy documents: the server was built without admin.WithPolicyManager"))
		return nil, false
	}
	return s.cfg.policies, true
}

// policyReader authorizes a read of the policy endpoints and returns the
// manager; otherwise it answers and returns false.
func (s *Server) policyReader(w http.ResponseWriter, r *http.Request) (*policy.Manager, bool) {
	if _, ok := s.authorize(w, r, Read); !ok {
		return nil, false
	}
	return s.policyManager(w, r)
}

func policyRecordOf(rec policy.Record, live uint64, withDoc bool) PolicyRecord {
	out := PolicyRecord{Version: rec.Version, Hash: rec.Hash, Source: rec.Source, Actor: rec.Actor, Reason: rec.Reason, RollbackOf: rec.RollbackOf, At: rec.At, Live: rec.Version == live && live != 0}
	if withDoc {
		out.Document = rec.Document
	}
	return out
}

func liveVersion(m *policy.Manager) uint64 {
	cur, _ := m.Current()
	return cur.Version
}

func noPolicyVersion() *Problem {
	return problem(http.StatusNotFound, codeNoPolicyVersion, "no policy document has been applied yet; PUT /"+APIVersion+"/policies applies one")
}

func (s *Server) getPolicies(w http.ResponseWriter, r *http.Request) {
	m, ok := s.policyReader(w, r)
	if !ok {
		return
	}
	cur, ok := m.Current()
	if !ok {
		writeProblem(w, r, noPolicyVersion())
		return
	}
	writeJSON(w, r, http.StatusOK, policyRecordOf(cur, cur.Version, true))
}

// putPolicies serves PUT /v1/policies. A dry run is a read; a real apply
// is a write, checked once the body says which it is (as for prune).
func (s *Server) putPolicies(w http.ResponseWriter, r *http.Request) {
	who, ok := s.authorize(w, r, Read)
	if !ok {
		return
	}
	m, ok := s.policyManager(w, r)
	if !ok {
		return
	}
	var req PolicyApplyRequest
	if p := decodeRequest(w, r, s.cfg.maxBody, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	if !req.DryRun {
		if who, ok = s.authorize(w, r, Write); !ok {
			return
		}
		if p := checkReason(req.Reason); p != nil {
			writeProblem(w, r, p)
			return
		}
	}
	if len(req.Document) == 0 || string(req.Document) == "null" {
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "document: is required: the policy document, as a JSON object"))
		return
	}
	doc, err := m.DecodeJSON(req.Document)
	if err != nil {
		writeProblem(w, r, s.policyProblem(m, err))
		return
	}
	if req.DryRun {
		d, err := m.DryRun(doc)
		if err != nil {
			writeProblem(w, r, s.policyProblem(m, err))
			return
		}
		raw, _ := json.Marshal(doc)
		writeJSON(w, r, http.StatusOK, PolicyApplyResult{
			Record: PolicyRecord{Hash: doc.Hash(), Document: raw},
			DryRun: true, Added: d.Added, Changed: d.Changed, Removed: d.Removed, Unchanged: d.Unchanged,
		})
		return
	}
	s.applyPolicy(w, r, OpPolicyApply, func(ctx context.Context) (policy.Result, error) {
		return m.Apply(ctx, doc, policy.Meta{Source: "admin-api", Actor: who.name, Reason: req.Reason})
	}, m, who.name, req.Reason)
}

func (s *Server) rollbackPolicies(w http.ResponseWriter, r *http.Request) {
	who, ok := s.authorize(w, r, Write)
	if !ok {
		return
	}
	m, ok := s.policyManager(w, r)
	if !ok {
		return
	}
	var req PolicyRollbackRequest
	if p := decodeRequest(w, r, s.cfg.maxBody, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	if req.Version == 0 {
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "version: is required: the version to apply again (GET /"+APIVersion+"/policies/history lists them)"))
		return
	}
	if p := checkReason(req.Reason); p != nil {
		writeProblem(w, r, p)
		return
	}
	s.applyPolicy(w, r, OpPolicyRollback, func(ctx context.Context) (policy.Result, error) {
		return m.Rollback(ctx, req.Version, policy.Meta{Source: "admin-api rollback", Actor: who.name, Reason: req.Reason})
	}, m, who.name, req.Reason)
}

// applyPolicy applies a document (or rolls back) and audits it, under opMu
// so that audit records follow the versions' order. The version is made
// live and stored before its audit record is written: when the record
// cannot be written, the answer is a 503 saying that the version is live
// and stored (its record in the policy history names the actor and the
// reason); a version cannot be taken back, only rolled back.
func (s *Server) applyPolicy(w http.ResponseWriter, r *http.Request, op Op, apply func(context.Context) (policy.Result, error), m *policy.Manager, actor, reason string) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	prev := liveVersion(m)
	res, err := apply(r.Context())
	if err != nil && !errors.Is(err, policy.ErrNotLive) {
		writeProblem(w, r, s.policyProblem(m, err))
		return
	}
	rec := AuditRecord{Actor: actor, Op: op, Target: Target{All: true}, Reason: reason, Params: map[string]string{
		"version":         strconv.FormatUint(res.Record.Version, 10),
		"hash":            res.Record.Hash,
		"previousVersion": strconv.FormatUint(prev, 10),
		"added":           strconv.Itoa(len(res.Added)),
		"changed":         strconv.Itoa(len(res.Changed)),
		"removed":         strconv.Itoa(len(res.Removed)),
	}}
	if res.Record.RollbackOf != 0 {
		rec.Params["rollbackOf"] = strconv.FormatUint(res.Record.RollbackOf, 10)
	}
	if err != nil { // stored, not live: audited as such, answered as a failure
		rec.Params["notLive"] = "true"
	}
	if aerr := s.record(r.Context(), &rec); aerr != nil {
		s.cfg.logger.Error("breakerbox admin: audit record lost; policy version is live", "op", op, "version", res.Record.Version, "actor", actor, "err", aerr)
		writeProblem(w, r, problem(http.StatusServiceUnavailable, codeAuditFailed, fmt.Sprintf("version %d is stored and live (its record in the policy history names the actor and the reason), but its audit record could not be written: %v", res.Record.Version, aerr)))
		return
	}
	if err != nil {
		s.cfg.logger.Error("breakerbox admin: policy version stored but not live", "version", res.Record.Version, "err", err)
		writeProblem(w, r, problem(http.StatusInternalServerError, codeInternal, err.Error()+"; something other than the policy manager changed the registry's policies"))
		return
	}
	writeJSON(w, r, http.StatusOK, PolicyApplyResult{
		Record: policyRecordOf(res.Record, res.Record.Version, false),
		Added:  res.Added, Changed: res.Changed, Removed: res.Removed, Unchanged: res.Unchanged,
	})
}

// policyProblem turns an error of the manager into the problem to answer.
func (s *Server) policyProblem(m *policy.Manager, err error) *Problem {
	var de *core.DocumentError
	switch {
	case errors.As(err, &de):
		live := "no version is live"
		if v := liveVersion(m); v != 0 {
			live = fmt.Sprintf("version %d stays live", v)
		}
		p := problem(http.StatusUnprocessableEntity, codeInvalidPolicy, fmt.Sprintf("the policy document was refused (problems: %d, listed in problems); nothing was stored or applied and %s", len(de.Problems), live))
		p.Problems = de.Problems
		return p
	case errors.Is(err, policy.ErrNoVersion):
		return problem(http.StatusNotFound, codeUnknownVersion, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return problem(http.StatusServiceUnavailable, codePolicyStore, "the request ended before the document was stored; nothing was applied: "+err.Error())
	}
	s.cfg.logger.Error("breakerbox admin: policy store", "err", err)
	return problem(http.StatusServiceUnavailable, codePolicyStore, err.Error()+"; nothing was applied")
}

func (s *Server) policyHistory(w http.ResponseWriter, r *http.Request) {
	m, ok := s.policyReader(w, r)
	if !ok {
		return
	}
	limit := DefaultPolicyHistoryLimit
	if a := r.URL.Query().Get("limit"); a != "" {
		n, err := strconv.Atoi(a)
		if err != nil || n < 1 || n > MaxPolicyHistoryLimit {
			writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, fmt.Sprintf("limit: %q must be a number from 1 to %d", clip(a), MaxPolicyHistoryLimit)))
			return
		}
		limit = n
	}
	recs, err := m.History(r.Context(), limit)
	if err != nil {
		writeProblem(w, r, s.policyProblem(m, err))
		return
	}
	live := liveVersion(m)
	out := PolicyHistory{Live: live, Versions: make([]PolicyRecord, len(recs))}
	for i, rec := range recs {
		out.Versions[i] = policyRecordOf(rec, live, false)
	}
	writeJSON(w, r, http.StatusOK, out)
}

// parseVersion parses a version number from the path or the query.
func parseVersion(field, s string) (uint64, *Problem) {
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v == 0 {
		return 0, problem(http.StatusBadRequest, codeInvalid, field+": "+quote(clip(s))+" is not a version number (1, 2, ...)")
	}
	return v, nil
}

func (s *Server) policyVersion(w http.ResponseWriter, r *http.Request) {
	m, ok := s.policyReader(w, r)
	if !ok {
		return
	}
	v, p := parseVersion("version", r.PathValue("v"))
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	rec, err := m.Version(r.Context(), v)
	if err != nil {
		writeProblem(w, r, s.policyProblem(m, err))
		return
	}
	writeJSON(w, r, http.StatusOK, policyRecordOf(rec, liveVersion(m), true))
}

// policyDocs serves the documentation of the live document (or of
// ?version=v) as Markdown (policy.Markdown); the dashboard renders it.
func (s *Server) policyDocs(w http.ResponseWriter, r *http.Request) {
	m, ok := s.policyReader(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var doc core.Document
	if a := q.Get("version"); a != "" {
		v, p := parseVersion("version", a)
		if p != nil {
			writeProblem(w, r, p)
			return
		}
		rec, err := m.Version(r.Context(), v)
		if err == nil {
			err = json.Unmarshal(rec.Document, &doc)
		}
		if err != nil {
			writeProblem(w, r, s.policyProblem(m, err))
			return
		}
	} else {
		cur, ok, err := m.CurrentDocument()
		if err != nil {
			writeProblem(w, r, s.policyProblem(m, err))
			return
		}
		if !ok {
			writeProblem(w, r, noPolicyVersion())
			return
		}
		doc = cur
	}
	body := policy.Markdown(doc)
	h := w.Header()
	h.Set("Content-Type", "text/markdown; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
