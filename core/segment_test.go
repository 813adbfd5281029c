package core_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/breakerbox/breakerbox/core"
)

var errBoom = errors.New("boom")

// segmentDoc is a document with one policy, "payments", for the guards
// "payments.*", whose breaker trips after five failures in a row.
func segmentDoc() core.Document {
	return core.Document{Policies: []core.Policy{{
		Name: "payments", Match: []string{"payments.*"},
		Breaker: &core.BreakerPolicy{ConsecutiveFailures: 5, DisableFailureRate: true},
	}}}
}

func overlayFailures(n int) []core.Policy {
	return []core.Policy{{Name: "payments", Breaker: &core.BreakerPolicy{ConsecutiveFailures: n}}}
}

func mustApply(t testing.TB, reg *core.Registry, doc core.Document) {
	t.Helper()
	if _, err := reg.Apply(doc); err != nil {
		t.Fatal(err)
	}
}

func mustGuardFor(t testing.TB, reg *core.Registry, ctx context.Context, name string) *core.Guard {
	t.Helper()
	g, err := reg.GuardFor(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestGuardForWithoutSegmentsIsGuard(t *testing.T) {
	reg, _ := core.NewRegistry()
	ctx := core.WithTenant(context.Background(), "acme")
	for _, doc := range []*core.Document{nil, ptr(segmentDoc())} {
		if doc != nil {
			mustApply(t, reg, *doc)
		}
		base := reg.MustGuard("payments.charge")
		if g := mustGuardFor(t, reg, ctx, "payments.charge"); g != base {
			t.Fatalf("GuardFor = %s, want the base guard %s", g.Name(), base.Name())
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = reg.GuardFor(ctx, "payments.charge") }); n != 0 {
			t.Fatalf("GuardFor without segments allocates %.0f times", n)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestTenantGuardFromContext(t *testing.T) {
	reg, _ := core.NewRegistry()
	doc := segmentDoc()
	doc.Tenants = &core.TenantPolicy{Overrides: []core.TenantOverride{{Tenant: "acme/eu", Policies: overlayFailures(2)}}}
	mustApply(t, reg, doc)
	base := reg.MustGuard("payments.charge")

	acme := mustGuardFor(t, reg, core.WithTenant(context.Background(), "acme/eu"), "payments.charge")
	if want := "payments.charge{tenant=acme/eu}"; acme.Name() != want {
		t.Fatalf("tenant guard %q, want %q", acme.Name(), want)
	}
	if p := acme.Policy(); p.Breaker.ConsecutiveFailures != 2 || !p.Breaker.DisableFailureRate || p.Name != "payments{tenant=acme/eu}" {
		t.Fatalf("tenant policy = %+v %+v, want the overlay on payments", p, p.Breaker)
	}
	if again := mustGuardFor(t, reg, core.WithTenant(context.Background(), "acme/eu"), "payments.charge"); again != acme {
		t.Fatal("a second call for the tenant got another guard")
	}
	if other := mustGuardFor(t, reg, core.WithTenant(context.Background(), "globex"), "payments.charge"); other != base {
		t.Fatalf("a tenant without an overlay got %s", other.Name())
	}
	if g := mustGuardFor(t, reg, context.Background(), "payments.charge"); g != base {
		t.Fatalf("a call without a tenant got %s", g.Name())
	}
	// The tenant's breaker trips on its own: the base guard stays closed.
	for range 2 {
		_ = acme.Do(context.Background(), func(context.Context) error { return errBoom })
	}
	if acme.Breaker().State().String() != "open" || base.Breaker().State().String() != "closed" {
		t.Fatalf("tenant %s, base %s", acme.Breaker().State(), base.Breaker().State())
	}

	// "*" gives every other tenant a guard of its own.
	doc.Tenants.Overrides = append(doc.Tenants.Overrides, core.TenantOverride{Tenant: "*", Policies: overlayFailures(3)})
	mustApply(t, reg, doc)
	globex := mustGuardFor(t, reg, core.WithTenant(context.Background(), "globex"), "payments.charge")
	if globex.Name() != "payments.charge{tenant=globex}" || globex.Policy().Breaker.ConsecutiveFailures != 3 {
		t.Fatalf("wildcard tenant guard %s %+v", globex.Name(), globex.Policy().Breaker)
	}
	if mustGuardFor(t, reg, core.WithTenant(context.Background(), "acme/eu"), "payments.charge") != acme {
		t.Fatal("an Apply that left acme's overlay as it was replaced its guard")
	}
}

func TestApplyReplacesTenantGuardWhoseOverlayChanged(t *testing.T) {
	reg, _ := core.NewRegistry()
	doc := segmentDoc()
	doc.Tenants = &core.TenantPolicy{Overrides: []core.TenantOverride{{Tenant: "acme", Policies: overlayFailures(2)}}}
	mustApply(t, reg, doc)
	ctx := core.WithTenant(context.Background(), "acme")
	old := mustGuardFor(t, reg, ctx, "payments.charge")
	doc.Tenants.Overrides[0].Policies = overlayFailures(7)
	mustApply(t, reg, doc)
	g := mustGuardFor(t, reg, ctx, "payments.charge")
	if g == old || g.Policy().Breaker.ConsecutiveFailures != 7 || !old.Pruned() {
		t.Fatalf("after the overlay changed: same guard %v, policy %+v, old pruned %v", g == old, g.Policy().Breaker, old.Pruned())
	}
	if st := reg.TenantStats(); st.Guards != 1 {
		t.Fatalf("TenantStats = %+v, want one guard", st)
	}
	// Without the overlay the tenant gets the base guard again.
	doc.Tenants = nil
	mustApply(t, reg, doc)
	if g := mustGuardFor(t, reg, ctx, "payments.charge"); g != reg.MustGuard("payments.charge") {
		t.Fatalf("without overlays the tenant got %s", g.Name())
	}
}

func TestGuardNamesRoundTrip(t *testing.T) {
	bases := []string{"payments.charge", "GET /quote/{sku}", "/pkg.Svc/Method", "a{tenant=b}", "x}", "{", ""}
	values := []string{"acme", "acme/eu", "a{b}c", "100%", "%7B", "}{", " "}
	for _, base := range bases {
		for _, tenant := range values {
			for _, v := range append([]string{""}, values...) {
				name := core.TenantGuardName(base, tenant)
				if v != "" {
					name = core.VariantGuardName(name, v)
				}
				g, gt, gv := core.ParseGuardName(name)
				if g != base || gt != tenant || gv != v {
					t.Errorf("ParseGuardName(%q) = %q %q %q, want %q %q %q", name, g, gt, gv, base, tenant, v)
				}
			}
		}
	}
	if g, tn, v := core.ParseGuardName("GET /quote/{sku}"); g != "GET /quote/{sku}" || tn != "" || v != "" {
		t.Errorf("a plain name parsed as %q %q %q", g, tn, v)
	}
}

func TestTenantGuardsBoundedWith5000Tenants(t *testing.T) {
	reg, _ := core.NewRegistry()
	doc := segmentDoc()
	doc.Tenants = &core.TenantPolicy{MaxGuards: 100, Overrides: []core.TenantOverride{{Tenant: "*", Policies: overlayFailures(2)}}}
	mustApply(t, reg, doc)
	base := reg.MustGuard("payments.charge")
	const tenants, workers = 5000, 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	own := 0
	for w := range workers {
		wg.Go(func() {
			n := 0
			for i := w; i < tenants; i += workers {
				ctx := core.WithTenant(context.Background(), "tenant-"+strconv.Itoa(i))
				g, err := reg.GuardFor(ctx, "payments.charge")
				if err != nil {
					t.Error(err)
					return
				}
				if g != base {
					n++
				}
				_ = g.Do(ctx, func(context.Context) error { return nil })
			}
			mu.Lock()
			own += n
			mu.Unlock()
		})
	}
	wg.Wait()
	st := reg.TenantStats()
	tenantGuards := 0
	for _, s := range reg.Snapshot() {
		if _, tn, _ := core.ParseGuardName(s.Name); tn != "" {
			tenantGuards++
		}
	}
	if own != 100 || st.Guards != 100 || tenantGuards != 100 || st.MaxGuards != 100 {
		t.Fatalf("calls on tenant guards %d, TenantStats %+v, tenant guards in the snapshot %d: want 100 each", own, st, tenantGuards)
	}
	if st.Overflow != tenants-100 {
		t.Fatalf("Overflow = %d, want %d", st.Overflow, tenants-100)
	}
}

func TestPruneFreesTenantGuardPlaces(t *testing.T) {
	reg, _ := core.NewRegistry()
	doc := segmentDoc()
	doc.Tenants = &core.TenantPolicy{MaxGuards: 3, Overrides: []core.TenantOverride{{Tenant: "*", Policies: overlayFailures(2)}}}
	mustApply(t, reg, doc)
	base := reg.MustGuard("payments.charge")
	call := func(tenant string) *core.Guard {
		ctx := core.WithTenant(context.Background(), tenant)
		g := mustGuardFor(t, reg, ctx, "payments.charge")
		_ = g.Do(ctx, func(context.Context) error { return nil })
		return g
	}
	for i := range 3 {
		if call("t"+strconv.Itoa(i)) == base {
			t.Fatalf("tenant %d got the base guard under the bound", i)
		}
	}
	if call("late") != base || reg.TenantStats().Overflow != 1 {
		t.Fatalf("past the bound: %+v", reg.TenantStats())
	}
	now := time.Now().Add(time.Hour)
	reg.PruneAt(now, time.Minute)
	pruned := reg.PruneAt(now.Add(2*time.Minute), time.Minute)
	if len(pruned) != 4 { // the base guard and the three tenant guards
		t.Fatalf("pruned %v", pruned)
	}
	g := call("late")
	if g == base || g.Name() != "payments.charge{tenant=late}" {
		t.Fatalf("after the prune the new tenant got %s", g.Name())
	}
	if st := reg.TenantStats(); st.Guards != 1 || st.Overflow != 1 {
		t.Fatalf("TenantStats after the prune = %+v", st)
	}
}

func variantDoc(v core.VariantPolicy) core.Document {
	doc := segmentDoc()
	v.Policy = "payments"
	doc.Variants = []core.VariantPolicy{v}
	return doc
}

func TestVariantAssignmentIsStable(t *testing.T) {
	reg, _ := core.NewRegistry()
	mustApply(t, reg, variantDoc(core.VariantPolicy{Name: "fast-open", Percent: 30, Override: core.Policy{Breaker: &core.BreakerPolicy{ConsecutiveFailures: 2}}}))
	base := reg.MustGuard("payments.charge")
	const keys = 10_000
	arm := make([]bool, keys)
	in := 0
	for i := range keys {
		ctx := core.WithSegment(context.Background(), "user-"+strconv.Itoa(i))
		g := mustGuardFor(t, reg, ctx, "payments.charge")
		arm[i] = g != base
		if arm[i] {
			in++
			if g.Name() != "payments.charge{variant=fast-open}" || g.Policy().Breaker.ConsecutiveFailures != 2 {
				t.Fatalf("variant guard %s %+v", g.Name(), g.Policy().Breaker)
			}
		}
	}
	if share := float64(in) / keys * 100; math.Abs(share-30) > 2 {
		t.Fatalf("variant share %.2f%%, want 30±2%%", share)
	}
	// Same key, same arm, on every call and after a re-apply; the tenant
	// stands in for a missing segment key.
	mustApply(t, reg, variantDoc(core.VariantPolicy{Name: "fast-open", Percent: 30, Override: core.Policy{Breaker: &core.BreakerPolicy{ConsecutiveFailures: 2}}}))
	for i := range 500 {
		key := "user-" + strconv.Itoa(i)
		for _, ctx := range []context.Context{core.WithSegment(context.Background(), key), core.WithTenant(context.Background(), key)} {
			if got := mustGuardFor(t, reg, ctx, "payments.charge") != base; got != arm[i] {
				t.Fatalf("key %s moved arm", key)
			}
		}
	}
	// A larger share keeps the keys the smaller one had.
	mustApply(t, reg, variantDoc(core.VariantPolicy{Name: "fast-open", Percent: 60, Override: core.Policy{Breaker: &core.BreakerPolicy{ConsecutiveFailures: 2}}}))
	for i := range 500 {
		if arm[i] && mustGuardFor(t, reg, core.WithSegment(context.Background(), "user-"+strconv.Itoa(i)), "payments.charge") == base {
			t.Fatalf("key %d left the variant when its share grew", i)
		}
	}
	if g := mustGuardFor(t, reg, context.Background(), "payments.charge"); g != base {
		t.Fatal("a call without a segment key was placed in the variant")
	}
}

func TestVariantByAttributeAndItsStats(t *testing.T) {
	reg, _ := core.NewRegistry()
	mustApply(t, reg, variantDoc(core.VariantPolicy{Name: "beta", Attribute: "beta", Override: core.Policy{Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1}}}))
	beta := core.WithSegment(context.Background(), "", "beta")
	g := mustGuardFor(t, reg, beta, "payments.charge")
	if g.Name() != "payments.charge{variant=beta}" {
		t.Fatalf("attribute call got %s", g.Name())
	}
	if mustGuardFor(t, reg, core.WithSegment(context.Background(), "k", "alpha"), "payments.charge") == g {
		t.Fatal("a call without the attribute got the variant")
	}
	_ = g.Do(beta, func(context.Context) error { return errBoom })
	_ = g.Do(beta, func(context.Context) error { return nil }) // rejected: open
	base := reg.MustGuard("payments.charge")
	_ = base.Do(context.Background(), func(context.Context) error { return nil })
	vs := reg.Variants()
	if len(vs) != 1 {
		t.Fatalf("Variants = %+v", vs)
	}
	v := vs[0]
	if v.Name != "beta" || v.Shadow || v.Variant.Guards != 1 || v.Variant.Calls != 2 || v.Variant.Failed != 1 || v.Variant.Rejections != 1 || v.Variant.Trips != 1 || v.Variant.FailureRate != 100 {
		t.Fatalf("variant arm %+v", v.Variant)
	}
	if v.Control.Guards != 1 || v.Control.Calls != 1 || v.Control.Failed != 0 || v.Control.Trips != 0 {
		t.Fatalf("control arm %+v", v.Control)
	}
}

func TestShadowVariantNeverRejects(t *testing.T) {
	reg, _ := core.NewRegistry()
	mustApply(t, reg, variantDoc(core.VariantPolicy{Name: "strict", Percent: 100, Shadow: true, Override: core.Policy{Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1, OpenDuration: core.Duration(time.Hour)}}}))
	ctx := core.WithSegment(context.Background(), "user-1")
	base := reg.MustGuard("payments.charge")
	g := mustGuardFor(t, reg, ctx, "payments.charge")
	if g != base {
		t.Fatalf("a shadow variant changed the guard to %s", g.Name())
	}
	// One failure trips the shadow breaker; the control (five in a row)
	// admits every call.
	_ = g.Do(ctx, func(context.Context) error { return errBoom })
	for i := range 3 {
		err := g.Do(ctx, func(context.Context) error { return nil })
		if err != nil {
			t.Fatalf("call %d through the shadowed guard: %v", i, err)
		}
	}
	_ = g.Do(context.Background(), func(context.Context) error { return nil }) // outside the segment
	v := reg.Variants()[0]
	if !v.Shadow || v.Variant.Trips != 1 || v.Variant.Rejections != 3 || v.Variant.Calls != 4 || v.Variant.Failed != 1 {
		t.Fatalf("shadow arm %+v", v.Variant)
	}
	if v.Control.Calls != 4 || v.Control.Rejections != 0 || v.Control.Failed != 1 || v.Control.Succeeded != 3 || v.Control.Trips != 0 {
		t.Fatalf("control arm %+v", v.Control)
	}
	if s := base.Snapshot(); s.Rejected.Total() != 0 {
		t.Fatalf("the control guard rejected %d calls", s.Rejected.Total())
	}
	// Taking the shadow variant away takes its hooks away.
	mustApply(t, reg, segmentDoc())
	if vs := reg.Variants(); vs != nil {
		t.Fatalf("Variants after the variant went = %+v", vs)
	}
}

func TestSegmentsBadInputRefusedWithPaths(t *testing.T) {
	reg, _ := core.NewRegistry()
	doc := segmentDoc()
	doc.Policies = append(doc.Policies, core.Policy{Name: "payments{tenant=x}"})
	doc.Tenants = &core.TenantPolicy{MaxGuards: -1, Overrides: []core.TenantOverride{
		{Tenant: "acme", Policies: []core.Policy{{Name: "payments", Extends: "other", Match: []string{"x"}}}},
		{Tenant: "acme", Policies: []core.Policy{{Name: "nope"}, {Name: "payments", Breaker: &core.BreakerPolicy{FailureRate: 200}}}},
		{Tenant: "", Policies: []core.Policy{{Name: "payments", Fallbacks: []core.FallbackRef{{Name: "cache"}}}}},
	}}
	doc.Variants = []core.VariantPolicy{
		{Name: "v", Policy: "payments", Percent: 150, Override: core.Policy{Name: "x"}},
		{Name: "v", Policy: "missing", Attribute: "a"},
		{Name: "w", Policy: "payments"},
	}
	_, err := reg.Apply(doc)
	var de *core.DocumentError
	if !errors.As(err, &de) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{
		"policies[1].name: names ending in {tenant=...} or {variant=...} are reserved",
		"tenants.maxGuards: must be between 0 and 1000000 (0 means the default, 1000) (value -1)",
		"tenants.overrides[0].policies[0].extends",
		"tenants.overrides[0].policies[0].match",
		"tenants.overrides[1].tenant: duplicate tenant \"acme\"",
		"tenants.overrides[1].policies[0].name: no policy \"nope\"",
		"tenants.overrides[1].policies[1].breaker.failureRate: 200",
		"tenants.overrides[2].tenant: must not be empty",
		"tenants.overrides[2].policies[0].fallbacks[0].name: no fallback registered as \"cache\"",
		"variants[0].percent: must be within 0-100 (value 150)",
		"variants[0].override.name",
		"variants[1].name: duplicate variant name",
		"variants[1].policy: no policy \"missing\"",
		"variants[2]: needs percent or attribute",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if len(de.Problems) != 14 {
		t.Errorf("%d problems, want 14:\n%v", len(de.Problems), err)
	}
	if v, _ := reg.PolicyVersion(); v != 0 {
		t.Fatal("a refused document was applied")
	}
}

func TestTenantContextHelpers(t *testing.T) {
	ctx := context.Background()
	if _, ok := core.TenantFrom(ctx); ok {
		t.Fatal("a bare context has a tenant")
	}
	ctx = core.WithSegment(ctx, "user-1", "beta")
	ctx = core.WithTenant(ctx, "acme")
	ctx = core.WithSegment(ctx, "", "eu")
	if tn, ok := core.TenantFrom(ctx); !ok || tn != "acme" {
		t.Fatalf("TenantFrom = %q %v", tn, ok)
	}
	if k, attrs := core.SegmentFrom(ctx); k != "user-1" || fmt.Sprint(attrs) != "[beta eu]" {
		t.Fatalf("SegmentFrom = %q %v", k, attrs)
	}
	if k, _ := core.SegmentFrom(core.WithTenant(context.Background(), "acme")); k != "acme" {
		t.Fatalf("the tenant does not stand in for the segment key: %q", k)
	}
}

func BenchmarkGuardFor(b *testing.B) {
	reg, _ := core.NewRegistry()
	mustApply(b, reg, segmentDoc())
	reg.MustGuard("payments.charge")
	ctx := core.WithTenant(context.Background(), "acme")
	b.Run("Lookup", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = reg.Lookup("payments.charge")
		}
	})
	b.Run("NoSegments", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = reg.GuardFor(ctx, "payments.charge")
		}
	})
	doc := segmentDoc()
	doc.Tenants = &core.TenantPolicy{Overrides: []core.TenantOverride{{Tenant: "acme", Policies: overlayFailures(2)}}}
	mustApply(b, reg, doc)
	b.Run("Tenant", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = reg.GuardFor(ctx, "payments.charge")
		}
	})
	b.Run("TenantParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				_, _ = reg.GuardFor(ctx, "payments.charge")
			}
		})
	})
}

func ExampleRegistry_GuardFor() {
	reg, _ := core.NewRegistry()
	_, err := reg.Apply(core.Document{
		Policies: []core.Policy{{Name: "payments", Match: []string{"payments.*"}}},
		Tenants: &core.TenantPolicy{Overrides: []core.TenantOverride{{
			Tenant:   "acme",
			Policies: []core.Policy{{Name: "payments", Breaker: &core.BreakerPolicy{ConsecutiveFailures: 3}}},
		}}},
		Variants: []core.VariantPolicy{{
			Name: "fast-open", Policy: "payments", Attribute: "beta",
			Override: core.Policy{Breaker: &core.BreakerPolicy{OpenDuration: core.Duration(5 * time.Second)}},
		}},
	})
	if err != nil {
		panic(err)
	}
	for _, ctx := range []context.Context{
		context.Background(),
		core.WithTenant(context.Background(), "acme"),
		core.WithSegment(core.WithTenant(context.Background(), "acme"), "", "beta"),
	} {
		g, _ := reg.GuardFor(ctx, "payments.charge")
		fmt.Println(g.Name())
	}
	// Output:
	// payments.charge
	// payments.charge{tenant=acme}
	// payments.charge{tenant=acme}{variant=fast-open}
}

func TestShadowBooksDoNotGrowWithTenantChurn(t *testing.T) {
	reg, _ := core.NewRegistry()
	doc := variantDoc(core.VariantPolicy{Name: "strict", Percent: 100, Shadow: true, Override: core.Policy{Breaker: &core.BreakerPolicy{ConsecutiveFailures: 1}}})
	doc.Tenants = &core.TenantPolicy{MaxGuards: 2, Overrides: []core.TenantOverride{{Tenant: "*", Policies: overlayFailures(2)}}}
	mustApply(t, reg, doc)
	now := time.Now().Add(time.Hour)
	for round := range 10 {
		for i := range 2 {
			ctx := core.WithTenant(context.Background(), fmt.Sprintf("r%d-t%d", round, i))
			g := mustGuardFor(t, reg, ctx, "payments.charge")
			if _, tn, _ := core.ParseGuardName(g.Name()); tn == "" {
				t.Fatalf("round %d: tenant %d got %s: pruned places were not reused", round, i, g.Name())
			}
			_ = g.Do(ctx, func(context.Context) error { return nil })
		}
		reg.PruneAt(now, time.Minute)
		now = now.Add(2 * time.Minute)
		reg.PruneAt(now, time.Minute)
	}
	v := reg.Variants()[0]
	if v.Variant.Guards > 2 || v.Control.Guards > 2 {
		t.Fatalf("after 20 tenants came and went the shadow keeps %d breakers for %d controls", v.Variant.Guards, v.Control.Guards)
	}
}
