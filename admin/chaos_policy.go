package admin

import (
	"context"
	"strconv"
	"sync"

	"github.com/breakerbox/breakerbox/chaos"
)

// The chaos experiments of the policy document (core.Document.Chaos) start
// and stop when a document is applied, through the admin API or not (a
// watched file, package policy's Manager in the program): each change is
// audited like an experiment of POST /v1/chaos/experiments, with the
// document's actor (its author, or "policy"), the operation chaos-start or
// chaos-stop, and the parameters source "policy" and policyVersion. A
// start that failed is recorded with its error. The records are written
// in order, each under the write lock, after the apply's own record when
// the apply came through the admin API.

// policyChaosAudit queues the policy document's chaos changes for the
// audit log.
type policyChaosAudit struct {
	mu       sync.Mutex // guards the fields below
	queue    []chaos.PolicyChange
	draining bool
}

// auditPolicyChaos records the policy document's chaos changes while the
// server lives; it returns the function that stops that.
func (s *Server) auditPolicyChaos() (stop func()) {
	in, err := chaos.From(s.reg)
	if err != nil {
		return func() {}
	}
	q := &policyChaosAudit{}
	return in.ObservePolicy(func(c chaos.PolicyChange) {
		q.mu.Lock()
		q.queue = append(q.queue, c)
		if q.draining {
			q.mu.Unlock()
			return
		}
		q.draining = true
		q.mu.Unlock()
		// The change may be made while this server holds its write lock
		// (an apply through PUT /v1/policies): record it once that ends.
		go s.drainPolicyChaos(q)
	})
}

func (s *Server) drainPolicyChaos(q *policyChaosAudit) {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.draining = false
			q.mu.Unlock()
			return
		}
		c := q.queue[0]
		q.queue = q.queue[1:]
		q.mu.Unlock()
		op := OpChaosStart
		if c.Op == "stop" {
			op = OpChaosStop
		}
		params := chaosParams(c.Experiment)
		params["source"] = chaos.SourcePolicy
		params["policyVersion"] = strconv.FormatUint(c.Version, 10)
		if c.Err != nil {
			params["error"] = c.Err.Error()
		}
		rec := AuditRecord{Actor: c.Actor, Op: op, Reason: c.Experiment.Reason, Params: params}
		s.opMu.Lock()
		err := s.record(context.Background(), &rec)
		s.opMu.Unlock()
		if err != nil {
			s.cfg.logger.Error("breakerbox admin: audit record lost; chaos experiment of the policy document changed", "op", op, "experiment", c.Experiment.ID, "actor", c.Actor, "err", err)
		}
	}
}
