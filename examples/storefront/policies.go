package main

import (
	"time"

	"github.com/breakerbox/breakerbox/core"
)

// policies returns the storefront's policies. The breakers of the
// dependencies stay open for open after a trip (doubling after each failed
// probe, up to four times that).
//
// In production each service would have a registry of its own; the demo
// runs them in one process, so one registry (and one admin API) holds the
// guards of all of them.
func policies(open time.Duration) []core.Policy {
	return []core.Policy{
		{
			// Inbound routes and methods (httpmw's middleware, grpcmw's
			// server interceptors): shed load with a bulkhead and a rate
			// limit; the breaker measures but never rejects, since a
			// server should not refuse work because its own answers fail.
			Name:      "inbound",
			Tags:      []string{"inbound"},
			Breaker:   &core.BreakerPolicy{Mode: "metrics-only"},
			Bulkhead:  &core.BulkheadPolicy{MaxConcurrent: 64, MaxQueue: 128, MaxWait: core.Duration(250 * time.Millisecond)},
			RateLimit: &core.RateLimitPolicy{Limit: 500, Burst: 200},
		},
		{
			// What every outbound dependency has: a breaker that opens
			// when half of the last 20 calls failed, and a bulkhead.
			Name: "dependency",
			Tags: []string{"outbound"},
			Breaker: &core.BreakerPolicy{
				WindowSize:       20,
				MinCalls:         10,
				FailureRate:      50,
				OpenDuration:     core.Duration(open),
				MaxOpenDuration:  core.Duration(4 * open),
				HalfOpenProbes:   2,
				SuccessThreshold: 2,
			},
			Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 32},
		},
		{
			// The payment provider (httpmw's Transport in the HTTP API).
			// Critical: readiness fails while it is open.
			Name:     "payments",
			Extends:  "dependency",
			Tags:     []string{"outbound", "payments"},
			Critical: true,
		},
		{
			// The gRPC inventory service (the gateway's @breaker field
			// Product.stock).
			Name:    "inventory",
			Extends: "dependency",
			Tags:    []string{"outbound", "graphql", "inventory"},
		},
		{
			// The recommendations service (Product.recommendations): a
			// slow answer counts against it too.
			Name:    "recommendations",
			Extends: "dependency",
			Tags:    []string{"outbound", "graphql", "recommendations"},
			Breaker: &core.BreakerPolicy{
				SlowCallDuration: core.Duration(200 * time.Millisecond),
				SlowCallRate:     50,
			},
		},
		{
			// The gateway's calls to the storefront HTTP API.
			Name:    "storefront-api",
			Extends: "dependency",
			Match:   []string{"catalog", "checkout"},
			Tags:    []string{"outbound", "graphql", "api"},
		},
	}
}

// dependencyGuards are created at start, so that they show on the
// dashboard before their first call.
var dependencyGuards = []string{"payments", "inventory", "recommendations", "catalog", "checkout"}
