package chaos

// Experiments of the policy document (core.Document.Chaos, issue #23).
//
// An Injector follows the policy documents of the registry it is attached
// to (core.Registry.Follow, done by AttachRegistry): an experiment of the
// document starts when the document that adds it, or changes it, is
// applied, with the source "policy" and the document's actor (its author,
// or "policy"); it is stopped when a document without it is applied.
// Applying a document again with the experiment unchanged neither restarts
// it nor stops it, even once it has ended or an operator stopped it. The
// kill switch and Stop end document experiments like any other.
//
// The checks of Start run before the document is applied (in
// core.Registry.Check and Apply): the fault, rate, latency, share, trips
// and the end time against Config.MaxDuration, and named guards that are
// excluded or critical. What depends on the guards that exist when it
// starts (a scope with no guard yet, more guards under chaos than
// Config.MaxGuards) is found at the start: the experiment then does not
// start, and the PolicyChange given to ObservePolicy's functions says why.

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// SourcePolicy is Experiment.Source for an experiment of the policy
// document.
const SourcePolicy = "policy"

// PolicyChange is an experiment the policy document started or stopped (or
// failed to start), for the audit log (the admin API records one for each).
type PolicyChange struct {
	// Op is "start" or "stop".
	Op string
	// Experiment is the experiment as started or stopped; for a start that
	// failed, as the document gave it.
	Experiment Status
	// Version is the document version that made the change; Actor applied
	// it.
	Version uint64
	Actor   string
	// Err is why a start failed; nil otherwise.
	Err error
}

// policyState is what the Injector knows of the policy document's
// experiments; guarded by Injector.mu.
type policyState struct {
	version   uint64            // the newest version given
	defs      map[string]string // experiment id -> its definition, as last given
	observers []*func(PolicyChange)
}

// ObservePolicy calls f with every change the policy document makes to
// the experiments, after it is made, outside the Injector's lock; cancel
// stops that.
func (in *Injector) ObservePolicy(f func(PolicyChange)) (cancel func()) {
	p := &f
	in.mu.Lock()
	in.pol.observers = append(in.pol.observers, p)
	in.mu.Unlock()
	return func() {
		in.mu.Lock()
		in.pol.observers = slices.DeleteFunc(in.pol.observers, func(q *func(PolicyChange)) bool { return q == p })
		in.mu.Unlock()
	}
}

// policyFollower is the Injector as a core.DocumentFollower.
type policyFollower struct{ in *Injector }

// Section implements core.DocumentFollower.
func (policyFollower) Section() string { return "chaos" }

// experimentOf is a document experiment as an Experiment ending at the
// experiment's Ends, or at from plus its Duration.
func experimentOf(e core.ChaosExperiment, from time.Time) Experiment {
	x := Experiment{
		ID: e.ID, Fault: Fault(e.Fault), Rate: e.Rate, Latency: e.Latency, Message: e.Message,
		Guards: slices.Clone(e.Guards), Tags: slices.Clone(e.Tags), Tenants: slices.Clone(e.Tenants),
		Percent: e.Percent, Trips: e.Trips, AllowCritical: e.AllowCritical, Ends: e.Ends, Reason: e.Reason,
		Source: SourcePolicy,
	}
	if x.Ends.IsZero() {
		x.Ends = from.Add(time.Duration(e.Duration))
	}
	return x
}

// CheckDocument implements core.DocumentFollower: each experiment as Start
// would check it, at now, and the guards it names.
func (f policyFollower) CheckDocument(doc core.Document, now time.Time) []core.Problem {
	in := f.in
	in.mu.Lock()
	defer in.mu.Unlock()
	var probs []core.Problem
	ls := in.live.Load()
	for i, de := range doc.Chaos {
		path := "chaos[" + strconv.Itoa(i) + "]"
		e := experimentOf(de, now)
		if !de.Ends.IsZero() && !de.Ends.After(now) {
			continue // ended: nothing to start
		}
		if err := e.Validate(now, in.cfg.MaxDuration); err != nil {
			probs = append(probs, problemOf(path, err, de))
			continue
		}
		if ls != nil {
			for _, r := range ls.exps {
				if r.ID == de.ID && r.Source != SourcePolicy {
					probs = append(probs, core.Problem{Path: path + ".id", Value: strconv.Quote(de.ID), Message: fmt.Sprintf("an experiment started through the API runs as %q; stop it or give this one another id", de.ID)})
				}
			}
		}
		for j, n := range de.Guards {
			g, ok := in.reg.Lookup(n)
			if !ok {
				continue // the core checked the name; the guard comes later
			}
			gp := fmt.Sprintf("%s.guards[%d]", path, j)
			switch {
			case slices.Contains(in.cfg.Exclude, n) || slices.ContainsFunc(in.cfg.ExcludeTags, g.HasTag):
				probs = append(probs, core.Problem{Path: gp, Value: strconv.Quote(n), Message: fmt.Sprintf("%q is excluded from chaos (Config.Exclude, Config.ExcludeTags)", n)})
			case g.Critical() && !de.AllowCritical:
				probs = append(probs, core.Problem{Path: gp, Value: strconv.Quote(n), Message: fmt.Sprintf("%q is critical; set allowCritical to include it", n)})
			}
		}
	}
	return probs
}

// problemOf turns an error of Validate ("chaos: rate: 1.5 is above 1")
// into a problem at the field it names.
func problemOf(path string, err error, e core.ChaosExperiment) core.Problem {
	msg := strings.TrimPrefix(err.Error(), "chaos: ")
	field, rest, ok := strings.Cut(msg, ": ")
	if !ok || strings.ContainsAny(field, " \"") {
		return core.Problem{Path: path, Message: msg}
	}
	p := core.Problem{Path: path + "." + field, Message: rest}
	switch field {
	case "rate":
		p.Value = strconv.FormatFloat(e.Rate, 'g', -1, 64)
	case "latency":
		p.Value = strconv.Quote(e.Latency.String())
	case "ends":
		if e.Ends.IsZero() {
			p.Path, p.Value = path+".duration", strconv.Quote(e.Duration.String())
			p.Message = strings.Replace(rest, "is more than", "ends more than", 1)
		} else {
			p.Value = strconv.Quote(e.Ends.Format(time.RFC3339))
		}
	case "fault":
		p.Value = strconv.Quote(e.Fault)
	case "percent":
		p.Value = strconv.FormatFloat(e.Percent, 'g', -1, 64)
	case "trips":
		p.Value = strconv.Itoa(e.Trips)
	}
	return p
}

// DocumentApplied implements core.DocumentFollower: it stops the policy
// experiments the document removed or changed, and starts those it added
// or changed.
func (f policyFollower) DocumentApplied(doc core.Document, a core.AppliedDocument) {
	in := f.in
	in.mu.Lock()
	if a.Version < in.pol.version {
		in.mu.Unlock()
		return // an older document, reported late
	}
	in.pol.version = a.Version
	now := in.now()
	in.expireLocked(now)
	defs := make(map[string]string, len(doc.Chaos))
	for _, e := range doc.Chaos {
		b, _ := json.Marshal(e)
		defs[e.ID] = string(b)
	}
	var changes []PolicyChange
	// Stop the policy experiments removed or changed.
	ls := in.live.Load()
	kept := exps(ls)
	kept = slices.DeleteFunc(kept, func(r *running) bool {
		if r.Source != SourcePolicy || defs[r.ID] == in.pol.defs[r.ID] {
			return false
		}
		in.endLocked(r, now)
		changes = append(changes, PolicyChange{Op: "stop", Experiment: r.status(now), Version: a.Version, Actor: a.Actor})
		return true
	})
	if ls != nil && len(kept) != len(ls.exps) {
		in.publishLocked(kept)
	}
	// Start the ones added or changed.
	for _, de := range doc.Chaos {
		if in.pol.defs[de.ID] == defs[de.ID] {
			continue
		}
		e := experimentOf(de, a.At)
		if !e.Ends.After(now) {
			continue
		}
		e.Actor = a.Actor
		why := "policy document version " + strconv.FormatUint(a.Version, 10)
		if e.Reason != "" {
			why += ": " + e.Reason
		}
		e.Reason = why
		st, err := in.startLocked(e)
		c := PolicyChange{Op: "start", Experiment: st, Version: a.Version, Actor: a.Actor, Err: err}
		if err != nil {
			c.Experiment = Status{Experiment: e}
		}
		changes = append(changes, c)
	}
	in.pol.defs = defs
	obs := slices.Clone(in.pol.observers)
	in.mu.Unlock()
	for _, c := range changes {
		for _, o := range obs {
			(*o)(c)
		}
	}
}

var _ core.DocumentFollower = policyFollower{}
