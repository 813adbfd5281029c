package mesh

import (
	"fmt"
	"time"
)

// Istio's networking.istio.io/v1 types, the fields this package writes
// (https://istio.io/latest/docs/reference/config/networking/).
type (
	istioDestinationRuleSpec struct {
		Host          string             `json:"host"`
		TrafficPolicy istioTrafficPolicy `json:"trafficPolicy"`
	}
	istioTrafficPolicy struct {
		ConnectionPool   *istioConnectionPool   `json:"connectionPool,omitempty"`
		OutlierDetection *istioOutlierDetection `json:"outlierDetection,omitempty"`
	}
	istioConnectionPool struct {
		TCP  *istioTCPSettings  `json:"tcp,omitempty"`
		HTTP *istioHTTPSettings `json:"http,omitempty"`
	}
	istioTCPSettings struct {
		MaxConnections int `json:"maxConnections,omitempty"`
	}
	istioHTTPSettings struct {
		HTTP1MaxPendingRequests int `json:"http1MaxPendingRequests,omitempty"`
		HTTP2MaxRequests        int `json:"http2MaxRequests,omitempty"`
		MaxRetries              int `json:"maxRetries,omitempty"`
	}
	istioOutlierDetection struct {
		Consecutive5xxErrors       *int   `json:"consecutive5xxErrors,omitempty"`
		FailurePercentageThreshold *int   `json:"failurePercentageThreshold,omitempty"`
		Interval                   string `json:"interval,omitempty"`
		BaseEjectionTime           string `json:"baseEjectionTime"`
		MaxEjectionPercent         int    `json:"maxEjectionPercent"`
		MinHealthPercent           int    `json:"minHealthPercent"`
	}

	istioVirtualServiceSpec struct {
		Hosts []string         `json:"hosts"`
		HTTP  []istioHTTPRoute `json:"http"`
	}
	istioHTTPRoute struct {
		Route   []istioRouteDestination `json:"route"`
		Timeout string                  `json:"timeout,omitempty"`
		Retries *istioRetries           `json:"retries,omitempty"`
	}
	istioRouteDestination struct {
		Destination istioDestination `json:"destination"`
	}
	istioDestination struct {
		Host string     `json:"host"`
		Port *istioPort `json:"port,omitempty"`
	}
	istioPort struct {
		Number int `json:"number"`
	}
	istioRetries struct {
		Attempts      int    `json:"attempts"`
		PerTryTimeout string `json:"perTryTimeout,omitempty"`
		RetryOn       string `json:"retryOn,omitempty"`
		Backoff       string `json:"backoff,omitempty"`
	}
)

// defaultOutlierInterval is Envoy's (and so Istio's) outlier detection
// interval.
const defaultOutlierInterval = 10 * time.Second

func istioObjects(p resolved, opts Options) ([]Object, []Loss, error) {
	var loss []Loss
	add := func(field string, kind LossKind, format string, args ...any) {
		loss = append(loss, Loss{Policy: p.Name, Field: field, Kind: kind, Message: fmt.Sprintf(format, args...)})
	}

	var tp istioTrafficPolicy
	if bh := p.Bulkhead; bh != nil {
		pending := bh.MaxQueue
		if pending == 0 {
			pending = 1
			add("bulkhead.maxQueue", Approximated, "no queue: Istio reads 0 as its default (unbounded), so http1MaxPendingRequests is 1, the least it takes")
		} else {
			add("bulkhead.maxQueue", Approximated, "http1MaxPendingRequests (%d) counts requests waiting for a connection; a request over http2MaxRequests is rejected at once (503), not queued", pending)
		}
		http := &istioHTTPSettings{HTTP1MaxPendingRequests: pending, HTTP2MaxRequests: bh.MaxConcurrent}
		if p.Attempts > 1 {
			// A call has one attempt in flight at a time, so no more than
			// maxConcurrent retries are ever outstanding.
			http.MaxRetries = bh.MaxConcurrent
		}
		tp.ConnectionPool = &istioConnectionPool{TCP: &istioTCPSettings{MaxConnections: bh.MaxConcurrent}, HTTP: http}
		if bh.MaxWait > 0 {
			add("bulkhead.maxWait", Lost, "the longest wait for a slot (%s): a pending request waits until the route's timeout", bh.MaxWait)
		}
	}
	if p.RateLimit != nil {
		add("rateLimit", Lost, "rate limit (%g per %s): DestinationRule and VirtualService have none (Envoy's local rate limit needs an EnvoyFilter)", p.RateLimit.Limit, cmpDur(time.Duration(p.RateLimit.Per), time.Second))
	}
	if p.Mode == "auto" {
		od := &istioOutlierDetection{
			BaseEjectionTime:   protoDuration(atLeastMillisecond(p, "breaker.openDuration", p.OpenDuration, &loss)),
			MaxEjectionPercent: 100,
			MinHealthPercent:   0,
		}
		consecutive := p.ConsecutiveFailures // 0 turns Istio's default of 5 off
		od.Consecutive5xxErrors = &consecutive
		if p.FailureRate > 0 {
			rate := percent(p.FailureRate)
			od.FailurePercentageThreshold = &rate
			interval := defaultOutlierInterval
			if p.Window == "time" {
				interval = p.WindowDuration
				od.Interval = protoDuration(atLeastMillisecond(p, "breaker.windowDuration", interval, &loss))
			}
			add("breaker.failureRate", Approximated, "failure rate %g%% over the last %s: Istio ejects an endpoint whose failure percentage over each %s interval reaches %d%%; Istio has no field for the minimum of calls (minCalls %d) nor of endpoints, where Envoy's defaults are 50 requests and 5 endpoints", p.FailureRate, windowText(p), interval, rate, p.MinCalls)
		}
		add("breaker", Approximated, "maxEjectionPercent 100 and minHealthPercent 0 let every endpoint be ejected, but Envoy's panic threshold (50%% healthy by default) then spreads traffic over all endpoints again")
		if p.OpenBackoff != 1 {
			add("breaker.openBackoff", Approximated, "ejection time grows linearly (baseEjectionTime × times ejected), not ×%g per failed probe; Istio has no maxOpenDuration (%s): Envoy's max_ejection_time of 300s applies", p.OpenBackoff, p.MaxOpenDuration)
		}
		if p.Breaker != nil && p.Breaker.OpenJitter > 0 {
			add("breaker.openJitter", Lost, "open-duration jitter (%g): Istio writes no ejection jitter", p.Breaker.OpenJitter)
		}
		tp.OutlierDetection = od
	}
	dr := kubeObject{APIVersion: "networking.istio.io/v1", Kind: "DestinationRule", Metadata: newMeta(p, opts),
		Spec: istioDestinationRuleSpec{Host: p.Host, TrafficPolicy: tp}}

	route := istioHTTPRoute{Route: []istioRouteDestination{{Destination: istioDestination{Host: p.Host}}}}
	if opts.Port > 0 {
		route.Route[0].Destination.Port = &istioPort{Number: opts.Port}
	}
	if t := routeTimeout(p); t > 0 {
		route.Timeout = protoDuration(atLeastMillisecond(p, "totalTimeout", t, &loss))
	}
	// attempts: 0 turns off Istio's default retries (2) for a policy that
	// makes one attempt.
	route.Retries = &istioRetries{Attempts: p.Attempts - 1}
	if p.Attempts > 1 {
		route.Retries.RetryOn = retryOnHTTP
		route.Retries.Backoff = protoDuration(atLeastMillisecond(p, "retry.initialDelay", p.InitialDelay, &loss))
		if p.Timeout > 0 {
			route.Retries.PerTryTimeout = protoDuration(atLeastMillisecond(p, "timeout", time.Duration(p.Timeout), &loss))
		}
		add("retry", Approximated, "retryOn %q: breakerbox retries what its classifier counts as a failure (and never a call its own guard rejected); the mesh retries by status and connection errors", retryOnHTTP)
		add("retry.maxDelay", Approximated, "back-off from %s ×%g up to %s: Envoy's back-off starts at the base interval and grows to at most 10× it", p.InitialDelay, p.Multiplier, p.MaxDelay)
		if p.Retry.Budget != nil {
			add("retry.budget", Lost, "retry budget (ratio %g, %d/s): Istio has none; connectionPool.http.maxRetries caps the retries in flight only", p.BudgetRatio, p.BudgetMin)
		}
	}
	vs := kubeObject{APIVersion: "networking.istio.io/v1", Kind: "VirtualService", Metadata: newMeta(p, opts),
		Spec: istioVirtualServiceSpec{Hosts: []string{p.Host}, HTTP: []istioHTTPRoute{route}}}

	var objs []Object
	for _, o := range []kubeObject{dr, vs} {
		obj, err := objectOf(p, o)
		if err != nil {
			return nil, nil, err
		}
		objs = append(objs, obj)
	}
	return objs, loss, nil
}

// windowText describes the breaker's window.
func windowText(p resolved) string {
	if p.Window == "time" {
		return p.WindowDuration.String()
	}
	return fmt.Sprintf("%d calls", p.WindowSize)
}
