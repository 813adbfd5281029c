package core

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/breakerbox/breakerbox/core/breaker"
)

// Tests of issue 23's dependencies between circuits, with real registries.

func depRegistry(t *testing.T, ps ...Policy) *Registry {
	t.Helper()
	r, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Apply(Document{Policies: ps}); err != nil {
		t.Fatal(err)
	}
	return r
}

func wantState(t *testing.T, r *Registry, name string, want breaker.State) {
	t.Helper()
	if got := r.MustGuard(name).Breaker().State(); got != want {
		t.Fatalf("%s: state %s, want %s", name, got, want)
	}
}

func TestDependentOpensWithItsDependencyAndFollowsItsRecovery(t *testing.T) {
	r := depRegistry(t, Policy{Name: "postgres"}, Policy{Name: "orders", DependsOn: []string{"postgres"}}, Policy{Name: "checkout", DependsOn: []string{"orders"}})
	pg, orders, checkout := r.MustGuard("postgres"), r.MustGuard("orders"), r.MustGuard("checkout")
	var reasons []string
	r.AddHooks(Hooks{OnStateChange: func(_ context.Context, e StateChange) {
		if e.Actor == DependencyActor {
			reasons = append(reasons, e.Guard+": "+e.Reason)
		}
	}})

	pg.OpenFor(60e9, breaker.Manual{Actor: "alice", Reason: "failover"})
	wantState(t, r, "orders", breaker.ForcedOpen)
	wantState(t, r, "checkout", breaker.ForcedOpen)
	if got := r.Causes("checkout"); !slices.Equal(got, []string{"orders", "postgres"}) {
		t.Fatalf("Causes(checkout) = %q, want [orders postgres]", got)
	}
	if got := r.Causes("postgres"); len(got) != 0 {
		t.Fatalf("Causes(postgres) = %q, want none", got)
	}
	if _, err := checkout.Allow(bg); err == nil {
		t.Fatal("checkout admitted a call while its dependency chain is open")
	}

	pg.Release(breaker.Manual{Actor: "alice"})
	wantState(t, r, "orders", breaker.Closed)
	wantState(t, r, "checkout", breaker.Closed)
	if got := r.Causes("checkout"); len(got) != 0 {
		t.Fatalf("Causes(checkout) after recovery = %q", got)
	}
	want := []string{"orders: dependency postgres open", "checkout: dependency orders open", "orders: dependency postgres recovered", "checkout: dependency orders recovered"}
	if !slices.Equal(reasons, want) {
		t.Fatalf("transitions:\n%s\nwant\n%s", strings.Join(reasons, "\n"), strings.Join(want, "\n"))
	}
	_ = orders
}

func TestDependentWithOwnRecoveryProbesOnItsOwn(t *testing.T) {
	r := depRegistry(t, Policy{Name: "postgres"}, Policy{Name: "orders", DependsOn: []string{"postgres"}, DependencyRecovery: RecoveryOwn})
	pg := r.MustGuard("postgres")
	r.MustGuard("orders")
	pg.ForceOpen(breaker.Manual{Actor: "alice"})
	wantState(t, r, "orders", breaker.Open)
	pg.Release(breaker.Manual{Actor: "alice"})
	// Its own rule: it stays open until its open duration ends.
	wantState(t, r, "orders", breaker.Open)
}

func TestOperatorChangeToADependentIsNotUndone(t *testing.T) {
	r := depRegistry(t, Policy{Name: "postgres"}, Policy{Name: "orders", DependsOn: []string{"postgres"}})
	pg, orders := r.MustGuard("postgres"), r.MustGuard("orders")
	pg.ForceOpen(breaker.Manual{Actor: "alice"})
	orders.Disable(breaker.Manual{Actor: "bob", Reason: "serve stale"})
	pg.Release(breaker.Manual{Actor: "alice"})
	wantState(t, r, "orders", breaker.Disabled)
	if got := r.Causes("orders"); len(got) != 0 {
		t.Fatalf("Causes(orders) = %q after an operator took it over", got)
	}
}

func TestDependentCreatedWhileItsDependencyIsOpenStartsOpen(t *testing.T) {
	r := depRegistry(t, Policy{Name: "postgres"}, Policy{Name: "orders", Match: []string{"orders.*"}, DependsOn: []string{"postgres"}})
	r.MustGuard("postgres").ForceOpen(breaker.Manual{Actor: "alice"})
	wantState(t, r, "orders.create", breaker.ForcedOpen)
	if got := r.Causes("orders.create"); !slices.Equal(got, []string{"postgres"}) {
		t.Fatalf("Causes = %q", got)
	}
}

func TestDependencyCycleRefusedWithTheCycleNamed(t *testing.T) {
	r, _ := NewRegistry()
	doc := Document{Policies: []Policy{
		{Name: "a", DependsOn: []string{"b"}},
		{Name: "b", DependsOn: []string{"c"}},
		{Name: "c", DependsOn: []string{"a"}},
	}}
	for _, op := range []func(Document) error{r.Check, func(d Document) error { _, err := r.Apply(d); return err }} {
		err := op(doc)
		var de *DocumentError
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "a -> b -> c -> a") || de.Problems[0].Path != "policies[0].dependsOn" {
			t.Fatalf("err = %v, want the cycle a -> b -> c -> a at policies[0].dependsOn", err)
		}
	}
	if v, _ := r.PolicyVersion(); v != 0 {
		t.Fatalf("a refused document was applied (version %d)", v)
	}
	// Through a Match pattern: postgres depends on a name orders.* matches.
	_, err := r.Apply(Document{Policies: []Policy{
		{Name: "orders", Match: []string{"orders.*"}, DependsOn: []string{"postgres"}},
		{Name: "postgres", DependsOn: []string{"orders.create"}},
	}})
	if err == nil || !strings.Contains(err.Error(), "postgres -> orders.create -> postgres") {
		t.Fatalf("err = %v, want the cycle through orders.create", err)
	}
	// SetPolicies refuses a self-dependency too.
	if err := r.SetPolicies(Policy{Name: "x", DependsOn: []string{"x"}}); err == nil || !strings.Contains(err.Error(), "x -> x") {
		t.Fatalf("SetPolicies: err = %v, want the cycle x -> x", err)
	}
}

func TestDependsOnUnknownGuardRefusedWithFieldAndValue(t *testing.T) {
	r, _ := NewRegistry()
	_, err := r.Apply(Document{Policies: []Policy{{Name: "orders", DependsOn: []string{"postgress"}}}})
	var de *DocumentError
	if !errors.As(err, &de) || de.Problems[0].Path != "policies[0].dependsOn[0]" || de.Problems[0].Value != `"postgress"` {
		t.Fatalf("err = %v (%+v), want policies[0].dependsOn[0] with value \"postgress\"", err, de)
	}
	_, err = r.Apply(Document{Policies: []Policy{{Name: "orders", DependencyRecovery: "later"}}})
	if err == nil || !strings.Contains(err.Error(), `dependencyRecovery`) || !strings.Contains(err.Error(), `"later"`) {
		t.Fatalf("err = %v, want dependencyRecovery \"later\" refused", err)
	}
	// An existing guard is a known name.
	r.MustGuard("postgres")
	if _, err := r.Apply(Document{Policies: []Policy{{Name: "orders", DependsOn: []string{"postgres"}}}}); err != nil {
		t.Fatal(err)
	}
}

func TestRegistryWithoutDependenciesInstallsNoHook(t *testing.T) {
	r := depRegistry(t, Policy{Name: "a"})
	if r.hooks != nil || r.deps.Load() != nil {
		t.Fatal("a registry without dependsOn has hooks")
	}
	mustApply(t, r, Policy{Name: "a"}, Policy{Name: "b", DependsOn: []string{"a"}})
	if r.hooks == nil {
		t.Fatal("no dependency hook after a document with dependsOn")
	}
	mustApply(t, r, Policy{Name: "a"})
	if r.hooks != nil {
		t.Fatal("the dependency hook stayed after the last dependsOn went")
	}
}

func TestDependenciesListsEdges(t *testing.T) {
	r := depRegistry(t, Policy{Name: "postgres"}, Policy{Name: "orders", DependsOn: []string{"postgres"}})
	r.MustGuard("orders")
	if got := r.Dependencies(); !slices.Equal(got, []Dependency{{Guard: "orders", On: "postgres"}}) {
		t.Fatalf("Dependencies() = %v", got)
	}
}

func TestApplyAddingDependsOnOpensADependentOfAnOpenDependency(t *testing.T) {
	r := depRegistry(t, Policy{Name: "postgres"}, Policy{Name: "orders"})
	r.MustGuard("orders")
	r.MustGuard("postgres").ForceOpen(breaker.Manual{Actor: "alice"})
	mustApply(t, r, Policy{Name: "postgres"}, Policy{Name: "orders", DependsOn: []string{"postgres"}})
	wantState(t, r, "orders", breaker.ForcedOpen)
}

// Dependencies that flip from many goroutines at once leave every dependent
// as its dependencies' final states say, whatever order the hooks ran in.
func TestDependentsSettleWhenDependenciesFlipConcurrently(t *testing.T) {
	r := depRegistry(t, Policy{Name: "a"}, Policy{Name: "b"}, Policy{Name: "x", DependsOn: []string{"a", "b"}}, Policy{Name: "y", DependsOn: []string{"x"}})
	a, b := r.MustGuard("a"), r.MustGuard("b")
	r.MustGuard("x")
	r.MustGuard("y")
	var wg sync.WaitGroup
	for i, g := range []*Guard{a, b, a, b} {
		wg.Go(func() {
			for j := range 200 {
				if (i+j)%2 == 0 {
					g.ForceOpen(breaker.Manual{Actor: "chaos"})
				} else {
					g.Release(breaker.Manual{Actor: "chaos"})
				}
			}
		})
	}
	wg.Wait()
	a.Release(breaker.Manual{Actor: "alice"})
	b.Release(breaker.Manual{Actor: "alice"})
	wantState(t, r, "x", breaker.Closed)
	wantState(t, r, "y", breaker.Closed)
	a.ForceOpen(breaker.Manual{Actor: "alice"})
	wantState(t, r, "y", breaker.ForcedOpen)
	if got := r.Causes("y"); !slices.Equal(got, []string{"x", "a"}) {
		t.Fatalf("Causes(y) = %q", got)
	}
}

func TestOwnRecoveryHalfOpensAfterTheOpenDurationAndDropsTheCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := depRegistry(t, Policy{Name: "postgres"}, Policy{Name: "orders", DependsOn: []string{"postgres"}, DependencyRecovery: RecoveryOwn, Breaker: &BreakerPolicy{OpenDuration: Duration(10 * time.Second)}})
		r.MustGuard("orders")
		r.MustGuard("postgres").ForceOpen(breaker.Manual{Actor: "alice"})
		wantState(t, r, "orders", breaker.Open)
		time.Sleep(11 * time.Second)
		synctest.Wait()
		if _, err := r.MustGuard("orders").Allow(bg); err != nil {
			t.Fatalf("orders did not probe after its open duration: %v", err)
		}
		if got := r.Causes("orders"); len(got) != 0 {
			t.Fatalf("Causes(orders) = %q once its own rule took over", got)
		}
	})
}

func TestDependsOnInATenantOverlayOrVariantRefused(t *testing.T) {
	r, _ := NewRegistry()
	_, err := r.Apply(Document{
		Policies: []Policy{{Name: "postgres"}, {Name: "orders"}},
		Tenants:  &TenantPolicy{Overrides: []TenantOverride{{Tenant: "acme", Policies: []Policy{{Name: "orders", DependsOn: []string{"postgres"}}}}}},
		Variants: []VariantPolicy{{Name: "v", Policy: "orders", Percent: 10, Override: Policy{DependsOn: []string{"postgres"}}}},
	})
	var de *DocumentError
	if !errors.As(err, &de) || len(de.Problems) != 2 || de.Problems[0].Path != "tenants.overrides[0].policies[0].dependsOn" || de.Problems[1].Path != "variants[0].override.dependsOn" {
		t.Fatalf("err = %v", err)
	}
}
