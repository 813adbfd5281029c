package mesh

import (
	"fmt"
	"math"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	endpointv3 "github.com/envoyproxy/go-control-plane/envoy/config/endpoint/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// defaultEnvoyPort is the port of the cluster's endpoint when
// Options.Port is 0.
const defaultEnvoyPort = 80

// EnvoyCluster returns the envoy.config.cluster.v3.Cluster of the export's
// object o (Kind "Cluster"), decoded from its JSON.
func EnvoyCluster(o Object) (*clusterv3.Cluster, error) {
	if o.Kind != "Cluster" {
		return nil, fmt.Errorf("mesh: object %s %s is not an Envoy Cluster", o.Kind, o.Name)
	}
	var c clusterv3.Cluster
	if err := protojson.Unmarshal(o.JSON, &c); err != nil {
		return nil, fmt.Errorf("mesh: cluster %s: %w", o.Name, err)
	}
	return &c, nil
}

func u32(v int) *wrapperspb.UInt32Value {
	return wrapperspb.UInt32(uint32(min(max(v, 0), math.MaxUint32)))
}

func envoyObjects(p resolved, opts Options) ([]Object, []Loss, error) {
	var loss []Loss
	add := func(field string, kind LossKind, format string, args ...any) {
		loss = append(loss, Loss{Policy: p.Name, Field: field, Kind: kind, Message: fmt.Sprintf(format, args...)})
	}
	port := opts.Port
	if port == 0 {
		port = defaultEnvoyPort
	}
	c := &clusterv3.Cluster{
		Name:                 p.Host,
		ClusterDiscoveryType: &clusterv3.Cluster_Type{Type: clusterv3.Cluster_STRICT_DNS},
		LoadAssignment: &endpointv3.ClusterLoadAssignment{
			ClusterName: p.Host,
			Endpoints: []*endpointv3.LocalityLbEndpoints{{LbEndpoints: []*endpointv3.LbEndpoint{{
				HostIdentifier: &endpointv3.LbEndpoint_Endpoint{Endpoint: &endpointv3.Endpoint{
					Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
						Address:       p.Host,
						PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: uint32(port)},
					}}},
				}},
			}}}},
		},
	}

	th := &clusterv3.CircuitBreakers_Thresholds{Priority: corev3.RoutingPriority_DEFAULT}
	if bh := p.Bulkhead; bh != nil {
		th.MaxConnections = u32(bh.MaxConcurrent)
		th.MaxRequests = u32(bh.MaxConcurrent)
		th.MaxPendingRequests = u32(bh.MaxQueue)
		if p.Attempts > 1 {
			// One attempt of a call is in flight at a time: no more than
			// maxConcurrent retries are ever outstanding.
			th.MaxRetries = u32(bh.MaxConcurrent)
		}
		add("bulkhead.maxQueue", Approximated, "max_pending_requests (%d) counts requests waiting for a connection of the pool; a request over max_requests overflows at once (503), it is not queued", bh.MaxQueue)
		if bh.MaxWait > 0 {
			add("bulkhead.maxWait", Lost, "the longest wait for a slot (%s): a pending request waits until the route's timeout", bh.MaxWait)
		}
	} else {
		add("bulkhead", Warning, "no bulkhead: Envoy's default thresholds apply all the same (1024 connections, pending and active requests, 3 retries in flight)")
	}
	if p.Attempts > 1 && p.Retry.Budget != nil {
		th.RetryBudget = &clusterv3.CircuitBreakers_Thresholds_RetryBudget{
			BudgetPercent:       &typev3.Percent{Value: p.BudgetRatio * 100},
			MinRetryConcurrency: u32(p.BudgetMin),
		}
		add("retry.budget", Approximated, "retry budget: budget_percent %g%% of the requests in flight (breakerbox: of the calls of the last %s) and min_retry_concurrency %d retries in flight (breakerbox: %d retries a second)", p.BudgetRatio*100, cmpDur(time.Duration(p.Retry.Budget.Window), 10*time.Second), p.BudgetMin, p.BudgetMin)
	}
	c.CircuitBreakers = &clusterv3.CircuitBreakers{Thresholds: []*clusterv3.CircuitBreakers_Thresholds{th}}

	if p.Mode == "auto" {
		od := &clusterv3.OutlierDetection{
			BaseEjectionTime:   durationpb.New(p.OpenDuration),
			MaxEjectionTime:    durationpb.New(p.MaxOpenDuration),
			MaxEjectionPercent: u32(100),
			// Envoy's success-rate (standard deviation) detection is on by
			// default; breakerbox has nothing like it.
			EnforcingSuccessRate: u32(0),
		}
		if p.ConsecutiveFailures > 0 {
			od.Consecutive_5Xx = u32(p.ConsecutiveFailures)
			od.EnforcingConsecutive_5Xx = u32(100)
		} else {
			od.EnforcingConsecutive_5Xx = u32(0) // Envoy's default: 5 in a row, enforced
		}
		if p.FailureRate > 0 {
			rate := percent(p.FailureRate)
			od.FailurePercentageThreshold = u32(rate)
			od.EnforcingFailurePercentage = u32(100)
			od.FailurePercentageRequestVolume = u32(p.MinCalls)
			od.FailurePercentageMinimumHosts = u32(1)
			interval := defaultOutlierInterval
			if p.Window == "time" {
				interval = p.WindowDuration
				od.Interval = durationpb.New(interval)
			}
			add("breaker.failureRate", Approximated, "failure rate %g%% over the last %s: Envoy ejects an endpoint whose failure percentage over each %s interval reaches %d%%, once it has served %d requests in the interval", p.FailureRate, windowText(p), interval, rate, p.MinCalls)
		}
		if p.Breaker != nil && p.Breaker.OpenJitter > 0 {
			od.MaxEjectionTimeJitter = durationpb.New(time.Duration(float64(p.OpenDuration) * p.Breaker.OpenJitter))
			add("breaker.openJitter", Approximated, "open-duration jitter ±%g: Envoy adds a random 0-%s (max_ejection_time_jitter) to each ejection", p.Breaker.OpenJitter, od.MaxEjectionTimeJitter.AsDuration())
		}
		add("breaker", Approximated, "max_ejection_percent 100 lets every endpoint be ejected, but the cluster's panic threshold (50%% healthy by default) then spreads traffic over all endpoints again")
		if p.OpenBackoff != 1 {
			add("breaker.openBackoff", Approximated, "ejection time grows linearly (base_ejection_time × times ejected) up to max_ejection_time (%s), not ×%g per failed probe", p.MaxOpenDuration, p.OpenBackoff)
		}
		c.OutlierDetection = od
	}
	if p.RateLimit != nil {
		add("rateLimit", Lost, "rate limit (%g per %s): Envoy's local rate limit is an HTTP filter of the listener (envoy.filters.http.local_ratelimit), not a setting of the cluster", p.RateLimit.Limit, cmpDur(time.Duration(p.RateLimit.Per), time.Second))
	}
	if p.Timeout > 0 || p.TotalTimeout > 0 {
		add("timeout", Lost, "timeouts (attempt %s, total %s) are settings of an Envoy route (RouteAction.timeout, retry_policy.per_try_timeout), not of the cluster: not written", time.Duration(p.Timeout), time.Duration(p.TotalTimeout))
	}
	if p.Attempts > 1 {
		add("retry", Lost, "retries (%d attempts) are a route's retry_policy in Envoy, not written here; a route that retries %d times multiplies the application's: %d × %d attempts per call", p.Attempts, p.Attempts-1, p.Attempts, p.Attempts)
	}

	if err := c.ValidateAll(); err != nil {
		return nil, nil, fmt.Errorf("envoy cluster %s is invalid: %w", c.Name, err)
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(c)
	if err != nil {
		return nil, nil, err
	}
	return []Object{{Policy: p.Name, Kind: "Cluster", Name: c.Name, JSON: b}}, loss, nil
}
