package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
	"github.com/breakerbox/breakerbox/core/breaker"
)

// MaxReasonLength is the longest reason accepted, in bytes.
const MaxReasonLength = 1024

// maxOpenText describes core.MaxDuration, the longest a manual open may
// last (about 146 years): an open for longer, or until a time further away, is
// refused, so that no open-until can overflow.
var maxOpenText = "the maximum, about 146 years (2^62ns)"

// checkUntil refuses an open until a time that is not in the future (d,
// the time until then, is not positive) or is more than core.MaxDuration
// away.
func checkUntil(field string, until time.Time, d time.Duration) *Problem {
	switch {
	case d <= 0:
		return problem(http.StatusBadRequest, codeInvalid, field+": "+formatTime(until)+" is not in the future")
	case d > core.MaxDuration:
		return problem(http.StatusBadRequest, codeInvalid, field+": "+formatTime(until)+" is more than about 146 years (2^62ns) from now")
	}
	return nil
}

// checkReason refuses a missing or overlong reason, and one that is not
// printable text on one line (see checkText).
func checkReason(reason string) *Problem {
	switch {
	case strings.TrimSpace(reason) == "":
		return problem(http.StatusBadRequest, codeInvalid, "reason: is required: say why, for the audit log")
	case len(reason) > MaxReasonLength:
		return problem(http.StatusBadRequest, codeInvalid, fmt.Sprintf("reason: %d bytes is longer than the limit of %d", len(reason), MaxReasonLength))
	}
	return textProblem("reason", reason)
}

// checkTarget refuses a target whose name or tag is not printable text on
// one line.
func checkTarget(t Target) *Problem {
	if p := textProblem("name", t.Name); p != nil {
		return p
	}
	return textProblem("tag", t.Tag)
}

func (s *Server) operate(w http.ResponseWriter, r *http.Request) {
	who, ok := s.authorize(w, r, Write)
	if !ok {
		return
	}
	given := Op(r.PathValue("op"))
	op, ok := canonicalOp(given)
	if !ok {
		names := make([]string, len(GuardOps))
		for i, o := range GuardOps {
			names[i] = string(o)
		}
		writeProblem(w, r, problem(http.StatusNotFound, codeNotFound, "unknown operation "+quote(string(given))+"; want one of "+strings.Join(names, ", ")))
		return
	}
	var req OperationRequest
	if p := decodeRequest(w, r, s.cfg.maxBody, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	target := req.Target()
	sel, err := target.Selector()
	if err != nil {
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, err.Error()))
		return
	}
	if p := checkTarget(target); p != nil {
		writeProblem(w, r, p)
		return
	}
	if p := checkReason(req.Reason); p != nil {
		writeProblem(w, r, p)
		return
	}
	params := map[string]string{}
	var d time.Duration
	switch {
	case op != OpOpen && (req.Duration != 0 || req.Until != nil):
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "duration and until apply to open only"))
		return
	case req.Duration != 0 && req.Until != nil:
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "duration and until are exclusive: set one"))
		return
	case req.Duration < 0:
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "duration: "+req.Duration.String()+" must be positive"))
		return
	case time.Duration(req.Duration) > core.MaxDuration:
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "duration: "+req.Duration.String()+" is longer than "+maxOpenText))
		return
	case req.Duration > 0:
		d = time.Duration(req.Duration)
		params["duration"] = req.Duration.String()
	case req.Until != nil:
		d = req.Until.Sub(s.now()) // saturates: year 9999 is not in the past
		if p := checkUntil("until", *req.Until, d); p != nil {
			writeProblem(w, r, p)
			return
		}
		params["until"] = formatTime(*req.Until)
	}
	if given != op {
		params["as"] = string(given)
	}

	m := breaker.Manual{Actor: who.name, Reason: req.Reason}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	gs, prob := s.selectGuards(sel, target)
	if prob != nil {
		writeProblem(w, r, prob)
		return
	}
	before := statesOf(gs)
	for _, g := range gs {
		switch {
		case op == OpOpen && d > 0:
			g.OpenFor(d, m)
		case op == OpOpen:
			g.ForceOpen(m)
		case op == OpDisable:
			g.Disable(m)
		case op == OpMetricsOnly:
			g.MetricsOnly(m)
		case op == OpReset:
			g.Reset(m)
		case op == OpRelease:
			g.Release(m)
		}
	}
	after := statesOf(gs)
	rec := AuditRecord{Actor: who.name, Op: op, Target: target, Reason: req.Reason, Params: params, Before: before, After: after}
	if err := s.record(r.Context(), &rec); err != nil {
		s.auditFailed(w, r, &rec, err, s.rollback(gs, before, &rec))
		return
	}
	res := OperationResult{Op: op, Target: target, Actor: who.name, Reason: req.Reason, Changes: make([]Change, len(gs)), AuditSeq: rec.Seq}
	for i, g := range gs {
		res.Changes[i] = Change{Guard: g.Name(), From: before[i].State, To: after[i].State, OpenUntil: after[i].OpenUntil}
	}
	writeJSON(w, r, http.StatusOK, res)
}

// selectGuards resolves a selector; an unknown name or a tag no guard
// carries is a 404.
func (s *Server) selectGuards(sel core.Selector, t Target) ([]*core.Guard, *Problem) {
	gs, err := s.reg.Guards(sel)
	if errors.Is(err, core.ErrUnknownGuard) {
		return nil, unknownGuard(t.Name)
	}
	if err != nil {
		return nil, problem(http.StatusInternalServerError, codeInternal, err.Error())
	}
	if len(gs) == 0 && t.Tag != "" {
		return nil, problem(http.StatusNotFound, codeNoGuards, "no guard carries the tag "+quote(t.Tag))
	}
	return gs, nil
}

// record numbers rec and hands it to every sink; the caller holds opMu.
// A sequence number is used up even when a sink fails, so that no two
// records a sink took share one.
func (s *Server) record(ctx context.Context, rec *AuditRecord) error {
	s.seq++
	rec.Seq, rec.Time = s.seq, s.now().UTC()
	if rec.Before == nil {
		rec.Before = []GuardState{}
	}
	if rec.After == nil {
		rec.After = []GuardState{}
	}
	// The change is made: finish recording it even if the client has gone.
	ctx = context.WithoutCancel(ctx)
	for i, sink := range s.cfg.sinks {
		if err := sink.WriteAudit(ctx, *rec); err != nil {
			return fmt.Errorf("audit sink %d (%T): %w", i+1, sink, err)
		}
	}
	s.mem.addOp(*rec)
	cp := *rec
	s.sampler.queue(pendingEvent{audit: &cp})
	return nil
}

// rollback puts the guards back in their states before a change whose
// audit record could not be written, as far as it can: the manual state or
// open-until comes back, a cleared window does not. It returns what it
// could not undo.
func (s *Server) rollback(gs []*core.Guard, before []GuardState, rec *AuditRecord) []string {
	m := breaker.Manual{Actor: "breakerbox-admin", Reason: fmt.Sprintf("rollback of %s by %s: its audit record could not be written", rec.Op, rec.Actor)}
	var lost []string
	now := s.now()
	for i, g := range gs {
		b := before[i]
		cur := stateOf(g)
		if sameState(cur, b) {
			continue
		}
		switch o := b.Override; {
		case o != nil && o.State == breaker.Open && o.Until.After(now):
			g.OpenFor(o.Until.Sub(now), m)
		case o != nil && o.State == breaker.ForcedOpen:
			g.ForceOpen(m)
		case o != nil && o.State == breaker.Disabled:
			g.Disable(m)
		case o != nil && o.State == breaker.MetricsOnly:
			g.MetricsOnly(m)
		case b.State == breaker.Open && b.OpenUntil != nil && b.OpenUntil.After(now):
			g.OpenFor(b.OpenUntil.Sub(now), m) // an automatic open comes back as a manual one
		case cur.Override != nil:
			g.Release(m) // ends a manual state or a manual open
		default:
			g.Reset(m)
		}
		if stateOf(g).State != b.State {
			lost = append(lost, g.Name())
		}
	}
	return lost
}

// sameState reports whether a and b are the same state, override and
// open-until.
func sameState(a, b GuardState) bool {
	if a.State != b.State || (a.Override == nil) != (b.Override == nil) || (a.OpenUntil == nil) != (b.OpenUntil == nil) {
		return false
	}
	return a.OpenUntil == nil || a.OpenUntil.Equal(*b.OpenUntil)
}

// auditFailed answers a write whose audit record was not written.
func (s *Server) auditFailed(w http.ResponseWriter, r *http.Request, rec *AuditRecord, err error, notUndone []string) {
	detail := fmt.Sprintf("the audit record of %s could not be written (%v), so the operation failed", rec.Op, err)
	switch {
	case rec.Op == OpPrune:
		detail += "; pruned guards cannot be brought back (they are created afresh on their next use)"
	case len(notUndone) > 0:
		detail += "; it was rolled back except for " + strings.Join(notUndone, ", ")
	default:
		detail += " and was rolled back"
	}
	if len(rec.Created) > 0 {
		names := make([]string, len(rec.Created))
		for i, c := range rec.Created {
			names[i] = c.Guard
		}
		detail += "; the guards it created (" + strings.Join(names, ", ") + ") remain, without an override"
	}
	s.cfg.logger.Error("breakerbox admin: audit record lost; operation failed", "op", rec.Op, "actor", rec.Actor, "reason", rec.Reason, "err", err)
	writeProblem(w, r, problem(http.StatusServiceUnavailable, codeAuditFailed, detail))
}

func (s *Server) prune(w http.ResponseWriter, r *http.Request) {
	// A dry run is a read; a real prune is a write, checked once the body
	// says which it is.
	who, ok := s.authorize(w, r, Read)
	if !ok {
		return
	}
	var req PruneRequest
	if p := decodeRequest(w, r, s.cfg.maxBody, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	if !req.DryRun {
		if who, ok = s.authorize(w, r, Write); !ok {
			return
		}
	}
	if req.Idle <= 0 {
		writeProblem(w, r, problem(http.StatusBadRequest, codeInvalid, "idle: "+req.Idle.String()+" must be positive, such as \"24h\""))
		return
	}
	idle := time.Duration(req.Idle)
	if req.DryRun {
		pruned := s.reg.IdleAt(s.now(), idle)
		if pruned == nil {
			pruned = []string{}
		}
		writeJSON(w, r, http.StatusOK, PruneResult{Pruned: pruned, DryRun: true})
		return
	}
	if p := checkReason(req.Reason); p != nil {
		writeProblem(w, r, p)
		return
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	all, _ := s.reg.Guards(core.All())
	before := map[string]GuardState{}
	for _, g := range all {
		before[g.Name()] = stateOf(g)
	}
	pruned := s.reg.PruneAt(s.now(), idle)
	rec := AuditRecord{Actor: who.name, Op: OpPrune, Target: Target{All: true}, Reason: req.Reason, Params: map[string]string{"idle": req.Idle.String()}}
	for _, n := range pruned {
		b, ok := before[n]
		if !ok {
			b = GuardState{Guard: n}
		}
		rec.Before = append(rec.Before, b)
		rec.After = append(rec.After, GuardState{Guard: n, State: b.State, Gone: true})
	}
	if err := s.record(r.Context(), &rec); err != nil {
		s.auditFailed(w, r, &rec, err, nil)
		return
	}
	if pruned == nil {
		pruned = []string{}
	}
	writeJSON(w, r, http.StatusOK, PruneResult{Pruned: pruned, AuditSeq: rec.Seq})
}

func (s *Server) restore(w http.ResponseWriter, r *http.Request) {
	who, ok := s.authorize(w, r, Write)
	if !ok {
		return
	}
	var req RestoreRequest
	if p := decodeRequest(w, r, s.cfg.maxBody, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	if p := checkReason(req.Reason); p != nil {
		writeProblem(w, r, p)
		return
	}
	if p := checkSnapshot(&req.Snapshot, s.now()); p != nil {
		writeProblem(w, r, p)
		return
	}
	doc := req.Snapshot
	slices.SortFunc(doc.Guards, func(a, b SnapshotGuard) int { return strings.Compare(a.Name, b.Name) })

	m := breaker.Manual{Actor: who.name, Reason: req.Reason}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	now := s.now()
	res := RestoreResult{Changes: []Change{}}
	// First find every guard to act on and check its policy and the number
	// of guards to create, so that a refused restore creates and changes
	// nothing.
	type step struct {
		sg *SnapshotGuard
		g  *core.Guard // nil until created
	}
	var steps []step
	creates := 0
	for i := range doc.Guards {
		sg := &doc.Guards[i]
		g, existed := s.reg.Lookup(sg.Name)
		o := sg.Override
		switch {
		case o != nil && o.State == breaker.Open && !o.Until.After(now):
			res.Skipped = append(res.Skipped, sg.Name)
			continue
		case existed && o == nil && stateOf(g).Override == nil:
			continue // automatic here and in the snapshot
		case !existed && o == nil:
			continue // nothing to re-apply, and no reason to create it
		}
		if p := s.checkRestorePolicy(sg); p != nil {
			writeProblem(w, r, p)
			return
		}
		if !existed {
			creates++
		}
		steps = append(steps, step{sg, g})
	}
	if creates > s.cfg.maxCreates {
		writeProblem(w, r, problem(http.StatusBadRequest, codeTooManyGuards, fmt.Sprintf(
			"snapshot: the restore would create %d guards that do not exist yet, more than the %d one restore may create (WithMaxRestoreCreates); restore a smaller snapshot, or raise the limit", creates, s.cfg.maxCreates)))
		return
	}
	var created []CreatedGuard
	for i := range steps {
		st := &steps[i]
		if st.g != nil {
			continue
		}
		// No UsePolicy: the guard gets the policy its name resolves to,
		// the one checked above and the one the application's first use
		// would have given it.
		var opts []core.GuardOption
		if len(st.sg.Tags) > 0 {
			opts = append(opts, core.WithTags(st.sg.Tags...))
		}
		g, err := s.reg.Guard(st.sg.Name, opts...)
		if err != nil { // cannot happen: the name and its policy were checked
			p := problem(http.StatusInternalServerError, codeInternal, fmt.Sprintf("snapshot: guard %s: creating it: %v; no override was applied", quote(st.sg.Name), err))
			p.Guard = st.sg.Name
			writeProblem(w, r, p)
			return
		}
		st.g = g
		res.Created = append(res.Created, g.Name())
		created = append(created, CreatedGuard{Guard: g.Name(), Policy: g.Policy().Name, Tags: slices.Clone(g.Tags())})
	}
	gs := make([]*core.Guard, len(steps))
	before := make([]GuardState, len(steps))
	for i, st := range steps {
		g, o := st.g, st.sg.Override
		gs[i], before[i] = g, stateOf(g)
		switch {
		case o == nil: // a manual state or open the snapshot does not have
			g.Release(m)
		case o.State == breaker.Open:
			g.OpenFor(o.Until.Sub(now), m)
		case o.State == breaker.ForcedOpen:
			g.ForceOpen(m)
		case o.State == breaker.Disabled:
			g.Disable(m)
		case o.State == breaker.MetricsOnly:
			g.MetricsOnly(m)
		}
	}
	after := statesOf(gs)
	rec := AuditRecord{
		Actor: who.name, Op: OpRestore, Reason: req.Reason,
		Params: map[string]string{"snapshotTakenAt": formatTime(doc.TakenAt)},
		Before: before, After: after, Created: created,
	}
	if err := s.record(r.Context(), &rec); err != nil {
		s.auditFailed(w, r, &rec, err, s.rollback(gs, before, &rec))
		return
	}
	for i, g := range gs {
		res.Changes = append(res.Changes, Change{Guard: g.Name(), From: before[i].State, To: after[i].State, OpenUntil: after[i].OpenUntil})
	}
	res.AuditSeq = rec.Seq
	writeJSON(w, r, http.StatusOK, res)
}

// codeTooManyGuards is the problem code of a restore that would create more
// guards than WithMaxRestoreCreates allows.
const codeTooManyGuards = "too_many_guards"

// checkRestorePolicy refuses to act on a snapshot's guard whose policy is
// not the one its name resolves to here (core.Registry.PolicyFor): the
// policy of an existing guard, or the one a new guard of that name gets. A
// snapshot thus never chooses a guard's policy (a critical one, say).
func (s *Server) checkRestorePolicy(sg *SnapshotGuard) *Problem {
	pol, _, err := s.reg.PolicyFor(sg.Name)
	var p *Problem
	switch {
	case err != nil:
		p = problem(http.StatusInternalServerError, codeInternal, fmt.Sprintf("snapshot: guard %s: resolving its policy: %v", quote(sg.Name), err))
	case sg.Policy != "" && sg.Policy != pol.Name:
		p = problem(http.StatusBadRequest, codeInvalid, fmt.Sprintf(
			"snapshot: guard %s: policy: the snapshot says %s, but the name resolves to %s here; a restore applies only the policy a name resolves to, so correct the snapshot (or the registry's policies) and restore again",
			quote(sg.Name), quote(sg.Policy), quote(pol.Name)))
	default:
		return nil
	}
	p.Guard = sg.Name
	return p
}

// checkSnapshot validates a snapshot document before anything is applied.
// An open override until a time already past is valid (restore skips it);
// one more than core.MaxDuration after now is not.
func checkSnapshot(doc *Snapshot, now time.Time) *Problem {
	bad := func(format string, args ...any) *Problem {
		return problem(http.StatusBadRequest, codeInvalid, "snapshot: "+fmt.Sprintf(format, args...))
	}
	if doc.Version != SnapshotVersion {
		return bad("version: %d is not %d, the version this server reads", doc.Version, SnapshotVersion)
	}
	seen := map[string]bool{}
	for i, g := range doc.Guards {
		switch {
		case g.Name == "":
			return bad("guards[%d].name: must not be empty", i)
		case seen[g.Name]:
			return bad("guards[%d].name: %s appears twice", i, quote(g.Name))
		}
		seen[g.Name] = true
		if why := checkText(g.Name); why != "" {
			return bad("guards[%d].name: %s", i, why)
		}
		for j, tag := range g.Tags {
			if tag == "" {
				return bad("guards[%d].tags[%d]: must not be empty", i, j)
			}
			if why := checkText(tag); why != "" {
				return bad("guards[%d].tags[%d]: %s", i, j, why)
			}
		}
		if o := g.Override; o != nil {
			switch {
			case o.State == breaker.Open && o.Until == nil:
				return bad("guards[%d].override.until: is required for an open override", i)
			case o.State != breaker.Open && o.Until != nil:
				return bad("guards[%d].override.until: applies to an open override only, not %s", i, o.State)
			case o.State != breaker.Open && !o.State.Manual():
				return bad("guards[%d].override.state: %s is not open, forced-open, disabled or metrics-only", i, o.State)
			case o.State == breaker.Open && o.Until.Sub(now) > core.MaxDuration:
				return bad("guards[%d].override.until: %s is more than about 146 years (2^62ns) from now", i, formatTime(*o.Until))
			}
		}
	}
	return nil
}
