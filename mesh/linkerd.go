package mesh

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Linkerd's annotations (Linkerd 2.16 and later), as documented at
// https://linkerd.io/2/reference/circuit-breaking/,
// https://linkerd.io/2/reference/retries/ and
// https://linkerd.io/2/reference/timeouts/.
const (
	linkerdFailureAccrual  = "balancer.linkerd.io/failure-accrual"
	linkerdMaxFailures     = "balancer.linkerd.io/failure-accrual-consecutive-max-failures"
	linkerdMinPenalty      = "balancer.linkerd.io/failure-accrual-consecutive-min-penalty"
	linkerdMaxPenalty      = "balancer.linkerd.io/failure-accrual-consecutive-max-penalty"
	linkerdJitterRatio     = "balancer.linkerd.io/failure-accrual-consecutive-jitter-ratio"
	linkerdRetryHTTP       = "retry.linkerd.io/http"
	linkerdRetryLimit      = "retry.linkerd.io/limit"
	linkerdRetryTimeout    = "retry.linkerd.io/timeout"
	linkerdTimeoutRequest  = "timeout.linkerd.io/request"
	linkerdRetryHTTPStatus = "5xx"
)

// Gateway API's gateway.networking.k8s.io/v1 HTTPRoute, the fields this
// package writes (https://gateway-api.sigs.k8s.io/reference/spec/).
type (
	httpRouteSpec struct {
		ParentRefs []parentRef     `json:"parentRefs"`
		Rules      []httpRouteRule `json:"rules"`
	}
	parentRef struct {
		Group string `json:"group"`
		Kind  string `json:"kind"`
		Name  string `json:"name"`
		Port  int    `json:"port,omitempty"`
	}
	httpRouteRule struct {
		Matches []httpRouteMatch `json:"matches"`
	}
	httpRouteMatch struct {
		Path httpPathMatch `json:"path"`
	}
	httpPathMatch struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	}
)

// kubeService splits a host into the Kubernetes Service it names: "name",
// "name.ns.svc" or "name.ns.svc.cluster.local". ok is false for any other
// host ("api.stripe.com", or "name.ns", which may as well be external).
func kubeService(host string) (name, namespace string, ok bool) {
	labels := strings.Split(strings.TrimSuffix(host, ".cluster.local"), ".")
	switch {
	case len(labels) == 1:
		return labels[0], "", labelRE.MatchString(labels[0])
	case len(labels) == 3 && labels[2] == "svc":
		return labels[0], labels[1], labelRE.MatchString(labels[0]) && labelRE.MatchString(labels[1])
	}
	return "", "", false
}

func linkerdObjects(p resolved, opts Options) ([]Object, []Loss, error) {
	var loss []Loss
	add := func(field string, kind LossKind, format string, args ...any) {
		loss = append(loss, Loss{Policy: p.Name, Field: field, Kind: kind, Message: fmt.Sprintf(format, args...)})
	}
	svc, ns, ok := kubeService(p.Host)
	if !ok {
		svc = objectName(p.Host)
		add("match", Warning, "host %q is not a Kubernetes Service; Linkerd configures Services of the cluster (an external host needs an EgressNetwork), so the objects name a Service %q", p.Host, svc)
	}
	if ns == "" {
		ns = opts.Namespace
	}
	var objs []Object

	if p.Mode == "auto" && p.ConsecutiveFailures > 0 {
		meta := newMeta(p, opts)
		meta.Name, meta.Namespace, meta.Labels = svc, ns, nil
		meta.Annotations[linkerdFailureAccrual] = "consecutive"
		meta.Annotations[linkerdMaxFailures] = strconv.Itoa(p.ConsecutiveFailures)
		meta.Annotations[linkerdMinPenalty] = protoDuration(atLeastMillisecond(p, "breaker.openDuration", p.OpenDuration, &loss))
		meta.Annotations[linkerdMaxPenalty] = protoDuration(atLeastMillisecond(p, "breaker.maxOpenDuration", p.MaxOpenDuration, &loss))
		if p.Breaker != nil && p.Breaker.OpenJitter > 0 {
			meta.Annotations[linkerdJitterRatio] = strconv.FormatFloat(p.Breaker.OpenJitter, 'f', -1, 64)
		}
		obj, err := objectOf(p, kubeObject{APIVersion: "v1", Kind: "Service", Metadata: meta})
		if err != nil {
			return nil, nil, err
		}
		objs = append(objs, obj)
		add("breaker.openBackoff", Approximated, "the penalty grows from min-penalty (%s) to max-penalty (%s) by Linkerd's own factor, not ×%g per failed probe; the Service object carries annotations only: apply it with kubectl apply --server-side to an existing Service", p.OpenDuration, p.MaxOpenDuration, p.OpenBackoff)
	}
	if p.Mode == "auto" && p.FailureRate > 0 {
		add("breaker.failureRate", Lost, "failure-rate trips (%g%% over the last %s): Linkerd's failure accrual counts consecutive failures only", p.FailureRate, windowText(p))
	}
	if bh := p.Bulkhead; bh != nil {
		add("bulkhead", Lost, "concurrency limit (%d at once, queue %d): Linkerd's client proxy has no limit on calls in flight", bh.MaxConcurrent, bh.MaxQueue)
	}
	if p.RateLimit != nil {
		add("rateLimit", Lost, "rate limit (%g per %s): Linkerd's HTTPLocalRateLimitPolicy limits a server's inbound traffic, not one client's calls", p.RateLimit.Limit, cmpDur(time.Duration(p.RateLimit.Per), time.Second))
	}

	meta := newMeta(p, opts)
	meta.Namespace = ns
	if p.Attempts > 1 {
		meta.Annotations[linkerdRetryHTTP] = linkerdRetryHTTPStatus
		meta.Annotations[linkerdRetryLimit] = strconv.Itoa(p.Attempts - 1)
		if p.Timeout > 0 {
			meta.Annotations[linkerdRetryTimeout] = protoDuration(atLeastMillisecond(p, "timeout", time.Duration(p.Timeout), &loss))
		}
		add("retry", Approximated, "retry.linkerd.io/http %q: breakerbox retries what its classifier counts as a failure; Linkerd retries 5xx responses (and never a request body over 64KiB)", linkerdRetryHTTPStatus)
		add("retry.initialDelay", Lost, "back-off between attempts (%s ×%g up to %s): Linkerd's annotations have no back-off", p.InitialDelay, p.Multiplier, p.MaxDelay)
		if p.Retry.Budget != nil {
			add("retry.budget", Lost, "retry budget (ratio %g, %d/s): Linkerd's annotation retries have none", p.BudgetRatio, p.BudgetMin)
		}
	}
	if t := routeTimeout(p); t > 0 {
		meta.Annotations[linkerdTimeoutRequest] = protoDuration(atLeastMillisecond(p, "totalTimeout", t, &loss))
	}
	ref := parentRef{Group: "core", Kind: "Service", Name: svc, Port: opts.Port}
	route := kubeObject{APIVersion: "gateway.networking.k8s.io/v1", Kind: "HTTPRoute", Metadata: meta, Spec: httpRouteSpec{
		ParentRefs: []parentRef{ref},
		Rules:      []httpRouteRule{{Matches: []httpRouteMatch{{Path: httpPathMatch{Type: "PathPrefix", Value: "/"}}}}},
	}}
	obj, err := objectOf(p, route)
	if err != nil {
		return nil, nil, err
	}
	return append(objs, obj), loss, nil
}
