package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"

	"github.com/breakerbox/breakerbox/admin/wire"
	"github.com/breakerbox/breakerbox/core"
)

func TestVariantsComparesVariantAndControl(t *testing.T) {
	reg := testRegistry(t)
	_, err := reg.Apply(core.Document{
		Policies: []core.Policy{{Name: "payments", Match: []string{"payments.*"}, Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5, DisableFailureRate: true}}},
		Tenants: &core.TenantPolicy{MaxGuards: 2, Overrides: []core.TenantOverride{{
			Tenant: "*", Policies: []core.Policy{{Name: "payments", Tags: []string{"tenant"}}},
		}}},
		Variants: []core.VariantPolicy{
			{Name: "beta", Policy: "payments", Attribute: "beta", Override: core.Policy{Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1}}},
			{Name: "strict", Policy: "payments", Percent: 100, Shadow: true, Override: core.Policy{Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1}}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAPIFor(t, reg)
	boom := errors.New("boom")
	call := func(ctx context.Context, err error) {
		g, gerr := reg.GuardFor(ctx, "payments.capture")
		if gerr != nil {
			t.Fatal(gerr)
		}
		_ = g.Do(ctx, func(context.Context) error { return err })
	}
	beta := core.WithSegment(context.Background(), "", "beta")
	call(beta, boom) // trips the variant guard
	call(beta, nil)  // rejected by it
	user := core.WithSegment(context.Background(), "user-1")
	call(user, boom) // trips the shadow breaker, not the control
	call(user, nil)  // a would-be rejection
	for i := range 4 {
		call(core.WithTenant(context.Background(), "t"+strconv.Itoa(i)), nil)
	}

	a.do(http.MethodGet, "/v1/variants", "", nil).problem(t, 401, codeUnauthorized)
	var rep wire.VariantReport
	a.do(http.MethodGet, "/v1/variants", readSecret, nil).ok(t, &rep)
	if len(rep.Variants) != 2 {
		t.Fatalf("variants %+v", rep.Variants)
	}
	b, s := rep.Variants[0], rep.Variants[1]
	if b.Name != "beta" || b.Attribute != "beta" || b.Shadow || b.Variant.Trips != 1 || b.Variant.Rejections != 1 || b.Variant.Failed != 1 || b.Control.Guards != 1 || b.Control.Trips != 0 {
		t.Fatalf("beta %+v", b)
	}
	// The shadow sees every call but beta's (in an enforced variant): user-1's
	// two and the four tenants' (the tenant stands in for the segment key),
	// two of which overflowed to the guard whose shadow breaker is open.
	if s.Name != "strict" || !s.Shadow || s.Percent != 100 || s.Variant.Guards != 3 || s.Variant.Trips != 1 || s.Variant.Rejections != 3 ||
		s.Control.Rejections != 0 || s.Control.Calls != 6 || s.Control.Failed != 1 || s.Control.Trips != 0 {
		t.Fatalf("strict %+v", s)
	}
	if rep.Tenants.MaxGuards != 2 || rep.Tenants.Guards != 2 || rep.Tenants.Overflow != 2 {
		t.Fatalf("tenants %+v", rep.Tenants)
	}
}
