package mesh

import (
	"fmt"
	"slices"
	"strings"

	"github.com/breakerbox/breakerbox/core"
)

// meshName is the name a loss message uses for the mesh.
func meshName(f Format) string {
	switch f {
	case Istio:
		return "Istio"
	case Linkerd:
		return "Linkerd"
	}
	return "Envoy"
}

// commonLoss is what no mesh of this package can express of p: the parts
// of a breakerbox guard that live in the application.
func commonLoss(p resolved, f Format) []Loss {
	m := meshName(f)
	var out []Loss
	add := func(field string, kind LossKind, format string, args ...any) {
		out = append(out, Loss{Policy: p.Name, Field: field, Kind: kind, Message: fmt.Sprintf(format, args...)})
	}
	if bh := p.Bulkhead; bh != nil && bh.Adaptive != nil {
		alg := bh.Adaptive.Algorithm
		if alg == "" {
			alg = "gradient2"
		}
		add("bulkhead.adaptive", Approximated, "the adaptive concurrency limit (%s) is written as its starting limit, %d: the mesh's limit is fixed", alg, bh.MaxConcurrent)
	}
	if len(p.DependsOn) > 0 {
		add("dependsOn", Lost, "dependencies between circuits (%s) open this guard from the application's registry; a mesh ejects endpoints of one destination at a time", strings.Join(p.DependsOn, ", "))
	}
	if p.Fleet != nil {
		adopt, _, _ := p.Fleet.Rule()
		add("fleet", Lost, "fleet mode (verdicts shared across replicas, adopted by the %q rule) runs in the application's registry; each client proxy ejects on its own evidence", adopt)
	}
	if p.Throttle != nil {
		add("throttle", Lost, "client-side adaptive throttling runs in the application: the mesh sends every call")
	}
	if p.Machine != nil {
		add("machine", Lost, "custom states (%d, starting in %q) run in the application's guards: a mesh has no states of its own beside ejection", len(p.Machine.States), p.Machine.Initial)
	}
	if p.Breaker != nil && p.Breaker.Learned != nil {
		add("breaker.learned", Lost, "the learned trip rule (a departure from the dependency's usual failure rate) runs in the application; outlier detection has fixed thresholds")
	}
	if p.HostGuessed {
		add("match", Warning, "no match pattern is a host name; the destination host is %q, the policy's name (pass --service to name it)", p.Host)
	}
	b := p.Breaker
	if b == nil {
		b = &core.BreakerPolicy{}
	}
	switch p.Mode {
	case "auto":
		add("breaker", Lost, "breaking for a whole service: %s ejects failing endpoints (pods) one at a time from the load-balancing pool; breakerbox's breaker stops every call of the policy at once, whichever endpoint would answer it", m)
		add("breaker", Lost, "shared state: each client proxy keeps its own ejection state; breakerbox keeps one breaker per guard for the whole process, with force open/close, tags and notifications through the admin API")
		add("breaker.halfOpenProbes", Lost, "half-open probing (%d probe(s) at a time, %d success(es) to close): an ejected endpoint returns to the pool when its ejection time ends, with its full share of traffic", cmpInt(b.HalfOpenProbes, defaultHalfOpenProbes), cmpInt(b.SuccessThreshold, defaultSuccessThreshold))
	case "forced-open":
		add("breaker.mode", Lost, "a breaker forced open has no %s counterpart: the configuration written lets calls through", m)
	default:
		add("breaker.mode", Warning, "breaker mode %q: no outlier detection is written, as the breaker does not trip", p.Mode)
	}
	if b.SlowCallDuration > 0 && p.Mode == "auto" {
		add("breaker.slowCallRate", Lost, "slow-call trips (calls over %s): %s's outlier detection counts errors, not latency", b.SlowCallDuration, m)
	}
	if len(b.RampSteps) > 0 && p.Mode == "auto" {
		add("breaker.rampSteps", Lost, "the ramp of traffic after a trip (%v %%): an endpoint comes back at once", b.RampSteps)
	}
	if (b.GraceCalls > 0 || b.GraceDuration > 0) && p.Mode == "auto" {
		add("breaker.graceCalls", Lost, "grace calls or duration after a trip: ejection is immediate")
	}
	if len(p.Fallbacks) > 0 {
		names := make([]string, len(p.Fallbacks))
		for i, fb := range p.Fallbacks {
			names[i] = fb.Name
		}
		add("fallbacks", Lost, "fallbacks (%s) run in the application; the mesh returns the error (503 when no endpoint is left)", strings.Join(names, ", "))
	}
	if p.Hedge != nil {
		add("hedge", Lost, "hedged requests (another attempt after %s, up to %d): the export writes no hedging; Envoy's route hedge_policy and Istio/Linkerd have nothing that starts a second request before the first fails", p.Hedge.Delay, max(p.Hedge.MaxHedges, 1))
	}
	if p.Cache != nil {
		add("cache", Lost, "the cached fallback (stale answers up to %s old) runs in the application; the mesh returns the error", p.Cache.MaxStaleness)
	}
	if p.Critical {
		add("critical", Lost, "readiness failing while the breaker is open is the application's health check; the mesh does not change readiness")
	}
	if p.Retry != nil && p.Retry.Jitter != "" && p.Retry.Jitter != "full" && f != Linkerd {
		add("retry.jitter", Approximated, "jitter %q: %s's retry back-off is always fully jittered", p.Retry.Jitter, m)
	}
	if p.Attempts > 1 && f != Envoy { // Envoy writes no retries (see envoyObjects)
		add("retry.maxAttempts", Warning, "mesh retries multiply application retries: while the application keeps retry.maxAttempts %d, a call reaches the destination up to %d × %d = %d times; set retry.maxAttempts: 1 in the application's policy when the mesh retries (or leave the mesh's retries out)", p.Attempts, p.Attempts, p.Attempts, p.Attempts*p.Attempts)
	}
	return out
}

// documentLoss is what no mesh can express of the document as a whole, for
// the exported policies: tenant overlays and variants, which depend on keys
// and attributes only the application knows.
func documentLoss(doc core.Document, ps []resolved, f Format) []Loss {
	exported := make([]string, len(ps))
	for i, p := range ps {
		exported[i] = p.Name
	}
	var out []Loss
	if doc.Tenants != nil {
		for i, o := range doc.Tenants.Overrides {
			for j, op := range o.Policies {
				if !slices.Contains(exported, op.Name) {
					continue
				}
				msg := fmt.Sprintf("the overlay for tenant %q: %s applies one configuration to every caller; tenant keys are the application's", o.Tenant, meshName(f))
				if o.Tenant == "*" {
					msg = fmt.Sprintf("the overlay for every tenant without one of its own (\"*\"): most callers run with it in the application, while %s gets the base policy; tenant keys are the application's", meshName(f))
				}
				out = append(out, Loss{Policy: op.Name, Field: fmt.Sprintf("tenants.overrides[%d].policies[%d]", i, j), Kind: Lost, Message: msg})
			}
		}
	}
	for i, v := range doc.Variants {
		if !slices.Contains(exported, v.Policy) {
			continue
		}
		what := "A/B variant"
		if v.Shadow {
			what = "shadow variant"
		}
		out = append(out, Loss{Policy: v.Policy, Field: fmt.Sprintf("variants[%d]", i), Kind: Lost,
			Message: fmt.Sprintf("%s %q: segments are chosen from keys and attributes the application computes; the export holds the control policy only", what, v.Name)})
	}
	// The operations sections act on the application's guards at run time.
	for i, w := range doc.Maintenance {
		out = append(out, Loss{Field: fmt.Sprintf("maintenance[%d]", i), Kind: Lost,
			Message: fmt.Sprintf("maintenance window %q: the application's scheduler forces its guards open or metrics-only; %s has no scheduled state", w.Name, meshName(f))})
	}
	for i, e := range doc.Chaos {
		out = append(out, Loss{Field: fmt.Sprintf("chaos[%d]", i), Kind: Lost,
			Message: fmt.Sprintf("chaos experiment %q: faults are injected by the application's guards, not by %s", e.ID, meshName(f))})
	}
	return out
}
