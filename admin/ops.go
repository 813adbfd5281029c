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

// operate serves POST /v1/operations/{op}: the operation and its body are
// checked (guardOp, checkOperation), applied to the selected guards under
// opMu and audited (applyOperation).
func (s *Server) operate(w http.ResponseWriter, r *http.Request) {
	who, ok := s.authorize(w, r, Write)
	if !ok {
		return
	}
	given := Op(r.PathValue("op"))
	op, p := guardOp(given)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	var req OperationRequest
	if p := decodeRequest(w, r, s.cfg.maxBody, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	o, p := checkOperation(given, op, &req, s.now())
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	res, p := s.applyOperation(r.Context(), who.name, &o)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	writeJSON(w, r, http.StatusOK, res)
}

// guardOp returns the guard operation the path names (close is disable),
// or a 404 listing the operations there are.
func guardOp(given Op) (Op, *Problem) {
	op, ok := canonicalOp(given)
	if !ok {
		names := make([]string, len(GuardOps))
		for i, o := range GuardOps {
			names[i] = string(o)
		}
		return "", problem(http.StatusNotFound, codeNotFound, "unknown operation "+quote(string(given))+"; want one of "+strings.Join(names, ", "))
	}
	return op, nil
}

// operation is a checked POST /v1/operations/{op}: what to do to which
// guards, and the parameters its audit record lists.
type operation struct {
	op     Op // canonical: close is disable
	target Target
	sel    core.Selector
	reason string
	// openFor is how long a temporary open lasts; 0 for any other
	// operation, and for an open until released.
	openFor time.Duration
	params  map[string]string
}

// checkOperation checks the body of the operation op (given as given in
// the path) at now: exactly one selection, printable names, a reason, and
// a duration or until time only for an open, positive and at most
// core.MaxDuration away.
func checkOperation(given, op Op, req *OperationRequest, now time.Time) (operation, *Problem) {
	target := req.Target()
	sel, err := target.Selector()
	if err != nil {
		return operation{}, problem(http.StatusBadRequest, codeInvalid, err.Error())
	}
	if p := checkTarget(target); p != nil {
		return operation{}, p
	}
	if p := checkReason(req.Reason); p != nil {
		return operation{}, p
	}
	o := operation{op: op, target: target, sel: sel, reason: req.Reason, params: map[string]string{}}
	switch {
	case op != OpOpen && (req.Duration != 0 || req.Until != nil):
		return operation{}, problem(http.StatusBadRequest, codeInvalid, "duration and until apply to open only")
	case req.Duration != 0 && req.Until != nil:
		return operation{}, problem(http.StatusBadRequest, codeInvalid, "duration and until are exclusive: set one")
	case req.Duration < 0:
		return operation{}, problem(http.StatusBadRequest, codeInvalid, "duration: "+req.Duration.String()+" must be positive")
	case time.Duration(req.Duration) > core.MaxDuration:
		return operation{}, problem(http.StatusBadRequest, codeInvalid, "duration: "+req.Duration.String()+" is longer than "+maxOpenText)
	case req.Duration > 0:
		o.openFor = time.Duration(req.Duration)
		o.params["duration"] = req.Duration.String()
	case req.Until != nil:
		o.openFor = req.Until.Sub(now) // saturates: year 9999 is not in the past
		if p := checkUntil("until", *req.Until, o.openFor); p != nil {
			return operation{}, p
		}
		o.params["until"] = formatTime(*req.Until)
	}
	if given != op {
		o.params["as"] = string(given)
	}
	return o, nil
}

// apply makes the operation's change to one guard.
func (o *operation) apply(g *core.Guard, m breaker.Manual) {
	switch {
	case o.op == OpOpen && o.openFor > 0:
		g.OpenFor(o.openFor, m)
	case o.op == OpOpen:
		g.ForceOpen(m)
	case o.op == OpDisable:
		g.Disable(m)
	case o.op == OpMetricsOnly:
		g.MetricsOnly(m)
	case o.op == OpReset:
		g.Reset(m)
	case o.op == OpRelease:
		g.Release(m)
	}
}

// applyOperation selects the guards of o, applies it to each and audits
// it, under opMu; when the audit record cannot be written, the change is
// rolled back and the problem says so.
func (s *Server) applyOperation(ctx context.Context, actor string, o *operation) (OperationResult, *Problem) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	gs, p := s.selectGuards(o.sel, o.target)
	if p != nil {
		return OperationResult{}, p
	}
	m := breaker.Manual{Actor: actor, Reason: o.reason}
	before := statesOf(gs)
	for _, g := range gs {
		o.apply(g, m)
	}
	after := statesOf(gs)
	rec := AuditRecord{Actor: actor, Op: o.op, Target: o.target, Reason: o.reason, Params: o.params, Before: before, After: after}
	if p := s.audit(ctx, &rec, gs); p != nil {
		return OperationResult{}, p
	}
	return OperationResult{Op: o.op, Target: o.target, Actor: actor, Reason: o.reason, Changes: changesOf(gs, before, after), AuditSeq: rec.Seq}, nil
}

// changesOf lists the change of each guard of gs, from before to after.
func changesOf(gs []*core.Guard, before, after []GuardState) []Change {
	out := make([]Change, len(gs))
	for i, g := range gs {
		out[i] = Change{Guard: g.Name(), From: before[i].State, To: after[i].State, OpenUntil: after[i].OpenUntil}
	}
	return out
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

// audit records rec, the change just made to gs (rec.Before holds their
// states before it); the caller holds opMu. When the record cannot be
// written, it rolls the change back as far as it can and returns the
// problem to answer.
func (s *Server) audit(ctx context.Context, rec *AuditRecord, gs []*core.Guard) *Problem {
	err := s.record(ctx, rec)
	if err == nil {
		return nil
	}
	return s.auditFailed(rec, err, s.rollback(gs, rec.Before, rec))
}

// auditFailed logs a write whose audit record was not written and returns
// the problem to answer it with.
func (s *Server) auditFailed(rec *AuditRecord, err error, notUndone []string) *Problem {
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
	return problem(http.StatusServiceUnavailable, codeAuditFailed, detail)
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
		writeProblem(w, r, s.auditFailed(&rec, err, nil))
		return
	}
	if pruned == nil {
		pruned = []string{}
	}
	writeJSON(w, r, http.StatusOK, PruneResult{Pruned: pruned, AuditSeq: rec.Seq})
}

// restore serves POST /v1/snapshot/restore: the body is checked
// (checkReason, checkSnapshot), then, under opMu, the guards to act on are
// found and checked (planRestore), those missing created (createGuards),
// the snapshot's overrides applied (applyOverride) and the whole audited.
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
	res, p := s.applyRestore(r.Context(), who.name, req.Reason, &req.Snapshot)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	writeJSON(w, r, http.StatusOK, res)
}

// applyRestore re-applies the overrides of doc, a checked snapshot, and
// audits the restore, under opMu. A refused restore (a guard's policy, too
// many guards to create) creates and changes nothing; when the audit
// record cannot be written, the overrides are rolled back as far as they
// can be, and the guards created remain.
func (s *Server) applyRestore(ctx context.Context, actor, reason string, doc *Snapshot) (RestoreResult, *Problem) {
	slices.SortFunc(doc.Guards, func(a, b SnapshotGuard) int { return strings.Compare(a.Name, b.Name) })
	m := breaker.Manual{Actor: actor, Reason: reason}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	now := s.now()
	steps, skipped, p := s.planRestore(doc, now)
	if p != nil {
		return RestoreResult{}, p
	}
	created, p := s.createGuards(steps)
	if p != nil {
		return RestoreResult{}, p
	}
	gs := make([]*core.Guard, len(steps))
	before := make([]GuardState, len(steps))
	for i, st := range steps {
		gs[i], before[i] = st.g, stateOf(st.g)
		applyOverride(st.g, st.sg.Override, now, m)
	}
	after := statesOf(gs)
	rec := AuditRecord{
		Actor: actor, Op: OpRestore, Reason: reason,
		Params: map[string]string{"snapshotTakenAt": formatTime(doc.TakenAt)},
		Before: before, After: after, Created: created,
	}
	if p := s.audit(ctx, &rec, gs); p != nil {
		return RestoreResult{}, p
	}
	res := RestoreResult{Changes: changesOf(gs, before, after), Skipped: skipped, AuditSeq: rec.Seq}
	for _, c := range created {
		res.Created = append(res.Created, c.Guard)
	}
	return res, nil
}

// restoreStep is a guard a restore acts on: the snapshot's entry and the
// guard, nil until createGuards creates it.
type restoreStep struct {
	sg *SnapshotGuard
	g  *core.Guard
}

// planRestore finds the guards of doc a restore acts on at now, and checks
// each one's policy and the number of guards to create, so that a refused
// restore creates and changes nothing. It skips the guards whose open
// override has ended (returned in skipped), and those automatic in the
// snapshot and here or, missing here, in the snapshot.
func (s *Server) planRestore(doc *Snapshot, now time.Time) (steps []restoreStep, skipped []string, p *Problem) {
	creates := 0
	for i := range doc.Guards {
		sg := &doc.Guards[i]
		g, existed := s.reg.Lookup(sg.Name)
		o := sg.Override
		switch {
		case o != nil && o.State == breaker.Open && !o.Until.After(now):
			skipped = append(skipped, sg.Name)
			continue
		case existed && o == nil && stateOf(g).Override == nil:
			continue // automatic here and in the snapshot
		case !existed && o == nil:
			continue // nothing to re-apply, and no reason to create it
		}
		if p := s.checkRestorePolicy(sg); p != nil {
			return nil, nil, p
		}
		if !existed {
			creates++
		}
		steps = append(steps, restoreStep{sg, g})
	}
	if creates > s.cfg.maxCreates {
		return nil, nil, problem(http.StatusBadRequest, codeTooManyGuards, fmt.Sprintf(
			"snapshot: the restore would create %d guards that do not exist yet, more than the %d one restore may create (WithMaxRestoreCreates); restore a smaller snapshot, or raise the limit", creates, s.cfg.maxCreates))
	}
	return steps, skipped, nil
}

// createGuards creates the guards of steps that do not exist yet, with the
// policy each name resolves to and the snapshot's tags, and returns them as
// the audit record lists them.
func (s *Server) createGuards(steps []restoreStep) ([]CreatedGuard, *Problem) {
	var created []CreatedGuard
	for i := range steps {
		st := &steps[i]
		if st.g != nil {
			continue
		}
		// No UsePolicy: the guard gets the policy its name resolves to,
		// the one checked by planRestore and the one the application's
		// first use would have given it.
		var opts []core.GuardOption
		if len(st.sg.Tags) > 0 {
			opts = append(opts, core.WithTags(st.sg.Tags...))
		}
		g, err := s.reg.Guard(st.sg.Name, opts...)
		if err != nil { // cannot happen: the name and its policy were checked
			p := problem(http.StatusInternalServerError, codeInternal, fmt.Sprintf("snapshot: guard %s: creating it: %v; no override was applied", quote(st.sg.Name), err))
			p.Guard = st.sg.Name
			return nil, p
		}
		st.g = g
		created = append(created, CreatedGuard{Guard: g.Name(), Policy: g.Policy().Name, Tags: slices.Clone(g.Tags())})
	}
	return created, nil
}

// applyOverride puts g in the snapshot's override o at now; a nil o ends a
// manual state or open that the snapshot does not have.
func applyOverride(g *core.Guard, o *Override, now time.Time, m breaker.Manual) {
	switch {
	case o == nil:
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
