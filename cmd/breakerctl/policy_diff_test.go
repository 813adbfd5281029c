package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

func TestDiffDocumentsByNameAndField(t *testing.T) {
	old := core.Document{
		Policies: []core.Policy{
			{Name: "payments", Match: []string{"payments.*"}, Breaker: &core.BreakerPolicy{FailureRate: 50, OpenDuration: core.Duration(30 * time.Second)}},
			{Name: "search", Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 8}},
			{Name: "legacy"},
		},
		Tenants: &core.TenantPolicy{MaxGuards: 100, Overrides: []core.TenantOverride{
			{Tenant: "acme", Policies: []core.Policy{{Name: "payments", RateLimit: &core.RateLimitPolicy{Limit: 10}}}},
		}},
	}
	cur := core.Document{
		Policies: []core.Policy{
			{Name: "payments", Match: []string{"payments.*", "billing.*"}, Breaker: &core.BreakerPolicy{FailureRate: 40, OpenDuration: core.Duration(30 * time.Second)},
				Retry: &core.RetryPolicy{MaxAttempts: 3}},
			{Name: "search", Bulkhead: &core.BulkheadPolicy{MaxConcurrent: 8}},
			{Name: "quotes", Extends: "preset:generic-http"},
		},
		Tenants: &core.TenantPolicy{MaxGuards: 200, Overrides: []core.TenantOverride{
			{Tenant: "acme", Policies: []core.Policy{{Name: "payments", RateLimit: &core.RateLimitPolicy{Limit: 20}}}},
		}},
	}
	d, err := diffDocuments(old, cur)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	d.write(&buf, false)
	want := `~ policy payments
    breaker.failureRate: 50 -> 40
    match: ["payments.*"] -> ["payments.*","billing.*"]
    retry.maxAttempts: (unset) -> 3
+ policy quotes
- policy legacy
~ tenant acme
    policies[payments].rateLimit.limit: 10 -> 20
~ document
    tenants.maxGuards: 100 -> 200
1 added, 1 removed, 3 changed, 1 unchanged
`
	if buf.String() != want {
		t.Fatalf("diff output:\n%s\nwant:\n%s", buf.String(), want)
	}

	same, err := diffDocuments(cur, cur)
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	same.write(&buf, false)
	if !same.empty() || buf.String() != "no differences (4 unchanged)\n" {
		t.Fatalf("diff of a document with itself: %q", buf.String())
	}
}

func TestShortHash(t *testing.T) {
	for in, want := range map[string]string{
		"sha256:0123456789abcdef0123": "sha256:0123456789ab",
		"abc":                         "abc",
		"":                            "",
	} {
		if got := shortHash(in); got != want {
			t.Errorf("shortHash(%q) = %q; want %q", in, got, want)
		}
	}
}
