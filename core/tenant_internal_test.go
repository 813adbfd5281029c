package core

import (
	"context"
	"testing"
)

// A reload reconfiguring live guards asks segmentPolicyLocked for the policy
// of tenant and variant guards, which no policy name or pattern gives.
func TestSegmentPolicyFollowsTheLiveDocument(t *testing.T) {
	reg, _ := NewRegistry()
	doc := func(base int, overlay bool) Document {
		d := Document{
			Policies: []Policy{{Name: "payments", Match: []string{"payments.*"}, Breaker: &BreakerPolicy{ConsecutiveFailures: base, OpenDuration: Duration(60e9)}}},
			Variants: []VariantPolicy{{Name: "v", Policy: "payments", Attribute: "beta", Override: Policy{Breaker: &BreakerPolicy{OpenDuration: Duration(5e9)}}}},
		}
		if overlay {
			d.Tenants = &TenantPolicy{Overrides: []TenantOverride{{Tenant: "*", Policies: []Policy{{Name: "payments", Critical: true}}}}}
		}
		return d
	}
	if _, err := reg.Apply(doc(5, true)); err != nil {
		t.Fatal(err)
	}
	ctx := WithSegment(WithTenant(context.Background(), "acme"), "", "beta")
	g, err := reg.GuardFor(ctx, "payments.charge")
	if err != nil || g.Name() != "payments.charge{tenant=acme}{variant=v}" {
		t.Fatalf("GuardFor = %v, %v", g, err)
	}
	if _, err := reg.Apply(doc(9, true)); err != nil {
		t.Fatal(err)
	}
	base := reg.MustGuard("payments.charge")
	reg.mu.Lock()
	p, ok := reg.segmentPolicyLocked(g)
	_, plain := reg.segmentPolicyLocked(base)
	reg.mu.Unlock()
	if !ok || p.Name != "payments{tenant=acme}{variant=v}" || p.Breaker.ConsecutiveFailures != 9 || !p.Critical || p.Breaker.OpenDuration != Duration(5e9) {
		t.Fatalf("segmentPolicyLocked = %+v %+v, %v", p, p.Breaker, ok)
	}
	if plain {
		t.Fatal("a base guard was given a segment policy")
	}
	if _, err := reg.Apply(doc(9, false)); err != nil {
		t.Fatal(err)
	}
	reg.mu.Lock()
	_, ok = reg.segmentPolicyLocked(g)
	reg.mu.Unlock()
	if ok {
		t.Fatal("a tenant guard kept a policy after its overlay went")
	}
}
